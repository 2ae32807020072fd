/**
 * What every renderer needs about each target, derived once from the spec and the plan, and
 * the checks that make render refuse a plan it cannot turn into correct files.
 */
import { McmlError, type Issue } from '../errors.js';
import type { Cloud, CloudPlacement, Placement, Plan } from '../plan/types.js';
import { memoryGiB } from '../spec/parse.js';
import type { Spec, Target } from '../spec/schema.js';
import {
  clusterName,
  modelPath,
  namespaceName,
  targetBucket,
  tfId,
  type BucketRef,
} from './names.js';

/** Values known only after `terraform apply`: the workload identity of each target. */
export interface WorkloadIdentity {
  /** ServiceAccount annotations, e.g. `eks.amazonaws.com/role-arn`. */
  annotations: Record<string, string>;
}

export interface RenderOptions {
  /** Per target: identity annotations from `terraform output -json workload_identities`. */
  identities?: Record<string, WorkloadIdentity>;
}

/** One target as the renderers see it. */
export interface RenderTarget {
  placement: Placement;
  target: Target;
  /** The cloud whose cluster it runs on (`local` targets are not rendered). */
  cloud: Cloud;
  /** Terraform identifier: `aws_primary`. */
  id: string;
  cluster: string;
  bucket: BucketRef;
  modelPath: string;
  image: string;
  env: Record<string, string>;
  identity: WorkloadIdentity | undefined;
  /** Smaller requests when one replica would not fit on its node's allocatable resources. */
  requests: { cpuMilli: number; memoryMi: number } | undefined;
}

export interface RenderContext {
  spec: Spec;
  plan: Plan;
  namespace: string;
  serviceAccount: string;
  /** Cloud targets in failover order (tier, then plan order). */
  targets: RenderTarget[];
  /** Targets that run on this machine (`mcml up`), not rendered. */
  localTargets: string[];
  warnings: string[];
}

/** Node CPU the kubelet and system reserve (the GKE/AKS formula; EKS reserves about as much). */
function reservedCpuMilli(vcpus: number): number {
  const tiers: [number, number][] = [
    [1, 0.06],
    [1, 0.01],
    [2, 0.005],
    [Infinity, 0.0025],
  ];
  let left = vcpus;
  let reserved = 0;
  for (const [cores, share] of tiers) {
    const n = Math.min(left, cores);
    reserved += n * share * 1000;
    left -= n;
  }
  return reserved;
}

/** Node memory the kubelet and system reserve, plus the eviction threshold (100 Mi). */
function reservedMemoryMi(gib: number): number {
  const tiers: [number, number][] = [
    [4, 0.25],
    [4, 0.2],
    [8, 0.1],
    [112, 0.06],
    [Infinity, 0.02],
  ];
  let left = gib;
  let reserved = 0;
  for (const [size, share] of tiers) {
    const n = Math.min(left, size);
    reserved += n * share * 1024;
    left -= n;
  }
  return reserved + 100;
}

/** Daemon sets every node runs (CNI, kube-proxy, logging, device plugin, metrics). */
const DAEMONSETS = { cpuMilli: 300, memoryMi: 600 };

/**
 * The requests one replica can have on its node, or undefined when the spec's fit as they are.
 * Exported for tests.
 */
export function fitRequests(
  spec: Spec,
  placement: Placement,
): { cpuMilli: number; memoryMi: number } | undefined {
  const wantCpu = Math.round(spec.service.resources.cpu * 1000);
  const wantMem = Math.round(memoryGiB(spec.service.resources.memory) * 1024);
  const cpu =
    Math.floor(
      (placement.vcpus * 1000 - reservedCpuMilli(placement.vcpus) - DAEMONSETS.cpuMilli) / 10,
    ) * 10;
  const mem =
    Math.floor(
      (placement.memoryGiB * 1024 - reservedMemoryMi(placement.memoryGiB) - DAEMONSETS.memoryMi) /
        16,
    ) * 16;
  if (wantCpu <= cpu && wantMem <= mem) return undefined;
  return { cpuMilli: Math.min(wantCpu, cpu), memoryMi: Math.min(wantMem, mem) };
}

/**
 * Checks that the plan belongs to the spec and is complete; throws PLAN_INFEASIBLE listing every
 * problem, so nothing is rendered from a plan with errors.
 */
