/**
 * `mcml deploy` on bad input, through the built CLI against three API server doubles: a
 * context missing from the kubeconfig or the spec, a refused credential, a kind one cluster
 * forbids, a kind one cluster does not serve, and an immutable field. Each names the target
 * and the object, exits 2, and says what it left applied — nothing half-done goes unreported.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NS, deploy, outcome, specText, threeClusters, type Clusters } from './deploy-clusters.js';
import { expectCleanInputError } from './clean-error.js';

const open: Clusters[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
});

async function clusters(options: Parameters<typeof threeClusters>[0] = {}): Promise<Clusters> {
  const c = await threeClusters(options);
  open.push(c);
  return c;
}

const patched = (c: Clusters) => c.log.filter((r) => r.method === 'PATCH').length;

describe('mcml deploy on bad input', { timeout: 300_000 }, () => {
  it('names the target and the contexts there are when a context is missing', async () => {
    const c = await clusters();
    writeFileSync(
      join(c.dir, 'mcml.yaml'),
      specText({ contexts: { 'aws-use1': 'nope', 'gcp-usc1': 'gcp', 'azure-eus': 'azure' } }),
    );
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml']);
    expectCleanInputError(run, /target "aws-use1": context "nope" is not in the kubeconfig/);
    expect(run.stderr).toMatch(/contexts there: aws, gcp, azure/);
    expect(c.log).toHaveLength(0);
  });

  it('asks for a context when neither the spec nor mcml infra apply names one', async () => {
    const c = await clusters();
    writeFileSync(join(c.dir, 'mcml.yaml'), specText({ contexts: {} }));
    const run = await deploy(c, ['deploy', 'diff', '-f', 'mcml.yaml']);
    expectCleanInputError(run, /target "aws-use1" has no kubeconfig context/);
    expect(run.stderr).toMatch(/set targets\[\]\.context .* or run "mcml infra apply -o out"/);
    // What `mcml infra apply` records is the default.
    mkdirSync(join(c.dir, 'out'));
    writeFileSync(
      join(c.dir, 'out', 'contexts.json'),
      JSON.stringify({ 'aws-use1': 'aws', 'gcp-usc1': 'gcp', 'azure-eus': 'azure' }),
    );
    const diff = await deploy(c, ['deploy', 'diff', '-f', 'mcml.yaml']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(/gcp-usc1 \(context "gcp"/);
    expect(diff.stdout).toMatch(/\+ created Deployment ml-inference\/ml-inference/);
    expect(patched(c) > 0).toBe(true); // dry-run patches …
    expect(c.apis['gcp-usc1'].get('apps/v1', 'Deployment', NS, 'ml-inference')).toBeUndefined();
  });

  it('stops before touching any cluster when one refuses the credentials (401)', async () => {
    const c = await clusters({ tokens: { 'gcp-usc1': 'expired-token' } });
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml']);
    expectCleanInputError(
      run,
      /target "gcp-usc1" \(context "gcp", https:\/\/127\.0\.0\.1:\d+\) refused the credentials \(401 Unauthorized\)/,
    );
    expect(run.stderr).toMatch(
      /hint: the token or certificate in the kubeconfig is wrong or expired/,
    );
    expect(run.stderr).not.toMatch(/expired-token/);
    expect(patched(c)).toBe(0);
  });

  it('reports a kind one cluster forbids (403), and what it had applied there', async () => {
    const c = await clusters();
    c.apis['gcp-usc1'].forbid('patch', 'horizontalpodautoscalers');
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml', '--all-at-once', '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error: deploy failed: gcp-usc1 failed/);
    const gcp = outcome(run, 'gcp-usc1');
    expect(gcp.phase).toBe('failed');
    expect(gcp.error.code).toBe('PERMISSION_DENIED');
    expect(gcp.error.message).toMatch(
      /target "gcp-usc1" .*: not allowed to apply HorizontalPodAutoscaler ml-inference\/ml-inference: .*forbidden/,
    );
    expect(gcp.error.message).toMatch(/already applied on this cluster: Namespace ml-inference, /);
    expect(gcp.state).toMatch(
      /partly applied, which failed \(no earlier revision to roll back to\)/,
    );
    expect(outcome(run, 'aws-use1').phase).toBe('done');
    expect(outcome(run, 'azure-eus').phase).toBe('done');
  });

  it('reports a kind a cluster does not serve (a CRD not installed) and halts later waves', async () => {
    const c = await clusters({
      withoutKinds: { 'azure-eus': ['autoscaling/v2/HorizontalPodAutoscaler'] },
    });
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml']);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(
      /azure-eus: target "azure-eus" .*: the cluster does not serve autoscaling\/v2 HorizontalPodAutoscaler \(needed by HorizontalPodAutoscaler ml-inference\/ml-inference\)/,
    );
    expect(run.stdout).toMatch(/hint: install the CustomResourceDefinition/);
    expect(run.stdout).toMatch(/azure-eus\s+failed\s+-\s+untouched/);
    expect(run.stdout).toMatch(/gcp-usc1\s+halted\s+-\s+untouched: an earlier wave failed/);
    expect(run.stderr).toMatch(
      /error: deploy failed: azure-eus failed, gcp-usc1 halted, aws-use1 halted/,
    );
    expect(patched(c)).toBe(0);
  });

  it('reports an immutable field by target and object, with what to do', async () => {
    const c = await clusters();
    const legacy = { 'app.kubernetes.io/name': 'legacy' };
    c.apis['aws-use1'].put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    c.apis['aws-use1'].put(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ml-inference', namespace: NS },
        spec: {
          selector: { matchLabels: legacy },
          template: {
            metadata: { labels: legacy },
            spec: { containers: [{ name: 'server', image: 'legacy:1' }] },
          },
        },
      },
      'kubectl-client-side-apply',
    );
    // The fields the other tool manages are not taken silently …
    const conflict = await deploy(c, ['deploy', '-f', 'mcml.yaml', '--all-at-once']);
    expect(conflict.code).toBe(2);
    expect(conflict.stdout).toMatch(
      /aws-use1: target "aws-use1" .*: Deployment ml-inference\/ml-inference has \d+ fields managed by another tool/,
    );
    expect(conflict.stdout).toMatch(
      /\.spec\.selector\.matchLabels\.app\.kubernetes\.io\/name: managed by "kubectl-client-side-apply"/,
    );
    expect(conflict.stdout).toMatch(
      /hint: mcml does not take fields silently: pass --force-conflicts/,
    );
    // … and taken with --force-conflicts, the selector still cannot change in place.
    const run = await deploy(c, [
      'deploy',
      '-f',
      'mcml.yaml',
      '--all-at-once',
      '--force-conflicts',
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(
      /aws-use1: target "aws-use1" .*: the cluster refuses Deployment ml-inference\/ml-inference: .*spec\.selector: .*field is immutable/,
    );
    expect(run.stdout).toMatch(/hint: an immutable field cannot change in place/);
    expect(run.stdout).toMatch(/aws-use1\s+failed\s+-\s+partly applied/);
  });

  it('refuses bad flags before anything runs', async () => {
    const c = await clusters();
    expectCleanInputError(
      await deploy(c, ['deploy', '-f', 'mcml.yaml', '--order', 'sideways']),
      /--order must be lowest-risk or primary-first/,
    );
    expectCleanInputError(
      await deploy(c, ['deploy', '-f', 'mcml.yaml', '--gate', 'up == 1']),
      /--gate and --prometheus-url go together/,
    );
    expectCleanInputError(
      await deploy(c, ['deploy', '-f', 'mcml.yaml', '--waves', 'aws-use1;gcp-usc1']),
      /--waves leaves out azure-eus/,
    );
    expect(c.log).toHaveLength(0);
  });
});
