/**
 * Prometheus metrics of the failover controller and front door (prom-client). Every series
 * about a target carries its `cloud` (the provider, or what a local target emulates), as the
 * series of `mcml serve` do, so one query can group by cloud.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface FailoverMetrics {
  registry: Registry;
  targetUp: Gauge<'target' | 'cloud'>;
  activeTarget: Gauge<'target' | 'cloud'>;
  /** `cloud` is the cloud traffic moved to ("none" when every target is down). */
  failovers: Counter<'from' | 'to' | 'reason' | 'cloud'>;
  checkLatency: Histogram<'target' | 'cloud'>;
  checks: Counter<'target' | 'cloud' | 'result'>;
  proxyRequests: Counter<'target' | 'cloud' | 'code'>;
  proxyLatency: Histogram<'target' | 'cloud'>;
  proxyRetries: Counter<'target' | 'cloud' | 'reason'>;
  dnsWrites: Counter<'result'>;
  dnsUp: Gauge;
}

/** A fresh registry with every failover metric (one per controller, so tests do not clash). */
export function createFailoverMetrics(): FailoverMetrics {
  const registry = new Registry();
  const registers = [registry];
  // In this order: a registry exposes its metrics in the order they were registered.
  return {
    registry,
    ...targetMetrics(registers),
    ...proxyMetrics(registers),
    ...dnsMetrics(registers),
  };
}

/** Target health and routing: up, active, failovers, active checks. */
function targetMetrics(
  registers: Registry[],
): Pick<FailoverMetrics, 'targetUp' | 'activeTarget' | 'failovers' | 'checkLatency' | 'checks'> {
  return {
    targetUp: new Gauge({
      name: 'mcml_target_up',
      help: '1 when the target can take traffic (healthy or suspect), else 0.',
      labelNames: ['target', 'cloud'],
      registers,
    }),
    activeTarget: new Gauge({
      name: 'mcml_active_target',
      help: '1 for the target DNS and ordered routing point at, else 0.',
      labelNames: ['target', 'cloud'],
      registers,
    }),
    failovers: new Counter({
      name: 'mcml_failovers_total',
      help: 'Switches of the active target.',
      labelNames: ['from', 'to', 'reason', 'cloud'],
      registers,
    }),
    checkLatency: new Histogram({
      name: 'mcml_health_check_duration_seconds',
      help: 'Active health check latency.',
      labelNames: ['target', 'cloud'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    checks: new Counter({
      name: 'mcml_health_checks_total',
      help: 'Active health checks by result.',
      labelNames: ['target', 'cloud', 'result'],
      registers,
    }),
  };
}

/** What the front door answered, how long it took, and what it retried. */
function proxyMetrics(
  registers: Registry[],
): Pick<FailoverMetrics, 'proxyRequests' | 'proxyLatency' | 'proxyRetries'> {
  return {
    proxyRequests: new Counter({
      name: 'mcml_proxy_requests_total',
      help: 'Requests answered by the front door, by target and status code.',
      labelNames: ['target', 'cloud', 'code'],
      registers,
    }),
    proxyLatency: new Histogram({
      name: 'mcml_proxy_request_duration_seconds',
      help: 'Front door request latency, to the response headers, retries included.',
      labelNames: ['target', 'cloud'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    proxyRetries: new Counter({
      name: 'mcml_proxy_retries_total',
      help: 'Requests sent on to the next target, by the target that failed or was slow (reason: error, slow, down, or its status).',
      labelNames: ['target', 'cloud', 'reason'],
      registers,
    }),
  };
}

/** DNS failover's writes and whether its API answers. */
function dnsMetrics(registers: Registry[]): Pick<FailoverMetrics, 'dnsWrites' | 'dnsUp'> {
  return {
    dnsWrites: new Counter({
      name: 'mcml_dns_writes_total',
      help: 'DNS record writes by result (ok, error).',
      labelNames: ['result'],
      registers,
    }),
    dnsUp: new Gauge({
      name: 'mcml_dns_up',
      help: '1 when the last DNS API call succeeded, 0 while it fails (retrying with backoff).',
      registers,
    }),
  };
}
