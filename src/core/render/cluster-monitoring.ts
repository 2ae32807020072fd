/**
 * What mcml adds to each cluster to watch it: a small Prometheus scraping the service's pods
 * (the global one federates it) and, on GPU nodes, NVIDIA's DCGM exporter.
 */
import { CLUSTER_PROMETHEUS, DCGM_EXPORTER, dcgmServiceName } from './monitoring.js';

type Obj = Record<string, unknown>;

/** A small Prometheus per cluster: scrapes the service's pods; the global one federates it. */
export function clusterPrometheus(): Obj[] {
  const name = CLUSTER_PROMETHEUS.name;
  const promLabels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'mcml' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels: promLabels },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        template: {
          metadata: { labels: promLabels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65534,
              fsGroup: 65534,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'prometheus',
                image: CLUSTER_PROMETHEUS.image,
                args: [
                  '--config.file=/etc/prometheus/prometheus.yml',
                  '--storage.tsdb.path=/prometheus',
                  '--storage.tsdb.retention.time=6h',
                ],
                ports: [{ name: 'web', containerPort: CLUSTER_PROMETHEUS.port, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/-/ready', port: 'web' }, periodSeconds: 10 },
                livenessProbe: { httpGet: { path: '/-/healthy', port: 'web' }, periodSeconds: 20 },
                resources: {
                  requests: { cpu: '100m', memory: '512Mi' },
                  limits: { memory: '1Gi' },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/prometheus' },
                  { name: 'data', mountPath: '/prometheus' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name } },
              { name: 'data', emptyDir: { sizeLimit: '5Gi' } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, labels: promLabels },
      spec: {
        type: 'ClusterIP',
        selector: { 'app.kubernetes.io/name': name },
        ports: [{ name: 'web', port: CLUSTER_PROMETHEUS.port, targetPort: 'web', protocol: 'TCP' }],
      },
    },
  ];
}

/**
 * NVIDIA's DCGM exporter on every GPU node: utilisation, memory and temperature per GPU, with
 * the pod using it (from the kubelet's pod-resources socket). It reads the GPUs through the
 * NVIDIA container runtime (NVIDIA_VISIBLE_DEVICES=all) without requesting one, so it takes
 * no GPU from the service. It tolerates every taint: GPU and spot nodes are tainted.
 */
export function dcgmExporter(): Obj[] {
  return [dcgmDaemonSet(), dcgmService()];
}

const dcgmLabels = (): Obj => ({
  'app.kubernetes.io/name': DCGM_EXPORTER.name,
  'app.kubernetes.io/part-of': 'mcml',
});

/** The exporter on every ML node, reading the GPUs as root without taking one. */
function dcgmDaemonSet(): Obj {
  const name = DCGM_EXPORTER.name;
  const labels = dcgmLabels();
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, labels },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          // The GPU nodes of the service: the same selector as its pods.
          nodeSelector: { workload: 'ml' },
          tolerations: [{ operator: 'Exists' }],
          containers: [
            {
              name: 'dcgm-exporter',
              image: DCGM_EXPORTER.image,
              // DCGM talks to the driver as root; it needs no capability for the
              // device-level counters (DCGM_FI_DEV_*) the rules use.
              securityContext: {
                runAsNonRoot: false,
                runAsUser: 0,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
              },
              env: [
                { name: 'DCGM_EXPORTER_LISTEN', value: `:${DCGM_EXPORTER.port}` },
                { name: 'DCGM_EXPORTER_KUBERNETES', value: 'true' },
                { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' },
                { name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'utility' },
              ],
              ports: [{ name: 'metrics', containerPort: DCGM_EXPORTER.port, protocol: 'TCP' }],
              readinessProbe: {
                httpGet: { path: '/health', port: 'metrics' },
                periodSeconds: 10,
              },
              livenessProbe: {
                httpGet: { path: '/health', port: 'metrics' },
                initialDelaySeconds: 45,
                periodSeconds: 20,
              },
              resources: {
                requests: { cpu: '100m', memory: '256Mi' },
                limits: { memory: '512Mi' },
              },
              volumeMounts: [
                {
                  name: 'pod-resources',
                  mountPath: '/var/lib/kubelet/pod-resources',
                  readOnly: true,
                },
              ],
            },
          ],
          volumes: [
            {
              name: 'pod-resources',
              hostPath: { path: '/var/lib/kubelet/pod-resources', type: 'Directory' },
            },
          ],
        },
      },
    },
  };
}

/** Headless: the cluster Prometheus finds every node's exporter by DNS. */
function dcgmService(): Obj {
  const name = DCGM_EXPORTER.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: dcgmServiceName(), labels: dcgmLabels() },
    spec: {
      // Headless: the cluster Prometheus finds every node's exporter by DNS.
      clusterIP: 'None',
      selector: { 'app.kubernetes.io/name': name },
      ports: [
        { name: 'metrics', port: DCGM_EXPORTER.port, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

/**
 * GKE installs the NVIDIA driver under /home/kubernetes/bin/nvidia and has no NVIDIA container
 * runtime: the exporter reaches the GPUs privileged, with the driver mounted (NVIDIA's GKE
 * instructions for dcgm-exporter).
 */
export function gkeDcgmPatch(): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: DCGM_EXPORTER.name },
    spec: {
      template: {
        spec: {
          containers: [
            {
              name: 'dcgm-exporter',
              securityContext: { privileged: true, allowPrivilegeEscalation: true },
              env: [{ name: 'LD_LIBRARY_PATH', value: '/usr/local/nvidia/lib64' }],
              volumeMounts: [{ name: 'nvidia-install-dir', mountPath: '/usr/local/nvidia' }],
            },
          ],
          volumes: [
            {
              name: 'nvidia-install-dir',
              hostPath: { path: '/home/kubernetes/bin/nvidia', type: 'Directory' },
            },
          ],
        },
      },
    },
  };
}
