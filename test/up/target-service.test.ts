import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/adapters/local/local-cluster.js';
import { TargetService } from '../../src/apps/up/target-service.js';
import { fakeReplicaArgs } from './fixtures/fake-replica.js';

let cluster: LocalCluster;
let service: TargetService;
let endpoints: () => string[];

beforeAll(async () => {
  cluster = new LocalCluster(
    [
      {
        name: 'alpha',
        minReplicas: 2,
        maxReplicas: 2,
        readinessPath: '/ready',
        launch: (port) => ({ command: process.execPath, args: fakeReplicaArgs(port) }),
      },
    ],
    { intervalMs: 100, backoff: { initialMs: 60_000 } },
  );
  await cluster.start();
  await cluster.waitReady({ timeoutMs: 20_000 });
  endpoints = () => cluster.readyUrls('alpha');
  service = new TargetService({ target: 'alpha', endpoints: () => endpoints() });
  await service.listen();
});

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
});

describe('TargetService', () => {
  it('balances over the ready replicas and counts the traffic', async () => {
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${service.url}/v2/models/m/infer`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-mcml-replica')).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      pids.add(((await res.json()) as { pid: number }).pid);
    }
    expect(pids.size).toBe(2);
    expect(service.stats.summary(Date.now() + 1000).total).toBe(6);
  });

  it('retries on the other replica when one is gone before the cluster notices', async () => {
    const urls = cluster.readyUrls('alpha');
    const victim = cluster.status()[0]!.replicas[0]!;
    const frozen = [...urls];
    endpoints = () => frozen; // the dead replica stays listed, as in the gap before a probe
    process.kill(-victim.pid!, 'SIGKILL');
    await new Promise<void>((resolve) => {
      const off = cluster.on((e) => {
        if (e.type === 'replica-exited') {
          off();
          resolve();
        }
      });
    });
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${service.url}/x`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { pid: number }).pid).not.toBe(victim.pid);
    }
  });

  it('answers 503 with a clear body when no replica is ready', async () => {
    endpoints = () => [];
    const res = await fetch(`${service.url}/x`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'target alpha has no ready replica' });
    expect(service.stats.summary(Date.now() + 1000).errorsTotal).toBeGreaterThanOrEqual(1);
  });
});
