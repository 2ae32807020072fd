/** The Kubernetes adapter against the API server double: the Cluster contract, and discovery. */
import { describe, expect, it } from 'vitest';
import { runClusterContract } from '../contracts/cluster.js';
import { kubeFixture } from './kube-fixture.js';

runClusterContract({ name: 'kubernetes (API server double)', create: () => kubeFixture() });

describe('Kubernetes adapter discovery', () => {
  const budget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'web', namespace: 'web' },
    spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } } },
  };
  const discovery = (paths: string[]) =>
    paths.filter((p) => p === '/apis' || /^\/apis\/[^/]+\/[^/]+$/.test(p)).sort();

  it('looks up every named group in one aggregated discovery, as kubectl does', async () => {
    const f = await kubeFixture();
    try {
      await f.cluster.apply({ ...f.set, objects: [...f.objects('v1'), budget] });
      expect(discovery(f.api.requests.map((r) => r.path))).toEqual(['/apis']);
    } finally {
      await f.close();
    }
  });

  it('asks each group on its own where the server has no aggregated discovery', async () => {
    const f = await kubeFixture({ aggregatedDiscovery: false });
    try {
      await f.cluster.apply({ ...f.set, objects: [...f.objects('v1'), budget] });
      expect(discovery(f.api.requests.map((r) => r.path))).toEqual([
        '/apis',
        '/apis/apps/v1',
        '/apis/policy/v1',
      ]);
      expect(f.api.get('policy/v1', 'PodDisruptionBudget', 'web', 'web')).toBeDefined();
    } finally {
      await f.close();
    }
  });
});
