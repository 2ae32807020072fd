/**
 * A Deployment (and the HorizontalPodAutoscaler aimed at it) read as a local cluster driver
 * workload: the container's command line, env with the kubelet's `$(VAR)` expansion, the
 * readiness path, the replica count and how it scales.
 */
import { McmlError } from '../../core/errors.js';
import type { ClusterObject } from '../../ports/cluster.js';
import type { AutoscalePolicy, LocalTargetConfig } from './local-cluster.js';

/** What the driver runs for one Deployment. */
export interface Workload {
  config: LocalTargetConfig;
  /** The pod template as canonical JSON: when it changes, the replicas roll. */
  template: string;
  /** The Deployment's count; undefined when an autoscaler owns it. */
  replicas: number | undefined;
}

interface Container {
  name?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  readinessProbe?: { httpGet?: { path?: string } };
  resources?: { requests?: { cpu?: string | number } };
}

interface DeploymentSpec {
  replicas?: number;
  template?: { spec?: { containers?: Container[] } };
}

interface HpaSpec {
  minReplicas?: number;
  maxReplicas?: number;
  metrics?: {
    type: string;
    resource?: { name: string; target?: { averageUtilization?: number } };
    pods?: { metric?: { name?: string }; target?: { averageValue?: string | number } };
  }[];
}

/** The driver workload named `name` for `deployment` of `target`; throws INVALID_ARGUMENT. */
export function workloadOf(
  target: string,
  name: string,
  deployment: ClusterObject,
  hpa: ClusterObject | undefined,
): Workload {
  const where = `${target}: Deployment/${deployment.metadata.name}`;
  const spec = (deployment.spec ?? {}) as DeploymentSpec;
  const containers = spec.template?.spec?.containers ?? [];
  if (containers.length !== 1) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `${where} has ${containers.length} containers; the local cluster runs exactly one`,
    );
  }
  const container = containers[0]!;
  const command = [...(container.command ?? []), ...(container.args ?? [])];
  if (!container.command?.[0]) {
    throw new McmlError('INVALID_ARGUMENT', `${where}: the container has no command`, {
      hint: 'no image is pulled on this machine: set the container command (and args) to run',
    });
  }
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value === undefined) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `${where}: env ${e.name} has no value (valueFrom is not supported locally)`,
      );
    }
    env[e.name] = e.value;
  }
  const replicas = spec.replicas ?? 1;
  const scaling = scalingOf(where, replicas, container, hpa);
  const readinessPath = container.readinessProbe?.httpGet?.path ?? '/';
  return {
    template: JSON.stringify(sortKeys(spec.template ?? {})),
    replicas: hpa ? undefined : replicas,
    config: {
      name,
      ...scaling,
      initialReplicas: replicas,
      readinessPath,
      launch: (port) => {
        const vars = { ...env, PORT: String(port) };
        const argv = command.map((a) => expand(a, vars));
        return {
          command: argv[0]!,
          args: argv.slice(1),
          env: vars,
          ...(container.workingDir ? { cwd: container.workingDir } : {}),
        };
      },
    },
  };
}

function scalingOf(
  where: string,
  replicas: number,
  container: Container,
  hpa: ClusterObject | undefined,
): Pick<LocalTargetConfig, 'minReplicas' | 'maxReplicas'> & { autoscale?: AutoscalePolicy } {
  if (!hpa) return { minReplicas: replicas, maxReplicas: Math.max(1, replicas) };
  const spec = (hpa.spec ?? {}) as HpaSpec;
  const min = spec.minReplicas ?? 1;
  const max = spec.maxReplicas ?? Math.max(1, min);
  const metric = spec.metrics?.[0];
  let autoscale: AutoscalePolicy | undefined;
  if (metric?.type === 'Pods' && metric.pods?.metric?.name) {
    autoscale = {
      metric: 'queue-depth',
      metricName: metric.pods.metric.name,
      target: Number(metric.pods.target?.averageValue ?? 1),
    };
  } else if (metric?.type === 'Resource' && metric.resource?.name === 'cpu') {
    autoscale = {
      metric: 'cpu',
      targetPercent: metric.resource.target?.averageUtilization ?? 80,
      cpuPerReplica: cores(container.resources?.requests?.cpu ?? 1),
    };
  } else if (metric) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `${where}: the local cluster scales on CPU or a Pods metric, not ${metric.type}`,
    );
  }
  return { minReplicas: min, maxReplicas: max, ...(autoscale ? { autoscale } : {}) };
}

/** "500m" → 0.5, "2" → 2. */
function cores(value: string | number): number {
  const text = String(value);
  const n = text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
  return Number.isFinite(n) && n > 0 ? n : 1;
}

/** The kubelet's `$(VAR)` expansion: known variables replaced, `$$(` kept literal. */
export function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$(\$)?\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, escaped, name: string) =>
    escaped ? whole.slice(1) : (vars[name] ?? whole),
  );
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
