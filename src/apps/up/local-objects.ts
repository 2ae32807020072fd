/**
 * What a local target runs, written as the Kubernetes objects a real cluster would get: a
 * Deployment whose container is the replica command (`mcml serve …` listening on `$(PORT)`),
 * the HorizontalPodAutoscaler of the spec's scaling rule, and the Service the health gate's
 * inference goes through. The Local Cluster adapter runs them as processes.
 */
import type { Placement } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';
import type { ApplySet, ClusterObject } from '../../ports/cluster.js';
import type { InferenceProbe } from '../../engines/deploy/index.js';
import type { ReplicaContext, ReplicaLaunch } from './up.js';

/** Namespace of every local target's objects. */
export const LOCAL_NAMESPACE = 'mcml';

/** The apply set of one local target, and where its model answers. */
export function localApplySet(args: {
  spec: Spec;
  placement: Placement;
  modelUri: string;
  replicaCommand: (context: ReplicaContext) => ReplicaLaunch;
}): { set: ApplySet; probe: InferenceProbe } {
  const { spec, placement: p } = args;
  const name = spec.service.name;
  const labels = { 'app.kubernetes.io/name': name, 'mcml.dev/target': p.target };
  const launch = args.replicaCommand({
    port: '$(PORT)',
    target: p.target,
    cloud: p.cloud,
    region: p.region,
    modelName: spec.service.model.name,
    modelUri: args.modelUri,
  });
  return {
    set: {
      name,
      namespace: LOCAL_NAMESPACE,
      objects: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LOCAL_NAMESPACE } },
        deployment(spec, p, labels, launch),
        service(name, labels),
        autoscaler(spec, p, name),
      ],
      note: { model: `${spec.service.model.name} ${args.modelUri}`, cause: 'mcml up' },
    },
    probe: {
      namespace: LOCAL_NAMESPACE,
      service: name,
      port: 'http',
      model: spec.service.model.name,
    },
  };
}

/** The replicas: one container running the replica command, ready when the health path is. */
function deployment(
  spec: Spec,
  p: Placement,
  labels: Record<string, string>,
  launch: ReplicaLaunch,
): ClusterObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.service.name, namespace: LOCAL_NAMESPACE, labels },
    spec: {
      replicas: Math.max(1, p.replicas.min),
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'server',
              command: [launch.command],
              args: launch.args,
              env: Object.entries(launch.env ?? {}).map(([k, v]) => ({ name: k, value: v })),
              ...(launch.cwd ? { workingDir: launch.cwd } : {}),
              ports: [{ name: 'http', containerPort: 8000 }],
              readinessProbe: { httpGet: { path: spec.service.healthPath, port: 'http' } },
              resources: { requests: { cpu: String(spec.service.resources.cpu) } },
            },
          ],
        },
      },
    },
  };
}

/** The Service in front of the replicas, which the health gate's inference goes through. */
function service(name: string, labels: Record<string, string>): ClusterObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: LOCAL_NAMESPACE, labels },
    spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  };
}

/** The spec's scaling rule: queue depth per replica when set, else CPU utilization. */
function autoscaler(spec: Spec, p: Placement, name: string): ClusterObject {
  const r = spec.service.replicas;
  const metric =
    r.targetQueueDepth !== undefined
      ? {
          type: 'Pods',
          pods: {
            metric: { name: 'mcml_inference_queue_depth' },
            target: { type: 'AverageValue', averageValue: String(r.targetQueueDepth) },
          },
        }
      : {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: r.targetCpuUtilization },
          },
        };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace: LOCAL_NAMESPACE },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: p.replicas.min,
      maxReplicas: Math.max(p.replicas.max, 1),
      metrics: [metric],
    },
  };
}
