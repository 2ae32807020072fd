/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- parsed JSON events and objects */
/**
 * `mcml deploy` end to end on the built CLI: three clusters (three Kubernetes API server
 * doubles, one kubeconfig with three contexts), the spec planned and rendered in the CLI, and
 * every request going over the wire as the real client sends it. Waves run in order, targets of
 * a wave at once, a failing gate rolls its target back and halts the later waves, a new model
 * rolls out wave by wave, prune removes only what mcml created, a rollback restores an earlier
 * revision exactly, and a dead cluster is retried then reported.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApiDouble, RequestRecord } from '../doubles/kube-apiserver.js';
import {
  CONTEXTS,
  NS,
  deploy,
  events,
  outcome,
  report,
  specText,
  threeClusters,
  type Clusters,
  type Target,
} from './deploy-clusters.js';
import type { Run } from './run.js';

function waveEvents(run: Run): string[] {
  return events(run)
    .filter((e) => e.type === 'wave')
    .map((e) => `${e.wave} ${e.state} ${(e.targets as string[]).join(',')}`);
}
function modelPath(api: KubeApiDouble): string | undefined {
  const d = api.get('apps/v1', 'Deployment', NS, 'ml-inference') as any;
  return (d?.spec.template.spec.containers[0].env as { name: string; value: string }[]).find(
    (e) => e.name === 'MODEL_PATH',
  )?.value;
}

/** Every object mcml owns on a cluster, as desired (what the user's spec made), sorted. */
function ownedObjects(api: KubeApiDouble): string {
  const kinds = [
    ['v1', 'ConfigMap'],
    ['v1', 'Service'],
    ['v1', 'ServiceAccount'],
    ['apps/v1', 'Deployment'],
    ['autoscaling/v2', 'HorizontalPodAutoscaler'],
    ['policy/v1', 'PodDisruptionBudget'],
  ] as const;
  const owned = kinds.flatMap(([v, k]) =>
    api
      .list(v, k, NS)
      .filter((o: any) => o.metadata.labels?.['applyset.kubernetes.io/part-of'] !== undefined)
      .map((o: any) => {
        const annotations = Object.fromEntries(
          Object.entries((o.metadata.annotations ?? {}) as Record<string, string>).filter(
            ([key]) => !key.startsWith('deployment.kubernetes.io/'),
          ),
        );
        return JSON.stringify({
          kind: k,
          name: o.metadata.name,
          labels: o.metadata.labels,
          annotations,
          spec: o.spec,
          data: o.data,
        });
      }),
  );
  return owned.sort().join('\n');
}

const patches = (log: RequestRecord[], cluster: string) =>
  log.filter((r) => r.cluster === cluster && r.method === 'PATCH').map((r) => r.at);

