/**
 * The Kubernetes adapter on bad input and a failing world: each failure is an McmlError that
 * names the target and the object, with the code that makes the CLI exit 2 (input) or 1
 * (world), and a partial apply says what it had already applied.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesCluster } from '../../src/adapters/kubernetes/index.js';
import { McmlError, exitCodeFor } from '../../src/core/errors.js';
import type { ClusterObject } from '../../src/ports/cluster.js';
import { kubeconfigYaml } from '../doubles/kube-apiserver.js';
import { kubeFixture, sampleObjects } from './kube-fixture.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function fixture() {
  const f = await kubeFixture();
  closers.push(() => f.close());
  return f;
}

async function failure(run: () => Promise<unknown>): Promise<McmlError> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(McmlError);
  return error as McmlError;
}

const set = { name: 'web', namespace: 'web' };

describe('Kubernetes adapter errors', () => {
  it('names the target and the contexts there are when the context is missing (exit 2)', async () => {
    const f = await fixture();
    const error = await failure(() =>
      Promise.resolve().then(
        () =>
          new KubernetesCluster({
            target: 'gcp-usc1',
            context: 'gke-prod',
            kubeconfig: f.kubeconfig,
          }),
      ),
    );
    expect(error.message).toBe('target "gcp-usc1": context "gke-prod" is not in the kubeconfig');
    expect(error.hint).toMatch(/contexts there: test/);
    expect(exitCodeFor(error)).toBe(2);
  });

  it('reports a wrong or expired credential as PROVIDER_AUTH (exit 2)', async () => {
    const f = await fixture();
    const kc = new KubeConfig();
    kc.loadFromString(f.api.kubeconfig('test').replace(f.api.token, 'expired-token'));
    const cluster = new KubernetesCluster({ target: 'aws-use1', context: 'test', kubeconfig: kc });
    const error = await failure(() =>
      cluster.apply({ ...set, objects: sampleObjects('web', 'v1') }),
    );
    expect(error.code).toBe('PROVIDER_AUTH');
    expect(error.message).toMatch(
      /^target "aws-use1" \(context "test", https:\/\/127\.0\.0\.1:\d+\) refused the credentials/,
    );
    expect(error.hint).toMatch(/update-kubeconfig/);
    expect(exitCodeFor(error)).toBe(2);
    const ping = await failure(() => cluster.ping());
    expect(ping.code).toBe('PROVIDER_AUTH');
  });

  it('reports a 403 on one kind, naming the object, and what was applied before it', async () => {
    const f = await fixture();
    f.api.forbid('patch', 'services');
    const error = await failure(() =>
      f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') }),
    );
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(error.message).toMatch(
      /target "aws-use1" .*: not allowed to apply Service web\/web: services "web" is forbidden/,
    );
    expect(error.message).toMatch(
      /already applied on this cluster: Namespace web, ConfigMap web\/web-config, Deployment web\/web/,
    );
    expect(error.details.applied).toHaveLength(3);
    expect(exitCodeFor(error)).toBe(2);
  });

  it('prunes what an interrupted apply left behind, on the next apply', async () => {
    const f = await fixture();
    await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') });
    f.api.forbid('patch', 'services');
    await failure(() => f.cluster.apply({ ...set, objects: sampleObjects('web', 'v2', true) }));
    expect(f.api.get('v1', 'ConfigMap', 'web', 'web-extra')).toBeDefined();
    f.api.allow('patch', 'services');
    // No revision lists web-extra: the parent's mark says the cluster must be asked.
    const again = await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') });
    expect(again.changes).toContainEqual({
      ref: { apiVersion: 'v1', kind: 'ConfigMap', name: 'web-extra', namespace: 'web' },
      action: 'pruned',
    });
    expect(f.api.get('v1', 'ConfigMap', 'web', 'web-extra')).toBeUndefined();
    const parent = f.api.get('v1', 'Secret', 'web', 'mcml-web') as {
      metadata: { annotations: Record<string, string> };
    };
    expect(parent.metadata.annotations['mcml.dev/applying']).toBeUndefined();
    // From a completed apply on, what changed is told from the revision record.
    const next = await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v3') });
    const action = (kind: string) => next.changes.find((c) => c.ref.kind === kind)?.action;
    expect([action('Deployment'), action('ConfigMap'), action('Service')]).toEqual([
      'configured',
      'configured',
      'unchanged',
    ]);
  });

  it('sends a request again when the server has just closed its kept connection', async () => {
    const f = await fixture();
    await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') });
    f.api.dropNext(1, 'PATCH');
    const patchesBefore = f.api.requests.filter((r) => r.method === 'PATCH').length;
    const result = await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v2') });
    expect(result.revision).toBe(2);
    // Every PATCH of the second apply answered, plus the one the server dropped.
    const patches = f.api.requests.filter((r) => r.method === 'PATCH').slice(patchesBefore);
    expect(patches.filter((r) => r.status === undefined)).toHaveLength(1);
    expect(patches.filter((r) => r.status === 200 || r.status === 201)).toHaveLength(
      patches.length - 1,
    );
    // Twice is not a pattern: a server that keeps dropping (the same request, sent again) is
    // reported as unreachable.
    f.api.dropNext(2, (r) => r.method === 'PATCH' && r.path.includes('/deployments/'));
    const error = await failure(() =>
      f.cluster.apply({ ...set, objects: sampleObjects('web', 'v3') }),
    );
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(/does not answer: ECONNRESET/);
  });

  it('opens the rollout watch again when the server has just closed its kept connection', async () => {
    const f = await fixture();
    await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') });
    await f.cluster.waitForRollout(set, { signal: AbortSignal.timeout(20_000) });
    f.api.controller.hold();
    await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v2') });
    const isWatch = (r: { query: string }) => r.query.includes('watch=true');
    const watchesBefore = f.api.requests.filter(isWatch).length;
    f.api.dropNext(1, isWatch);
    const waiting = f.cluster.waitForRollout(set, { signal: AbortSignal.timeout(20_000) });
    let settled = false;
    waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The dropped watch and the one sent again: then the rollout may finish.
    while (!settled && f.api.requests.filter(isWatch).length < watchesBefore + 2) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    f.api.controller.release();
    expect((await waiting).phase).toBe('complete');
  });

  it('reports a kind the cluster does not serve (a CRD not installed) before applying anything', async () => {
    const f = await fixture();
    const monitor: ClusterObject = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'web', namespace: 'web' },
      spec: { selector: {} },
    };
    const error = await failure(() =>
      f.cluster.apply({ ...set, objects: [...sampleObjects('web', 'v1'), monitor] }),
    );
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toMatch(
      /target "aws-use1" .*: the cluster does not serve monitoring\.coreos\.com\/v1 ServiceMonitor \(needed by ServiceMonitor web\/web\)/,
    );
    expect(error.hint).toMatch(/CustomResourceDefinition/);
    expect(f.api.list('v1', 'Namespace')).toEqual([]);
    expect(exitCodeFor(error)).toBe(2);
  });

  it('reports an immutable field by object and field (exit 2)', async () => {
    const f = await fixture();
    await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') });
    const changed = sampleObjects('web', 'v1').map((o) =>
      o.kind === 'Deployment'
        ? (JSON.parse(
            JSON.stringify(o).replace(
              '"matchLabels":{"app.kubernetes.io/name":"web"}',
              '"matchLabels":{"app":"web2"}',
            ),
          ) as ClusterObject)
        : o,
    );
    const error = await failure(() => f.cluster.apply({ ...set, objects: changed }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(
      /the cluster refuses Deployment web\/web: .*spec\.selector.*field is immutable/,
    );
    expect(error.issues.map((i) => i.path)).toEqual(['spec.selector']);
    expect(error.hint).toMatch(/immutable field/);
  });

  it('refuses to take fields another manager owns, per field, unless forced', async () => {
    const f = await fixture();
    await f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') });
    const live = f.api.get('apps/v1', 'Deployment', 'web', 'web')!;
    f.api.put({ ...live, spec: { ...(live.spec as object), replicas: 5 } }, 'kubectl-scale');
    const error = await failure(() =>
      f.cluster.apply({ ...set, objects: sampleObjects('web', 'v1') }),
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/Deployment web\/web has 1 field managed by another tool/);
    expect(error.issues).toEqual([
      { path: '.spec.replicas', message: 'managed by "kubectl-scale" using apps/v1' },
    ]);
    expect(error.hint).toMatch(/--force-conflicts/);
    const forced = await f.cluster.apply(
      { ...set, objects: sampleObjects('web', 'v1') },
      { force: true },
    );
    expect(forced.changes.find((c) => c.ref.kind === 'Deployment')?.action).toBe('configured');
    expect(
      (f.api.get('apps/v1', 'Deployment', 'web', 'web')!.spec as { replicas: number }).replicas,
    ).toBe(2);
  });

  it('reports a cluster that does not answer as PROVIDER_UNAVAILABLE (exit 1)', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(
      kubeconfigYaml([{ context: 'dead', server: 'https://127.0.0.1:1', token: 't' }]),
    );
    const cluster = new KubernetesCluster({ target: 'azure-eus', context: 'dead', kubeconfig: kc });
    const error = await failure(() => cluster.ping());
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(
      /^target "azure-eus" \(context "dead", https:\/\/127\.0\.0\.1:1\) does not answer: ECONNREFUSED/,
    );
    expect(exitCodeFor(error)).toBe(1);
    const apply = await failure(() =>
      cluster.apply({ ...set, objects: sampleObjects('web', 'v1') }),
    );
    expect(apply.code).toBe('PROVIDER_UNAVAILABLE');
  });
});
