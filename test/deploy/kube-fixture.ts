/* eslint-disable @typescript-eslint/no-unsafe-return -- parsed JSON/YAML documents */
/** Objects and doubles for the Kubernetes adapter's tests. */
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesCluster } from '../../src/adapters/kubernetes/index.js';
import type { ClusterObject } from '../../src/ports/cluster.js';
import {
  startKubeApi,
  type KubeApiDouble,
  type KubeApiOptions,
} from '../doubles/kube-apiserver.js';
import type { ClusterFixture } from '../contracts/cluster.js';

/** Images with this tag cannot be pulled: the double's controller fails their rollout. */
export const MISSING_TAG = ':missing';

export function sampleObjects(ns: string, version: string, extra = false): ClusterObject[] {
  const labels = { 'app.kubernetes.io/name': 'web' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-config', namespace: ns },
      data: { version },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'server',
                image: `registry.example/web:${version}`,
                env: [{ name: 'MODEL_PATH', value: `s3://models/${version}/model.onnx` }],
                ports: [{ name: 'http', containerPort: 8000, protocol: 'TCP' }],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    ...(extra
      ? [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'web-extra', namespace: ns },
            data: { extra: 'yes' },
          } as ClusterObject,
        ]
      : []),
  ];
}

export async function kubeFixture(
  options: KubeApiOptions = {},
): Promise<ClusterFixture & { api: KubeApiDouble; kubeconfig: KubeConfig }> {
  const api = await startKubeApi({ failImage: (i) => i.endsWith(MISSING_TAG), ...options });
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromString(api.kubeconfig('test'));
  const cluster = new KubernetesCluster({ target: 'aws-use1', context: 'test', kubeconfig });
  const ns = 'web';
  api.routeService(ns, 'web', () => ({ status: 200, body: JSON.stringify({ ready: true }) }));
  return {
    api,
    kubeconfig,
    cluster,
    set: { name: 'web', namespace: ns },
    objects: (version, extra) => sampleObjects(ns, version, extra),
    broken: () =>
      sampleObjects(ns, 'v3').map((o) =>
        o.kind === 'Deployment'
          ? JSON.parse(JSON.stringify(o).replace('web:v3', `web${MISSING_TAG}`))
          : o,
      ),
    foreign: () => {
      api.put({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'not-mcml', namespace: ns },
        data: { owner: 'someone else' },
      });
      return Promise.resolve(() =>
        Promise.resolve(api.get('v1', 'ConfigMap', ns, 'not-mcml') !== undefined),
      );
    },
    probe: { service: 'web', port: 80, path: '/v2/health/ready', expect: /ready/ },
    close: async () => {
      await cluster.close();
      await api.stop();
    },
  };
}
