/** The front door's targets: one undici connection pool per target, and their shutdown. */
import { Pool } from 'undici';
import { LatencyWindow } from '../../core/failover/index.js';

export interface FrontDoorUpstream {
  name: string;
  /** Base URL, e.g. http://10.0.0.1:8000 or https://lb.example.net/prefix. */
  endpoint: string;
  /** Metric label: the cloud the target runs in (default "unknown"). */
  cloud?: string;
}

/** The part of an attempt the exchange logic drives (the undici handler implements it). */
export interface ProxyAttempt {
  readonly upstream: Upstream;
  /** Went past its time limit without an answer (and was hedged). */
  late: boolean;
  limitMs: number;
  cancel(): void;
  /** The target was declared down: give up on it and let the next tier answer. */
  targetDown(): void;
}

export interface Upstream {
  name: string;
  cloud: string;
  pool: Pool;
  host: string;
  basePath: string;
  /** Answer times of recent attempts, for the per-attempt time limit. */
  latency: LatencyWindow;
  /** Attempts in flight that have no answer yet. */
  waiting: Set<ProxyAttempt>;
}

/** A pool per target, its timeouts those of one attempt. */
export function openUpstreams(
  upstreams: readonly FrontDoorUpstream[],
  timeouts: { upstreamTimeoutMs: number; connectTimeoutMs: number },
): Map<string, Upstream> {
  const pools = new Map<string, Upstream>();
  for (const u of upstreams) {
    const url = new URL(u.endpoint);
    pools.set(u.name, {
      name: u.name,
      cloud: u.cloud ?? 'unknown',
      pool: new Pool(url.origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: timeouts.upstreamTimeoutMs,
        bodyTimeout: timeouts.upstreamTimeoutMs,
        connect: { timeout: timeouts.connectTimeoutMs },
      }),
      host: url.host,
      basePath: url.pathname.replace(/\/+$/, ''),
      latency: new LatencyWindow(),
      waiting: new Set(),
    });
  }
  return pools;
}

/** Requests still in flight finish for a moment (2 s); a hung target's are then cut. */
export async function closeUpstreams(pools: ReadonlyMap<string, Upstream>): Promise<void> {
  await Promise.all(
    [...pools.values()].map(async ({ pool }) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), 2000);
      });
      const closed = await Promise.race([pool.close(), late]);
      clearTimeout(timer);
      if (closed === 'late') await pool.destroy();
    }),
  );
}