export function checkPlan(spec: Spec, plan: Plan): void {
  const issues: Issue[] = [];
  const byName = new Map(spec.targets.map((t) => [t.name, t]));
  if (plan.service !== spec.service.name) {
    issues.push({
      path: 'plan.service',
      message: `is "${plan.service}" but the spec's service is "${spec.service.name}"`,
      hint: 'plan the same spec you render',
    });
  }
  if (plan.placements.length === 0) {
    issues.push({ path: 'plan.placements', message: 'is empty: no target could be placed' });
  }
  const seen = new Set<string>();
  plan.placements.forEach((p, i) => {
    const path = `plan.placements[${i}]`;
    if (!byName.has(p.target)) {
      issues.push({ path: `${path}.target`, message: `"${p.target}" is not a target of the spec` });
    }
    if (seen.has(p.target)) {
      issues.push({ path: `${path}.target`, message: `"${p.target}" is placed twice` });
    }
    seen.add(p.target);
    if (p.instanceType.trim() === '') {
      issues.push({ path: `${path}.instanceType`, message: 'is empty' });
    }
    if (!Number.isInteger(p.tier) || p.tier < 1) {
      issues.push({ path: `${path}.tier`, message: `must be an integer ≥ 1, got ${p.tier}` });
    }
    const r = p.replicas;
    if (r.max < 1 || r.min > r.max || r.min < 0) {
      issues.push({
        path: `${path}.replicas`,
        message: `min ${r.min} / max ${r.max} is not a valid range`,
      });
    }
    if (r.onDemand + r.spot !== r.min || r.onDemand < 0 || r.spot < 0) {
      issues.push({
        path: `${path}.replicas`,
        message: `on-demand ${r.onDemand} + spot ${r.spot} must equal min ${r.min}`,
      });
    }
    const wantsGpu = spec.service.resources.gpu;
    if (wantsGpu && p.provider !== 'local' && p.gpu === undefined) {
      issues.push({
        path: `${path}.gpu`,
        message: `the service needs ${wantsGpu.count}×${wantsGpu.model} but ${p.instanceType} has no GPU`,
      });
    }
  });
  if (issues.length > 0) {
    throw new McmlError('PLAN_INFEASIBLE', 'the plan has errors: nothing was rendered', {
      issues,
      hint: 'run "mcml plan" to see the placement, fix the spec and render again',
    });
  }
}

/** Builds the render context; throws PLAN_INFEASIBLE / INVALID_ARGUMENT on a bad plan. */
export function buildContext(spec: Spec, plan: Plan, options: RenderOptions = {}): RenderContext {
  checkPlan(spec, plan);
  const warnings: string[] = [];
  const namespace = namespaceName(spec.service.name);
  const targets: RenderTarget[] = [];
  const localTargets: string[] = [];
  for (const placement of failoverOrder(plan)) {
    if (placement.provider === 'local') localTargets.push(placement.target);
    else targets.push(renderTarget(spec, placement, options, warnings));
  }
  if (localTargets.length > 0) {
    warnings.push(
      `local target${localTargets.length === 1 ? '' : 's'} ${localTargets.join(', ')}: run by "mcml up", nothing rendered`,
    );
  }
  return { spec, plan, namespace, serviceAccount: namespace, targets, localTargets, warnings };
}

/** The placements by tier, then plan order. */
function failoverOrder(plan: Plan): Placement[] {
  return plan.placements
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.tier - b.p.tier || a.i - b.i)
    .map((x) => x.p);
}

/** One cloud target as the renderers see it; adds what the user should know to `warnings`. */
function renderTarget(
  spec: Spec,
  placement: CloudPlacement,
  options: RenderOptions,
  warnings: string[],
): RenderTarget {
  const target = spec.targets.find((t) => t.name === placement.target)!;
  const bucket = ownCloudBucket(spec, placement);
  // One replica per node, but the node keeps part of itself: ask for what is allocatable.
  const fit = fitRequests(spec, placement);
  const identity = options.identities?.[placement.target];
  warnings.push(...targetWarnings(placement, fit, identity));
  return {
    placement,
    target,
    cloud: placement.cloud,
    id: tfId(placement.target),
    cluster: clusterName(spec.service.name, placement.target),
    bucket,
    modelPath: modelPath(spec.service.model.uri, bucket),
    image: target.overrides?.image ?? spec.service.image,
    env: { ...spec.service.env, ...(target.overrides?.env ?? {}) },
    identity,
    requests: fit,
  };
}

/** The target's bucket; throws INVALID_ARGUMENT when it is on another cloud than the target. */
function ownCloudBucket(spec: Spec, placement: Placement): BucketRef {
  const bucket = targetBucket(spec.service.name, placement);
  if (bucket.cloud !== placement.cloud) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `target "${placement.target}" runs on ${placement.cloud} but its bucket ${placement.bucket ?? ''} is on ${bucket.cloud}`,
      {
        hint: "give each target a bucket in its own cloud (workload identity grants access to the target's cloud only); mcml data sync copies the model there",
      },
    );
  }
  return bucket;
}

/** What rendering this target leaves to the user: smaller requests, min 0, no identity yet. */
function targetWarnings(
  placement: Placement,
  fit: RenderTarget['requests'],
  identity: WorkloadIdentity | undefined,
): string[] {
  const warnings: string[] = [];
  if (fit !== undefined) {
    warnings.push(
      `${placement.target}: ${placement.instanceType} (${placement.vcpus} vCPU / ${placement.memoryGiB} GiB) has about ${fit.cpuMilli / 1000} vCPU / ${fit.memoryMi} Mi allocatable, so its pods request that (limits stay as in the spec)`,
    );
  }
  if (placement.replicas.min < 1) {
    warnings.push(
      `${placement.target}: the HPA keeps at least 1 replica (min 0 needs the HPAScaleToZero feature gate)`,
    );
  }
  if (identity === undefined) {
    warnings.push(
      `${placement.target}: no workload identity yet; after "mcml infra apply", render again with --identities (see docs/render.md)`,
    );
  }
  return warnings;
}