describe('mcml deploy on three clusters', { timeout: 300_000 }, () => {
  let c: Clusters;
  let awsAtRevision1 = '';
  beforeAll(async () => {
    c = await threeClusters();
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('rolls out wave by wave, standby first, every target gated on a real inference', async () => {
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml', '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(waveEvents(run)).toEqual([
      '1 started azure-eus',
      '1 passed azure-eus',
      '2 started gcp-usc1',
      '2 passed gcp-usc1',
      '3 started aws-use1',
      '3 passed aws-use1',
    ]);
    // No object is applied to a later wave's cluster before the earlier wave has finished.
    expect(Math.max(...patches(c.log, 'azure'))).toBeLessThan(Math.min(...patches(c.log, 'gcp')));
    expect(Math.max(...patches(c.log, 'gcp'))).toBeLessThan(Math.min(...patches(c.log, 'aws')));
    for (const t of Object.keys(CONTEXTS) as Target[]) {
      expect(outcome(run, t)).toMatchObject({ phase: 'done', revision: 1 });
      const gates = outcome(run, t).gates as { gate: string; ok: boolean; message: string }[];
      expect(gates[0]).toMatchObject({ gate: 'health', ok: true });
      expect(gates[0]!.message).toMatch(/model iris answered an inference/);
      expect(modelPath(c.apis[t])).toMatch(/iris-1\.onnx$/);
    }
    awsAtRevision1 = ownedObjects(c.apis['aws-use1']);

    const status = await deploy(c, ['deploy', 'status', '-f', 'mcml.yaml', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const rows = JSON.parse(status.stdout) as Record<string, any>[];
    expect(rows.map((r) => [r.target, r.revision, r.phase])).toEqual([
      ['aws-use1', 1, 'complete'],
      ['gcp-usc1', 1, 'complete'],
      ['azure-eus', 1, 'complete'],
    ]);
    expect(rows[0]!.model).toBe('s3://acme-use1/models/iris-1.onnx');
    expect(rows[0]!.image).toBe('ghcr.io/mcml-dev/mcml:0.1.0');
    const table = await deploy(c, ['deploy', 'status', '-f', 'mcml.yaml']);
    expect(table.stdout).toMatch(
      /TARGET\s+REVISION\s+STATE\s+IMAGE\s+MODEL\s+DESIRED\s+UPDATED\s+READY\s+AVAILABLE\s+CONDITIONS\s+AGE/,
    );
    expect(table.stdout).toMatch(
      /azure-eus\s+1\s+complete\s+ghcr\.io\/mcml-dev\/mcml:0\.1\.0\s+az:\/\/\S+iris-1\.onnx/,
    );
  });

  it('rolls a new model URI out through the same waves, diff showing it first', async () => {
    writeFileSync(join(c.dir, 'mcml.yaml'), specText({ model: 'iris-2.onnx' }));
    const diff = await deploy(c, ['deploy', 'diff', '-f', 'mcml.yaml']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(/aws-use1 \(context "aws"/);
    expect(diff.stdout).toMatch(/~ configured Deployment ml-inference\/ml-inference/);
    expect(diff.stdout).toMatch(/- \s*value: s3:\/\/acme-use1\/models\/iris-1\.onnx/);
    expect(diff.stdout).toMatch(/\+ \s*value: s3:\/\/acme-use1\/models\/iris-2\.onnx/);
    expect(modelPath(c.apis['aws-use1'])).toMatch(/iris-1\.onnx$/); // a dry run changes nothing

    c.log.length = 0;
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml', '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(waveEvents(run).filter((w) => w.includes('passed'))).toEqual([
      '1 passed azure-eus',
      '2 passed gcp-usc1',
      '3 passed aws-use1',
    ]);
    expect(Math.max(...patches(c.log, 'azure'))).toBeLessThan(Math.min(...patches(c.log, 'gcp')));
    expect(Math.max(...patches(c.log, 'gcp'))).toBeLessThan(Math.min(...patches(c.log, 'aws')));
    for (const t of Object.keys(CONTEXTS) as Target[]) {
      expect(outcome(run, t)).toMatchObject({ phase: 'done', revision: 2, previous: 1 });
      expect(modelPath(c.apis[t])).toMatch(/iris-2\.onnx$/);
    }
  });

  it('runs every target of a wave at once, and prunes only the objects mcml created', async () => {
    for (const t of Object.keys(CONTEXTS) as Target[]) {
      c.apis[t].put({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'team-notes', namespace: NS },
        data: { owner: 'someone else' },
      });
      c.apis[t].controller.hold();
    }
    const before = c.apis['gcp-usc1']
      .list('v1', 'ConfigMap', NS)
      .map((o: any) => o.metadata.name as string)
      .filter((n) => n.startsWith('mcml-prometheus-'));
    expect(before).toHaveLength(1);
    // A new scrape interval renames the generated Prometheus ConfigMap: the old one is pruned.
    writeFileSync(join(c.dir, 'mcml.yaml'), specText({ model: 'iris-2.onnx', scrape: '30s' }));
    const sent = (Object.keys(CONTEXTS) as Target[]).map((t) => c.apis[t].requests.length);
    // One cluster far away: the others still send no Service before its rollout has started.
    c.apis['azure-eus'].latency(100);
    const running = deploy(c, ['deploy', '-f', 'mcml.yaml', '--all-at-once', '--json']);
    // Every cluster's rollout is held in progress at once: the wave did not go one by one.
    for (let i = 0; i < 600; i++) {
      if ((Object.keys(CONTEXTS) as Target[]).every((t) => c.apis[t].controller.held().length > 0))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const held = (Object.keys(CONTEXTS) as Target[]).map((t) => c.apis[t].controller.held().length);
    c.apis['azure-eus'].latency(0);
    for (const t of Object.keys(CONTEXTS) as Target[]) c.apis[t].controller.release();
    const run = await running;
    expect(held.every((n) => n > 0)).toBe(true);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(waveEvents(run)).toEqual([
      '1 started aws-use1,gcp-usc1,azure-eus',
      '1 passed aws-use1,gcp-usc1,azure-eus',
    ]);
    // Every cluster's rollout started before any cluster's Services went out (the start line).
    const patches = (Object.keys(CONTEXTS) as Target[]).flatMap((t, i) =>
      c.apis[t].requests.slice(sent[i]).filter((r) => r.method === 'PATCH'),
    );
    const lastDeployment = Math.max(
      ...patches.filter((r) => r.path.endsWith('/deployments/ml-inference')).map((r) => r.at),
    );
    const firstService = Math.min(
      ...patches.filter((r) => r.path.includes('/services/')).map((r) => r.at),
    );
    expect(lastDeployment).toBeLessThan(firstService);
    for (const t of Object.keys(CONTEXTS) as Target[]) {
      const names = c.apis[t]
        .list('v1', 'ConfigMap', NS)
        .map((o: any) => o.metadata.name as string);
      expect(names).toContain('team-notes');
      expect(names.filter((n) => n.startsWith('mcml-prometheus-'))).toHaveLength(1);
      expect(names).not.toContain(before[0]);
      expect(outcome(run, t)).toMatchObject({ phase: 'done', revision: 3 });
    }
  });

  it('rolls a target whose gate fails back, lets its wave finish and halts later waves', async () => {
    c.failing.add('gcp-usc1');
    writeFileSync(join(c.dir, 'mcml.yaml'), specText({ model: 'iris-3.onnx', scrape: '30s' }));
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml', '--json']);
    c.failing.delete('gcp-usc1');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/error: deploy failed: .*gcp-usc1 rolled-back.*aws-use1 halted/);
    expect(outcome(run, 'azure-eus')).toMatchObject({ phase: 'done', revision: 4 });
    const gcp = outcome(run, 'gcp-usc1');
    expect(gcp.phase).toBe('rolled-back');
    expect(gcp.error.message).toMatch(/health gate: inference on iris: HTTP 500/);
    expect(gcp.state).toMatch(/rolled back to revision 3's objects/);
    expect(outcome(run, 'aws-use1')).toMatchObject({
      phase: 'halted',
      state: 'untouched: an earlier wave failed',
    });
    expect(modelPath(c.apis['azure-eus'])).toMatch(/iris-3\.onnx$/);
    expect(modelPath(c.apis['gcp-usc1'])).toMatch(/iris-2\.onnx$/);
    expect(modelPath(c.apis['aws-use1'])).toMatch(/iris-2\.onnx$/);
    expect(report(run)).toMatchObject({ ok: false, halted: true });
  });

  it('rolls back to an earlier revision, restoring its objects exactly', async () => {
    const run = await deploy(c, ['deploy', 'rollback', 'aws-use1', '--to', '1', '-f', 'mcml.yaml']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/aws-use1\s+done\s+4\s+at revision 4/);
    expect(ownedObjects(c.apis['aws-use1'])).toBe(awsAtRevision1);
    const status = await deploy(c, ['deploy', 'status', '-f', 'mcml.yaml', '--json']);
    const aws = (JSON.parse(status.stdout) as Record<string, any>[]).find(
      (r) => r.target === 'aws-use1',
    )!;
    expect(aws.model).toMatch(/iris-1\.onnx$/);
    expect(aws.revisions.at(-1)).toMatchObject({
      revision: 4,
      cause: 'rollback to 1',
      current: true,
    });
  });

  it('retries a cluster that does not answer, then reports it and what it left alone', async () => {
    await c.apis['aws-use1'].stop();
    const run = await deploy(c, ['deploy', '-f', 'mcml.yaml', '--retries', '1']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /aws-use1\s+connecting\s+reaching context "aws".*\(attempt 2 of 2\)/,
    );
    expect(run.stdout).toMatch(/aws-use1\s+failed\s+-\s+untouched/);
    expect(run.stdout).toMatch(
      /aws-use1: target "aws-use1" \(context "aws", .*\) does not answer: ECONNREFUSED/,
    );
    expect(run.stderr).toMatch(/error: deploy failed: aws-use1 failed/);

    const skip = await deploy(c, [
      'deploy',
      '-f',
      'mcml.yaml',
      '--retries',
      '0',
      '--unreachable',
      'skip',
    ]);
    expect(skip.code).toBe(1);
    expect(skip.stdout).toMatch(/aws-use1\s+skipped\s+-\s+not reached after 1 attempts: untouched/);
    expect(skip.stderr).toMatch(/error: deploy incomplete: aws-use1 skipped/);
  });
});
