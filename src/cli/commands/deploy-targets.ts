/**
 * What every `mcml deploy` command starts from: the spec planned and rendered in memory, each
 * cloud target's objects built as `kubectl kustomize` would build its overlay
 * (`deploy-objects.ts`), and one Kubernetes cluster per target bound to its kubeconfig context. The context comes from
 * `targets[].context`, else from the contexts `mcml infra apply` wrote (<out>/contexts.json),
 * else the command stops with a message saying how to name it.
 */
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  KubernetesCluster,
  kubeconfigFiles,
  loadKubeConfig,
} from '../../adapters/kubernetes/index.js';
import { McmlError } from '../../core/errors.js';
import { planDocument } from '../../core/plan/planner.js';
import type { Placement, Plan } from '../../core/plan/types.js';
import { namespaceName } from '../../core/render/names.js';
import type { Spec } from '../../core/spec/index.js';
import type { ApplySet } from '../../ports/cluster.js';
import type { DeployTarget } from '../../engines/deploy/index.js';
import { loadCatalog } from '../catalog-files.js';
import { readJsonFile, readOptionalJson } from '../json-file.js';
import { DEFAULT_SPEC_FILE, givenSpecFile, loadSpecFile } from '../spec-file.js';
import { VERSION } from '../version.js';

/** Flags every deploy command shares. */
export interface DeploySourceOptions {
  file?: string;
  out?: string;
  catalog?: string;
  plan?: string;
  identities?: string;
  kubeconfig?: string;
  /** Per-request limit towards one API server (ms). */
  requestTimeoutMs?: number;
}

/** The file `mcml infra apply` writes: target → kubeconfig context. */
export const CONTEXTS_FILE = 'contexts.json';

/** The contexts `mcml infra apply` recorded, or an empty map. */
async function recordedContexts(out: string): Promise<Record<string, string>> {
  const file = join(out, CONTEXTS_FILE);
  const value = await readOptionalJson(file);
  if (value === undefined) return {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new McmlError('INVALID_ARGUMENT', `${file} is not a map of target → context`, {
      hint: 'mcml infra apply writes it; delete it and run that again, or set targets[].context',
    });
  }
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** The cloud targets of the plan (local targets are what `mcml up` runs). */
function cloudPlacements(plan: Plan): Placement[] {
  const cloud = plan.placements.filter((p) => p.provider !== 'local');
  if (cloud.length === 0) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      'the spec has no aws, gcp or azure target to deploy to',
      {
        hint: 'local targets run on this machine with "mcml up"; add a cloud target with a kubeconfig context to deploy to a cluster',
      },
    );
  }
  return cloud;
}

function contextOf(p: Placement, recorded: Record<string, string>, out: string): string {
  const context = p.context ?? recorded[p.target];
  if (context !== undefined) return context;
  throw new McmlError('INVALID_ARGUMENT', `target "${p.target}" has no kubeconfig context`, {
    hint: `set targets[].context for "${p.target}" in the spec (kubectl config get-contexts lists them), or run "mcml infra apply -o ${out}", which records the context of each cluster it creates in ${join(out, CONTEXTS_FILE)}`,
    details: { target: p.target },
  });
}

export interface DeploySource {
  spec: Spec;
  plan: Plan;
  kubeconfig: KubeConfig;
  targets: DeployTarget[];
  /** The owner of the objects on every cluster. */
  set: { name: string; namespace: string };
}

/**
 * Plans, renders and binds every cloud target to its cluster. Everything that can be wrong in
 * the input (the spec, a context, the kubeconfig) fails here, before any cluster is touched.
 *
 * `objects: false` binds the targets without rendering (`deploy status` reads only what the
 * clusters hold, by the owner's name and namespace): the render, the kustomize build
 * and the deploy engine's modules are most of a short command's work.
 */
export async function loadDeploySource(
  fileArg: string | undefined,
  options: DeploySourceOptions,
  what: { objects?: boolean } = {},
): Promise<DeploySource> {
  const out = options.out ?? 'out';
  const file = givenSpecFile(fileArg, options.file) ?? DEFAULT_SPEC_FILE;
  const doc = await loadSpecFile(file);
  const plan =
    options.plan !== undefined
      ? ((await readJsonFile(options.plan, 'plan')) as Plan)
      : planDocument(doc, await loadCatalog(options.catalog));
  // The render, kustomize and the deploy engine load only for the commands that apply.
  const rendered =
    what.objects === false
      ? undefined
      : await (await import('./deploy-objects.js')).renderTargets(doc.spec, plan, options);
  const placements = cloudPlacements(plan);
  const recorded = await recordedContexts(out);
  const contexts = placements.map((p) => contextOf(p, recorded, out));
  const kubeconfig = loadKubeConfig(kubeconfigFiles(options.kubeconfig));
  const targets = placements.map((p, i): DeployTarget => {
    const { set, probe } = rendered ? rendered(p.target) : { set: emptySet(doc.spec) };
    const cluster = new KubernetesCluster({
      target: p.target,
      context: contexts[i]!,
      kubeconfig,
      ...(options.requestTimeoutMs === undefined
        ? {}
        : { requestTimeoutMs: options.requestTimeoutMs }),
    });
    return { name: p.target, tier: p.tier, cluster, set, ...(probe ? { probe } : {}) };
  });
  const first = targets[0]!.set;
  return {
    spec: doc.spec,
    plan,
    kubeconfig,
    targets,
    set: { name: first.name, namespace: first.namespace },
  };
}

/** The owner without objects: its name and the namespace the render would give it. */
function emptySet(spec: Spec): ApplySet {
  const name = spec.service.name;
  return {
    name,
    namespace: namespaceName(name),
    objects: [],
    note: { cause: `mcml ${VERSION} deploy` },
  };
}

/** Keeps the targets named (all when none is); an unknown name is a usage error. */
export function selectTargets(targets: DeployTarget[], names: string[]): DeployTarget[] {
  if (names.length === 0) return targets;
  const known = targets.map((t) => t.name);
  for (const n of names) {
    if (!known.includes(n)) {
      throw new McmlError('USAGE', `"${n}" is not a cloud target of the spec`, {
        hint: `targets: ${known.join(', ')}`,
      });
    }
  }
  return targets.filter((t) => names.includes(t.name));
}
