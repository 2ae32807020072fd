/**
 * What every renderer needs about each target, derived once from the spec and the plan, and
 * the checks that make render refuse a plan it cannot turn into correct files.
 */
import { McmlError, type Issue } from '../errors.js';
import type { Cloud, Placement, Plan } from '../plan/types.js';
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
  const ordered = plan.placements
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.tier - b.p.tier || a.i - b.i)
    .map((x) => x.p);
  const targets: RenderTarget[] = [];
  const localTargets: string[] = [];
  for (const placement of ordered) {
    const target = spec.targets.find((t) => t.name === placement.target)!;
    if (placement.provider === 'local') {
      localTargets.push(placement.target);
      continue;
    }
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
    // One replica per node: what the node keeps for itself leaves less than its size.
    const cpu = spec.service.resources.cpu;
    const memory = memoryGiB(spec.service.resources.memory);
    if (cpu > placement.vcpus - 0.25 || memory > placement.memoryGiB * 0.9) {
      warnings.push(
        `${placement.target}: a replica asks for ${cpu} vCPU / ${memory} GiB but ${placement.instanceType} has ${placement.vcpus} vCPU / ${placement.memoryGiB} GiB, part of which the node reserves; pods may stay Pending (lower service.resources)`,
      );
    }
    if (placement.replicas.min < 1) {
      warnings.push(
        `${placement.target}: the HPA keeps at least 1 replica (min 0 needs the HPAScaleToZero feature gate)`,
      );
    }
    const identity = options.identities?.[placement.target];
    if (identity === undefined) {
      warnings.push(
        `${placement.target}: no workload identity yet; after "mcml infra apply", render again with --identities (see docs/render.md)`,
      );
    }
    targets.push({
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
    });
  }
  if (localTargets.length > 0) {
    warnings.push(
      `local target${localTargets.length === 1 ? '' : 's'} ${localTargets.join(', ')}: run by "mcml up", nothing rendered`,
    );
  }
  return { spec, plan, namespace, serviceAccount: namespace, targets, localTargets, warnings };
}
