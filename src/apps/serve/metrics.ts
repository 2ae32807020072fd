/**
 * Prometheus metrics of the inference server (prom-client), each series labelled with the
 * deployment's `cloud`, `region` and `target` so one Prometheus can tell clouds apart.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { memo } from '../../core/memo.js';

export interface DeploymentLabels {
  cloud: string;
  region: string;
  target: string;
}

/** Labels from CLOUD_PROVIDER, REGION and TARGET ("unknown" when unset). */
export function labelsFromEnv(env: Record<string, string | undefined>): DeploymentLabels {
  const pick = (v: string | undefined) =>
    v === undefined || v.trim() === '' ? 'unknown' : v.trim();
  return {
    cloud: pick(env.CLOUD_PROVIDER).toLowerCase(),
    region: pick(env.REGION),
    target: pick(env.TARGET),
  };
}

/** The server's metrics in their own registry (no global state, several servers per process). */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly requestDuration: Histogram<'route' | 'method'>;
  readonly batchSize: Histogram<'model'>;
  readonly inferenceDuration: Histogram<'model'>;
  readonly queueDepth: Gauge<'model'>;
  readonly modelLoadSeconds: Gauge<'model'>;
  readonly modelReady: Gauge<'model'>;
  /** 1 for each model's device (cpu, cuda), with the --device asked for. */
  readonly device: Gauge<'model' | 'device' | 'requested'>;
  readonly ready: Gauge;
  /** Label children by route, method (and status), looked up once: the per-request path. */
  readonly #requestChildren = new Map<string, { inc(): void }>();
  readonly #durationChildren = new Map<string, { observe(value: number): void }>();

  constructor(labels: DeploymentLabels, options: { processMetrics?: boolean } = {}) {
    this.registry.setDefaultLabels({ ...labels });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'mcml_http_requests_total',
      help: 'HTTP requests by route template, method and status code',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'mcml_http_request_duration_seconds',
      help: 'HTTP request latency from first byte read to response end',
      labelNames: ['route', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'mcml_inference_batch_size',
      help: 'Rows per onnxruntime session call (after dynamic batching)',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.inferenceDuration = new Histogram({
      name: 'mcml_inference_duration_seconds',
      help: 'Time of one onnxruntime session call (one batch)',
      labelNames: ['model'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'mcml_inference_queue_depth',
      help: 'Requests waiting for a batch',
      labelNames: ['model'],
      registers,
    });
    this.modelLoadSeconds = new Gauge({
      name: 'mcml_model_load_seconds',
      help: 'Time to fetch, verify, load and warm up the model',
      labelNames: ['model'],
      registers,
    });
    this.modelReady = new Gauge({
      name: 'mcml_model_ready',
      help: '1 when the model is loaded and warmed up',
      labelNames: ['model'],
      registers,
    });
    this.device = new Gauge({
      name: 'mcml_inference_device_info',
      help: 'Where each model runs: 1 for its execution device (cpu, cuda), with the --device requested',
      labelNames: ['model', 'device', 'requested'],
      registers,
    });
    this.ready = new Gauge({
      name: 'mcml_server_ready',
      help: '1 when the server is ready for traffic (all models warm, not draining)',
      registers,
    });
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'mcml_' });
    }
  }

  /** Counts one finished HTTP request and its latency. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method}`;
    memo(this.#requestChildren, `${key} ${status}`, () =>
      this.requests.labels({ route, method, status: String(status) }),
    ).inc();
    memo(this.#durationChildren, key, () => this.requestDuration.labels({ route, method })).observe(
      seconds,
    );
  }
}
