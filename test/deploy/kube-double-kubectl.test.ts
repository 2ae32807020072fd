/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON/YAML documents */
/**
 * The Kubernetes API server double, checked by the real kubectl: server-side apply, conflicts
 * and --force-conflicts, server-side dry run, rollout status (success and a progress deadline
 * exceeded), get with server-side printing, delete, wrong credentials and RBAC refusals all
 * behave as against a cluster. What mcml's adapter applies, kubectl sees as applied by `mcml`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesCluster } from '../../src/adapters/kubernetes/index.js';
import { targetObjects } from '../../src/engines/deploy/kustomize.js';
import { startKubeApi, type KubeApiDouble } from '../doubles/kube-apiserver.js';
import { examplePlan } from '../render/fixtures.js';
import { MISSING_TAG } from './kube-fixture.js';

let api: KubeApiDouble;
let home: string;
let manifests: string;
const objects = targetObjects(examplePlan('three-clouds').files, 'gcp-usc1');
const ns = objects.find((o) => o.kind === 'Namespace')!.metadata.name;
const deployment = objects.find(
  (o) => o.kind === 'Deployment' && o.metadata.name === 'ml-inference',
)!;

/** The ApplySet parent's contains-group-kinds for these objects: Kind.group, sorted. */
const groupKinds = [
  ...new Set(
    objects.map((o) => {
      const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
      return group ? `${o.kind}.${group}` : o.kind;
    }),
  ),
]
  .sort()
  .join(',');

