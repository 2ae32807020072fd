/**
 * A real Prometheus (Debian's `prometheus`) scraping `mcml up` with the rules mcml writes
 * (`.mcml/rules.yml`, the same generator as the rendered monitoring/rules.yml): every replica
 * of a target is killed and kept down (its model broken, so restarts crash as in a
 * CrashLoopBackOff, and any restarted process killed at once), and McmlNoReadyReplica must
 * fire for it within its `for:` plus two scrape intervals, read from /api/v1/alerts. Before
 * the kill it must not be firing. Prometheus listens on 127.0.0.1 and is stopped by the test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startServer, type RunningServer } from '../helpers/process.js';
import { PROMETHEUS_HINT, promApi, until, type PromAlert } from '../helpers/prometheus.js';
import { getState, localExample, startUp, type UpProcess } from './helpers.js';

const SCRAPE_S = 1;
const DOWN_FOR_S = 4;
const VICTIM = 'local-azure';

let up: UpProcess | undefined;
let prom: RunningServer | undefined;
let spec: string;
const tsdb = mkdtempSync(join(tmpdir(), 'mcml-prom-'));

const api = <T>(path: string): Promise<T> => promApi<T>(prom!, path);

const noReady = async (target: string): Promise<PromAlert | undefined> =>
  (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts.find(
    (a) => a.labels.alertname === 'McmlNoReadyReplica' && a.labels.target === target,
  );

beforeAll(async () => {
  spec = await localExample((s) => {
    s.monitoring = { scrapeInterval: `${SCRAPE_S}s`, alerts: { downFor: `${DOWN_FOR_S}s` } };
  });
  up = await startUp(spec);
  const port = await freePort();
  prom = await startServer(
    'prometheus',
    [
      `--config.file=${join(dirname(spec), '.mcml/prometheus.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${tsdb}`,
      '--log.level=warn',
    ],
    port,
    {
      timeoutMs: 60_000,
      installHint: PROMETHEUS_HINT,
    },
  );
}, 240_000);

afterAll(async () => {
  await prom?.stop();
  await up?.stop();
  rmSync(tsdb, { recursive: true, force: true });
  if (spec) rmSync(dirname(spec), { recursive: true, force: true });
}, 60_000);

describe('a real Prometheus on mcml up', { timeout: 240_000 }, () => {
  it('fires McmlNoReadyReplica within for: + 2 scrape intervals when every replica is down', async () => {
    // The rules are loaded, and the victim is seen ready (so the alert is inactive).
    const groups = await api<{ groups: { rules: { name: string; labels?: object }[] }[] }>(
      '/api/v1/rules',
    );
    const names = groups.groups.flatMap((g) => g.rules.map((r) => r.name));
    expect(names.filter((n) => n === 'McmlNoReadyReplica')).toHaveLength(3);
    await until(
      `${VICTIM} ready in Prometheus`,
      () =>
        api<{ result: unknown[] }>(
          `/api/v1/query?query=${encodeURIComponent(`mcml_server_ready{target="${VICTIM}"} == 1`)}`,
        ),
      (d) => d.result.length > 0,
    );
    // A few evaluations with the victim up: nothing pending or firing for it.
    const seenAt = Date.now();
    await until(
      'rule evaluations after the victim is up',
      () => api<{ groups: { lastEvaluation: string }[] }>('/api/v1/rules'),
      (d) => d.groups.every((g) => Date.parse(g.lastEvaluation) > seenAt + 2 * SCRAPE_S * 1000),
    );
    expect(await noReady(VICTIM)).toBeUndefined();

    // Break its model (restarts crash) and kill every replica; keep killing restarted ones.
    const state = await getState(up!.url);
    const victim = state.targets.find((t) => t.name === VICTIM)!;
    writeFileSync(join(dirname(spec), '.mcml/buckets', VICTIM, 'models/iris/iris.onnx'), 'broken');
    let killing = true;
    const kill = (pids: number[]) => {
      for (const pid of pids) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    const killedAt = Date.now();
    kill(victim.replicas.pids);
    const keepDown = (async () => {
      while (killing) {
        const s = await getState(up!.url);
        kill(s.targets.find((t) => t.name === VICTIM)!.replicas.pids);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const firing = await until(
        `McmlNoReadyReplica firing for ${VICTIM}`,
        () => noReady(VICTIM),
        (a) => a?.state === 'firing',
      );
      expect(firing!.labels).toMatchObject({ severity: 'critical', cloud: 'azure' });
      // Prometheus' own timeline: pending from the first evaluation after the first scrape
      // without the series (≤ 2 intervals after the kill), firing `for:` after that. The
      // 500 ms is for the scrape itself (it aggregates every replica's /metrics).
      const pendingAfterMs = Date.parse(firing!.activeAt) - killedAt;
      expect(pendingAfterMs).toBeLessThanOrEqual(2 * SCRAPE_S * 1000 + 500);
      // The other targets are untouched.
      expect(await noReady('local-aws')).toBeUndefined();
      expect(await noReady('local-gcp')).toBeUndefined();
    } finally {
      killing = false;
      await keepDown;
    }
  });
});
