/**
 * Active health checks: every interval, GET each probe URL of each target with a timeout; a
 * check passes when a quorum of probes answers 2xx/3xx. Results go to a callback; the
 * state machine decides what they mean.
 */
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type { Clock } from '../../ports/clock.js';
import type { CheckResult } from '../../core/failover/index.js';
import { clampTimerMs } from './clock.js';

export interface ProbeTarget {
  name: string;
  probes: string[];
  quorum: number;
}

export interface HealthCheckerOptions {
  targets: ProbeTarget[];
  intervalMs: number;
  timeoutMs: number;
  clock: Clock;
  onResult: (target: string, result: CheckResult) => void;
}

/** Checks one URL once: ok on 2xx/3xx within the timeout. */
export async function probe(
  url: string,
  timeoutMs: number,
  dispatcher?: Agent,
  stop?: AbortSignal,
): Promise<CheckResult> {
  const started = performance.now();
  timeoutMs = clampTimerMs(timeoutMs);
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await request(url, {
      method: 'GET',
      ...(dispatcher ? { dispatcher } : {}),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: stop ? AbortSignal.any([timeout, stop]) : timeout,
      headers: { 'user-agent': 'mcml-health-check' },
    });
    await res.body.dump();
    const latencyMs = performance.now() - started;
    if (res.statusCode >= 200 && res.statusCode < 400) return { ok: true, latencyMs };
    return { ok: false, latencyMs, error: `HTTP ${res.statusCode}` };
  } catch (error) {
    return { ok: false, error: describeNetworkError(error, timeoutMs) };
  }
}

/** Checks a target once: all its probes in parallel, passed when `quorum` of them pass. */
export async function checkTarget(
  target: ProbeTarget,
  timeoutMs: number,
  dispatcher?: Agent,
  stop?: AbortSignal,
): Promise<CheckResult> {
  const results = await Promise.all(
    target.probes.map((u) => probe(u, timeoutMs, dispatcher, stop)),
  );
  const passed = results.filter((r) => r.ok);
  if (passed.length >= target.quorum) {
    const latencies = passed.map((r) => r.latencyMs ?? 0).sort((a, b) => a - b);
    return { ok: true, latencyMs: latencies[Math.floor((latencies.length - 1) / 2)] };
  }
  const errors = [...new Set(results.filter((r) => !r.ok).map((r) => r.error))];
  const prefix =
    target.probes.length > 1 ? `${passed.length}/${target.probes.length} probes passed: ` : '';
  return { ok: false, error: prefix + errors.join('; ') };
}

/** A short reason for a failed request, e.g. "connection refused", "timeout after 1000 ms". */
export function describeNetworkError(error: unknown, timeoutMs?: number): string {
  const e = error as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `timeout${timeoutMs ? ` after ${timeoutMs} ms` : ''}`;
    default:
      if (e.name === 'TimeoutError' || e.name === 'AbortError') {
        return `timeout${timeoutMs ? ` after ${timeoutMs} ms` : ''}`;
      }
      return code ? `${code}: ${e.message ?? ''}`.trim() : (e.message ?? String(error));
  }
}

/** The health loop: one timer per target, so a slow target never delays the others. */
export class HealthChecker {
  private readonly options: HealthCheckerOptions;
  private readonly agent: Agent;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(options: HealthCheckerOptions) {
    this.options = {
      ...options,
      intervalMs: Math.max(1, clampTimerMs(options.intervalMs)),
      timeoutMs: clampTimerMs(options.timeoutMs),
    };
    this.agent = new Agent({
      keepAliveTimeout: clampTimerMs(Math.max(this.options.intervalMs * 2, 4000)),
      connect: { timeout: this.options.timeoutMs },
    });
  }

  /** Checks every target once, in parallel, and reports the results. */
  async checkAll(): Promise<void> {
    await Promise.all(this.options.targets.map((t) => this.checkOne(t)));
  }

  /** Starts the loops (after an immediate first round, done by the caller or not). */
  start(): void {
    for (const t of this.options.targets) this.loops.push(this.loop(t));
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('health checker stopped'));
    await Promise.allSettled(this.loops);
    await this.agent.close();
  }

  private async checkOne(t: ProbeTarget): Promise<void> {
    // Stopping aborts checks in flight: a hung target must not hold up a shutdown.
    const result = await checkTarget(t, this.options.timeoutMs, this.agent, this.abort.signal);
    if (!this.abort.signal.aborted) this.options.onResult(t.name, result);
  }

  private async loop(t: ProbeTarget): Promise<void> {
    const { clock, intervalMs } = this.options;
    const signal = this.abort.signal;
    let next = clock.now() + intervalMs;
    while (!signal.aborted) {
      try {
        await clock.sleep(Math.max(0, next - clock.now()), signal);
      } catch {
        return;
      }
      await this.checkOne(t);
      // Keep the cadence; a check slower than the interval never stacks checks up.
      next = Math.max(next + intervalMs, clock.now());
    }
  }
}
