/**
 * The Local adapter (replica processes on this machine, run by the local cluster driver): the
 * same Cluster contract the Kubernetes adapter runs, plus what only a local cluster can get
 * wrong (command expansion, refusing kinds it cannot run before anything starts).
 */
import { describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/adapters/local/local-cluster.js';
import { LocalTargetCluster } from '../../src/adapters/local/target-cluster.js';
import type { ClusterObject } from '../../src/ports/cluster.js';
import { runClusterContract, type ClusterFixture } from '../contracts/cluster.js';
import { FAKE_REPLICA_SOURCE } from '../up/fixtures/fake-replica.js';

const NS = 'web';
const labels = { 'app.kubernetes.io/name': 'web' };

/** A Deployment whose container is the fake replica, listening on the port the driver gives. */
function objects(version: string, extra = false, env: Record<string, string> = {}) {
  const list: ClusterObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-config', namespace: NS },
      data: { version },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'server',
                command: [process.execPath, '--input-type=module', '-e', FAKE_REPLICA_SOURCE],
                args: ['--', '--port', '$(PORT)'],
                env: [
                  { name: 'VERSION', value: version },
                  { name: 'TARGET', value: 'local-a' },
                  ...Object.entries(env).map(([name, value]) => ({ name, value })),
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
                ports: [{ name: 'http', containerPort: 8000 }],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  ];
  if (extra) {
    list.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-extra', namespace: NS },
      data: { extra: 'yes' },
    });
  }
  return list;
}

async function localFixture(): Promise<ClusterFixture & { cluster: LocalTargetCluster }> {
  const driver = new LocalCluster([], {
    intervalMs: 100,
    stopGraceMs: 2000,
    backoff: { initialMs: 50, maxMs: 200 },
  });
  await driver.start();
  const cluster = new LocalTargetCluster({ target: 'local-a', driver });
  return {
    cluster,
    set: { name: 'web', namespace: NS },
    objects: (version, extra) => objects(version, extra),
    broken: () => objects('v3', false, { FAKE_EXIT_AT_START: '1' }),
    foreign: async () => {
      // Another owner's object in the same namespace of the same cluster.
      await cluster.apply({
        name: 'someone-else',
        namespace: NS,
        objects: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'not-mcml', namespace: NS },
            data: { owner: 'someone else' },
          },
        ],
      });
      return () =>
        Promise.resolve(cluster.liveObjects().some((o) => o.object.metadata.name === 'not-mcml'));
    },
    probe: { service: 'web', port: 80, path: '/v2/health/ready', expect: /ready/ },
    close: async () => {
      await cluster.close();
      await driver.stop();
    },
  };
}

runClusterContract({ name: 'local (replica processes)', create: localFixture });

describe('Local cluster adapter', () => {
  it('runs the container command with $(PORT) expanded, on two replicas', async () => {
    const f = await localFixture();
    try {
      await f.cluster.apply({ ...f.set, objects: objects('v1') });
      const status = await f.cluster.waitForRollout(f.set, { signal: AbortSignal.timeout(60_000) });
      expect(status.workloads[0]).toMatchObject({ desired: 2, ready: 2, updated: 2 });
      const seen = new Set<number>();
      for (let i = 0; i < 4; i++) {
        const answer = await f.cluster.request({
          namespace: NS,
          service: 'web',
          port: 80,
          method: 'GET',
          path: '/info',
        });
        seen.add((JSON.parse(answer.body) as { pid: number }).pid);
      }
      expect(seen.size).toBe(2);
      const events = await f.cluster.events(f.set);
      expect(events.some((e) => e.reason === 'replica-ready')).toBe(true);
    } finally {
      await f.close();
    }
  });

  it('refuses a kind it cannot run before applying anything', async () => {
    const f = await localFixture();
    try {
      const set = [
        ...objects('v1'),
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'web', namespace: NS },
        },
      ];
      await expect(f.cluster.apply({ ...f.set, objects: set })).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringMatching(
          /local-a: Ingress\/web .* is not a kind the local cluster runs/,
        ),
      });
      expect(f.cluster.liveObjects()).toEqual([]);
      expect(await f.cluster.revisions(f.set)).toEqual([]);
    } finally {
      await f.close();
    }
  });
});
