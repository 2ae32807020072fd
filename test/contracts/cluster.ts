/**
 * The Cluster contract: the Kubernetes adapter (on the API server double) and the local process
 * cluster run this same suite. A fixture gives a fresh cluster and objects it can run.
 */
import { describe, expect, it } from 'vitest';
import { McmlError } from '../../src/core/errors.js';
import type { ApplySetRef, Cluster, ClusterObject } from '../../src/ports/cluster.js';

export interface ClusterFixture {
  cluster: Cluster;
  set: ApplySetRef;
  /** A set whose workload runs version `version` and rolls out; `extra` adds one more object. */
  objects(version: string, extra?: boolean): ClusterObject[];
  /** A set whose workload cannot start (a missing image, a command that exits). */
  broken(): ClusterObject[];
  /** Creates an object mcml did not create, beside the set; resolves whether it still exists. */
  foreign(): Promise<() => Promise<boolean>>;
  /** The service request that reaches the workload, and what its answer must contain. */
  probe: { service: string; port: number | string; path: string; expect: RegExp };
  close(): Promise<void>;
}

export interface ClusterContractOptions {
  name: string;
  create: () => Promise<ClusterFixture>;
}

async function rolledOut(f: ClusterFixture) {
  return f.cluster.waitForRollout(f.set, { signal: AbortSignal.timeout(60_000) });
}

export function runClusterContract(options: ClusterContractOptions): void {
  const { create } = options;
  const withFixture = (run: (f: ClusterFixture) => Promise<void>) => async () => {
    const f = await create();
    try {
      await run(f);
    } finally {
      await f.close();
    }
  };

  describe(`Cluster contract: ${options.name}`, () => {
    it(
      'applies a set as revision 1, rolls it out, and records nothing new for the same objects',
      withFixture(async (f) => {
        await f.cluster.ping();
        const first = await f.cluster.apply({
          ...f.set,
          objects: f.objects('v1'),
          note: { model: 'v1' },
        });
        expect(first.revision).toBe(1);
        expect(first.previous).toBeUndefined();
        expect(first.changes.every((c) => c.action === 'created')).toBe(true);
        const status = await rolledOut(f);
        expect(status.phase).toBe('complete');
        expect(status.revision).toBe(1);
        expect(status.note).toMatchObject({ model: 'v1' });
        expect(status.workloads.length).toBeGreaterThan(0);
        for (const w of status.workloads) expect(w.ready).toBe(w.desired);

        const again = await f.cluster.apply({
          ...f.set,
          objects: f.objects('v1'),
          note: { model: 'v1' },
        });
        expect(again.revision).toBe(1);
        expect(again.previous).toBe(1);
        expect(again.changes.map((c) => `${c.ref.kind}:${c.action}`)).toEqual(
          again.changes.map((c) => `${c.ref.kind}:unchanged`),
        );
        expect((await f.cluster.revisions(f.set)).map((r) => r.revision)).toEqual([1]);
      }),
    );

    it(
      'rolls a changed set out as the next revision and rolls back to the exact earlier objects',
      withFixture(async (f) => {
        await f.cluster.apply({ ...f.set, objects: f.objects('v1'), note: { model: 'v1' } });
        await rolledOut(f);
        const second = await f.cluster.apply({
          ...f.set,
          objects: f.objects('v2'),
          note: { model: 'v2' },
        });
        expect(second).toMatchObject({ revision: 2, previous: 1 });
        expect(second.changes.some((c) => c.action === 'configured')).toBe(true);
        expect((await rolledOut(f)).phase).toBe('complete');

        const back = await f.cluster.rollback(f.set);
        expect(back).toMatchObject({ revision: 3, previous: 2 });
        const status = await rolledOut(f);
        expect(status).toMatchObject({ phase: 'complete', revision: 3 });
        expect(status.note).toMatchObject({ model: 'v1', cause: 'rollback to 1' });
        const revisions = await f.cluster.revisions(f.set);
        expect(revisions.map((r) => [r.revision, r.current])).toEqual([
          [1, false],
          [2, false],
          [3, true],
        ]);
        expect(revisions[2]!.objects).toEqual(revisions[0]!.objects);

        await expect(f.cluster.rollback(f.set, { to: 42 })).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
      }),
    );

    it(
      'refuses a rollback with nothing to roll back to',
      withFixture(async (f) => {
        await f.cluster.apply({ ...f.set, objects: f.objects('v1') });
        const error = await f.cluster.rollback(f.set).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(McmlError);
        expect((error as McmlError).code).toBe('NOT_FOUND');
        expect((error as McmlError).message).toMatch(/no revision before 1/);
      }),
    );

    it(
      'prunes members the set no longer has, and never an object mcml did not create',
      withFixture(async (f) => {
        const stillThere = await f.foreign();
        const first = await f.cluster.apply({ ...f.set, objects: f.objects('v1', true) });
        await rolledOut(f);
        const extra = first.changes.length;
        const second = await f.cluster.apply({ ...f.set, objects: f.objects('v1') });
        const pruned = second.changes.filter((c) => c.action === 'pruned');
        expect(pruned).toHaveLength(1);
        expect(second.changes.filter((c) => c.action !== 'pruned')).toHaveLength(extra - 1);
        expect(await stillThere()).toBe(true);
      }),
    );

    it(
      'answers a dry run without changing anything',
      withFixture(async (f) => {
        await f.cluster.apply({ ...f.set, objects: f.objects('v1') });
        await rolledOut(f);
        const dry = await f.cluster.apply({ ...f.set, objects: f.objects('v2') }, { dryRun: true });
        const changed = dry.changes.filter((c) => c.action === 'configured');
        expect(changed.length).toBeGreaterThan(0);
        for (const c of changed) {
          expect(c.before).toBeDefined();
          expect(JSON.stringify(c.after)).not.toBe(JSON.stringify(c.before));
        }
        const status = await f.cluster.rolloutStatus(f.set);
        expect(status.revision).toBe(1);
        expect((await f.cluster.revisions(f.set)).map((r) => r.revision)).toEqual([1]);
      }),
    );

    it(
      'reports a workload that cannot start as a failed rollout, not a wait forever',
      withFixture(async (f) => {
        await f.cluster.apply({ ...f.set, objects: f.objects('v1') });
        await rolledOut(f);
        await f.cluster.apply({ ...f.set, objects: f.broken() });
        const status = await rolledOut(f);
        expect(status.phase).toBe('failed');
        expect(status.message.length).toBeGreaterThan(0);
        // Rolling back makes it whole again.
        await f.cluster.rollback(f.set);
        expect((await rolledOut(f)).phase).toBe('complete');
      }),
    );

    it(
      'reaches the workload through request(), and stops waiting when aborted',
      withFixture(async (f) => {
        await f.cluster.apply({ ...f.set, objects: f.objects('v1') });
        await rolledOut(f);
        const answer = await f.cluster.request({
          namespace: f.set.namespace,
          service: f.probe.service,
          port: f.probe.port,
          method: 'GET',
          path: f.probe.path,
        });
        expect(answer.status).toBe(200);
        expect(answer.body).toMatch(f.probe.expect);

        await f.cluster.apply({ ...f.set, objects: f.broken() });
        const controller = new AbortController();
        const waiting = f.cluster.waitForRollout(f.set, { signal: controller.signal });
        controller.abort(new Error('stop'));
        await expect(waiting).rejects.toThrow();
      }),
    );
  });
}
