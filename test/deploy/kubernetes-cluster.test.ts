/**
 * The Kubernetes adapter against the API server double: the Cluster contract, discovery, and a
 * cluster reached through the kubeconfig's `proxy-url`.
 */
import { connect, createServer, type Server } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubernetesCluster } from '../../src/adapters/kubernetes/index.js';
import { runClusterContract } from '../contracts/cluster.js';
import { kubeFixture, sampleObjects } from './kube-fixture.js';

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

/** An HTTP CONNECT proxy on loopback, as a bastion's would be; it records what it tunnelled. */
async function connectProxy(): Promise<{ url: string; tunnels: string[]; server: Server }> {
  const tunnels: string[] = [];
  const server = createServer((client) => {
    client.once('data', (head) => {
      const target = /^CONNECT (\S+):(\d+) HTTP\/1\.[01]\r\n/.exec(head.toString('latin1'));
      if (!target) return client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
      tunnels.push(`${target[1]}:${target[2]}`);
      const upstream = connect(Number(target[2]), target[1], () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    tunnels,
    server,
  };
}

describe('Kubernetes adapter behind a proxy', () => {
  it('applies and reads through the proxy-url of the kubeconfig (an HTTP CONNECT tunnel)', async () => {
    const f = await kubeFixture();
    const proxy = await connectProxy();
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromString(
      f.api.kubeconfig('test').replace(/( {4}server: .*\n)/, `$1    proxy-url: ${proxy.url}\n`),
    );
    const cluster = new KubernetesCluster({ target: 'aws-use1', context: 'test', kubeconfig });
    try {
      await cluster.apply({ ...f.set, objects: sampleObjects(f.set.namespace, 'v1') });
      const status = await cluster.rolloutStatus(f.set);
      expect(status.revision).toBe(1);
      expect(proxy.tunnels.length).toBeGreaterThan(0);
      expect(new Set(proxy.tunnels)).toEqual(new Set([new URL(f.api.server).host]));
    } finally {
      await cluster.close();
      proxy.server.close();
      await f.close();
    }
  });
});
