/** Reading a real Prometheus from tests: its HTTP API, its alerts, and polling until a state. */
import type { RunningServer } from './process.js';

export const PROMETHEUS_HINT =
  'apt-get update && apt-get install -y prometheus (or run scripts/test-deps.sh)';

/** An alert as /api/v1/alerts lists it. */
export interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

/** GET a Prometheus API path; the `data` of a successful answer, else an error. */
export async function promApi<T>(prom: Pick<RunningServer, 'port'>, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${prom.port}${path}`);
  const body = (await res.json()) as { status: string; data: T };
  if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body.data;
}

/** Polls until `ok` holds (Prometheus has no push API); fails with the last value seen. */
export async function until<T>(
  what: string,
  get: () => Promise<T>,
  ok: (v: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + 120_000;
  let last: T | undefined;
  for (;;) {
    last = await get();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: last ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
