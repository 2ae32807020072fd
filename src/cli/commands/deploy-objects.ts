/**
 * The objects `mcml deploy`, `deploy diff` and `deploy rollback` apply: the spec rendered in
 * memory (with the workload identities `mcml infra apply` recorded), each target's objects built
 * as `kubectl kustomize` would build its overlay, what they deploy noted for status and
 * rollback, and where the health gate asks the model. Loaded only by the commands that apply
 * (`deploy status` reads what the clusters hold and needs none of it).
 */
import { join } from 'node:path';
import { render, type WorkloadIdentity } from '../../core/render/index.js';
import type { Plan } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';
import { targetObjects, type InferenceProbe } from '../../engines/deploy/index.js';
import type { ApplySet, ClusterObject } from '../../ports/cluster.js';
import { readJsonFile, readOptionalJson } from '../json-file.js';
import { VERSION } from '../version.js';
import type { DeploySourceOptions } from './deploy-targets.js';
import { parseIdentities } from './render-run.js';

/** Renders once; then, per target, its objects as one owner and its inference probe. */
export async function renderTargets(
  spec: Spec,
  plan: Plan,
  options: DeploySourceOptions,
): Promise<(target: string) => { set: ApplySet; probe?: InferenceProbe }> {
  const files = await renderedFiles(spec, plan, options);
  return (target) => {
    const set = renderedSet(spec, files, target);
    const probe = probeOf(spec, set.objects, set.namespace);
    return { set, ...(probe ? { probe } : {}) };
  };
}

/** The rendered files, with the workload identities `mcml infra apply` recorded, if any. */
async function renderedFiles(
  spec: Spec,
  plan: Plan,
  options: DeploySourceOptions,
): Promise<Record<string, string>> {
  const identitiesFile = options.identities ?? join(options.out ?? 'out', 'identities.json');
  const rawIdentities =
    options.identities !== undefined
      ? await readJsonFile(identitiesFile, 'identities file')
      : await readOptionalJson(identitiesFile);
  const identities: Record<string, WorkloadIdentity> | undefined =
    rawIdentities === undefined ? undefined : parseIdentities(rawIdentities, identitiesFile);
  return render(spec, plan, identities === undefined ? {} : { identities }).files;
}

/** One target's objects as one owner, with what they deploy noted for status and rollback. */
function renderedSet(spec: Spec, files: Record<string, string>, target: string): ApplySet {
  const objects = targetObjects(files, target);
  const namespace = objects.find((o) => o.kind === 'Namespace')?.metadata.name ?? spec.service.name;
  return {
    name: spec.service.name,
    namespace,
    objects,
    note: { ...imageAndModel(objects, spec.service.name), cause: `mcml ${VERSION} deploy` },
  };
}

/** The first container image and the MODEL_PATH of the set's service Deployment. */
function imageAndModel(
  objects: ClusterObject[],
  service: string,
): { image?: string; model?: string } {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === service) as
    | {
        spec?: {
          template?: {
            spec?: { containers?: { image?: string; env?: { name: string; value?: string }[] }[] };
          };
        };
      }
    | undefined;
  const c = d?.spec?.template?.spec?.containers?.[0];
  const model = c?.env?.find((e) => e.name === 'MODEL_PATH')?.value;
  return { ...(c?.image ? { image: c.image } : {}), ...(model ? { model } : {}) };
}

/** Where the model answers: the service's Service, its first port. */
function probeOf(
  spec: Spec,
  objects: ClusterObject[],
  namespace: string,
): InferenceProbe | undefined {
  const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === spec.service.name) as
    { spec?: { ports?: { port?: number }[] } } | undefined;
  const port = svc?.spec?.ports?.[0]?.port;
  if (port === undefined) return undefined;
  return {
    namespace,
    service: spec.service.name,
    port,
    model: spec.service.model.name ?? spec.service.name,
  };
}