function kubectl(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      'kubectl',
      args,
      {
        env: { ...process.env, HOME: home, KUBECONFIG: join(home, 'config'), ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
          reject(
            new Error('kubectl is missing: install it (https://kubernetes.io/docs/tasks/tools/)'),
          );
          return;
        }
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

beforeAll(async () => {
  api = await startKubeApi({
    name: 'gke',
    rolloutDelayMs: 300,
    failImage: (i) => i.endsWith(MISSING_TAG),
  });
  home = mkdtempSync(join(tmpdir(), 'mcml-kubectl-'));
  writeFileSync(join(home, 'config'), api.kubeconfig('gke'));
  manifests = join(home, 'manifests.yaml');
  writeFileSync(manifests, objects.map((o) => stringify(o)).join('---\n'));
});

afterAll(async () => {
  await api?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('the Kubernetes API double, driven by kubectl', { timeout: 120_000 }, () => {
  it('takes kubectl apply --server-side and reports each object applied', async () => {
    const r = await kubectl(['apply', '--server-side', '-f', manifests]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const o of objects) expect(r.stdout).toContain(`${o.metadata.name} serverside-applied`);
    expect(api.list('apps/v1', 'Deployment', ns)).toHaveLength(
      objects.filter((o) => o.kind === 'Deployment').length,
    );
  });

  it('follows the rollout with kubectl rollout status, and prints kubectl get tables', async () => {
    const r = await kubectl([
      'rollout',
      'status',
      'deployment/ml-inference',
      '-n',
      ns,
      '--timeout=60s',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deployment "ml-inference" successfully rolled out/);
    const get = await kubectl(['get', 'deployments', '-n', ns]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
    expect(get.stdout).toMatch(/ml-inference\s+1\/1\s+1\s+1\s+\d+s/);
    const json = await kubectl(['get', 'deployment', 'ml-inference', '-n', ns, '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      kind: 'Deployment',
      status: { observedGeneration: 1, updatedReplicas: 1, availableReplicas: 1 },
    });
  });

  it('reports field conflicts between managers, and takes them with --force-conflicts', async () => {
    const changed = join(home, 'changed.yaml');
    writeFileSync(
      changed,
      stringify({
        ...deployment,
        spec: { ...(deployment.spec as object), revisionHistoryLimit: 9 },
      }),
    );
    const conflict = await kubectl([
      'apply',
      '--server-side',
      '--field-manager=mcml',
      '-f',
      changed,
    ]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/conflict with "kubectl"[^\n]*\.spec\.revisionHistoryLimit/);
    const forced = await kubectl([
      'apply',
      '--server-side',
      '--field-manager=mcml',
      '--force-conflicts',
      '-f',
      changed,
    ]);
    expect(forced.code).toBe(0);
    const fields = await kubectl([
      'get',
      'deployment',
      'ml-inference',
      '-n',
      ns,
      '-o',
      'json',
      '--show-managed-fields',
    ]);
    const managers = JSON.parse(fields.stdout).metadata.managedFields as {
      manager: string;
      fieldsV1: any;
    }[];
    const mcml = managers.find((m) => m.manager === 'mcml')!;
    expect(mcml.fieldsV1['f:spec']['f:revisionHistoryLimit']).toEqual({});
    const kubectlManager = managers.find((m) => m.manager === 'kubectl')!;
    expect(kubectlManager.fieldsV1['f:spec']['f:revisionHistoryLimit']).toBeUndefined();
  });

  it('changes nothing on --dry-run=server', async () => {
    // The controller loop keeps moving status on its own; a dry run must leave the object's
    // desired state (spec, generation, field ownership) untouched.
    const desired = (o: Record<string, unknown> | undefined) => {
      const meta = (o?.metadata ?? {}) as Record<string, unknown>;
      // The controller's own status writes (subresource status) keep moving too.
      const managedFields = (meta.managedFields as { subresource?: string }[] | undefined)?.filter(
        (m) => m.subresource !== 'status',
      );
      return { spec: o?.spec, generation: meta.generation, managedFields };
    };
    const before = desired(api.get('apps/v1', 'Deployment', ns, 'ml-inference'));
    const changed = join(home, 'dry.yaml');
    writeFileSync(
      changed,
      stringify({
        ...deployment,
        spec: { ...(deployment.spec as object), revisionHistoryLimit: 3 },
      }),
    );
    const r = await kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--dry-run=server',
      '-f',
      changed,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/serverside-applied \(server dry run\)/);
    expect(desired(api.get('apps/v1', 'Deployment', ns, 'ml-inference'))).toEqual(before);
  });

  it('fails kubectl rollout status when the progress deadline is exceeded', async () => {
    const broken = join(home, 'broken.yaml');
    const bad = JSON.parse(
      JSON.stringify(deployment).replace(
        /"image":"[^"]+"/,
        `"image":"ghcr.io/mcml-dev/mcml${MISSING_TAG}"`,
      ),
    );
    writeFileSync(broken, stringify(bad));
    expect(
      (await kubectl(['apply', '--server-side', '--force-conflicts', '-f', broken])).code,
    ).toBe(0);
    const r = await kubectl([
      'rollout',
      'status',
      'deployment/ml-inference',
      '-n',
      ns,
      '--timeout=60s',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deployment "ml-inference" exceeded its progress deadline/);
    const events = await kubectl(['get', 'events', '-n', ns, '-o', 'json']);
    expect(events.stdout).toMatch(/Failed to pull image/);
  });

  it("shows what mcml's adapter applies as applied by field manager mcml, with ApplySet labels", async () => {
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig('gke'));
    const cluster = new KubernetesCluster({ target: 'gcp-usc1', context: 'gke', kubeconfig: kc });
    await cluster.apply({ name: 'ml-inference', namespace: ns, objects }, { force: true });
    const r = await kubectl([
      'get',
      'service',
      'ml-inference',
      '-n',
      ns,
      '-o',
      'json',
      '--show-managed-fields',
    ]);
    const svc = JSON.parse(r.stdout);
    expect(svc.metadata.labels['applyset.kubernetes.io/part-of']).toMatch(
      /^applyset-[\w-]{43}-v1$/,
    );
    expect(
      svc.metadata.managedFields.map((m: { manager: string; operation: string }) => [
        m.manager,
        m.operation,
      ]),
    ).toContainEqual(['mcml', 'Apply']);
    const parent = await kubectl(['get', 'secret', 'mcml-ml-inference', '-n', ns, '-o', 'json']);
    expect(
      JSON.parse(parent.stdout).metadata.annotations['applyset.kubernetes.io/contains-group-kinds'],
    ).toBe(groupKinds);
  });

  it('deletes, refuses a wrong token, and refuses what RBAC forbids', async () => {
    const del = await kubectl(['delete', 'poddisruptionbudget', 'ml-inference', '-n', ns]);
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/poddisruptionbudget.policy "ml-inference" deleted/);
    const wrong = join(home, 'wrong');
    writeFileSync(wrong, api.kubeconfig('gke').replace(api.token, 'not-the-token'));
    const unauthorized = await kubectl(['get', 'pods', '-n', ns], { KUBECONFIG: wrong });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/Unauthorized/);
    api.forbid('list', 'services');
    const forbidden = await kubectl(['get', 'services', '-n', ns]);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(
      /services is forbidden: User "[^"]+" cannot list resource "services"/,
    );
  });
});
