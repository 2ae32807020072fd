import { describe, expect, it } from 'vitest';
import { McmlError } from '../../core/errors.js';
import type { Clock } from '../../ports/clock.js';
import type {
  ApplyResult,
  ApplySet,
  ApplySetRef,
  Cluster,
  ClusterObject,
  RevisionInfo,
  RolloutStatus,
  ServiceAnswer,
  ServiceRequest,
} from '../../ports/cluster.js';
import type { GateResult } from './gates.js';
import { runDeploy, type DeployEvent, type DeployOptions, type DeployTarget } from './rollout.js';
import { planWaves } from './waves.js';

/** A clock whose time moves only when the test fires the next timer. */
class FakeClock implements Clock {
  t = 0;
  timers: { at: number; fire: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('aborted'));
      const timer = { at: this.t + ms, fire: () => resolve() };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((x) => x !== timer);
          reject(new Error('aborted'));
        },
        { once: true },
      );
    });
  }
  /** Fires the earliest timer; false when none is set. */
  next(): boolean {
    this.timers.sort((a, b) => a.at - b.at);
    const timer = this.timers.shift();
    if (!timer) return false;
    this.t = Math.max(this.t, timer.at);
    timer.fire();
    return true;
  }
}

const flush = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

/** Runs the promise to the end, moving the clock whenever everything else waits on it. */
async function drive<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => (done = true)).catch(() => undefined);
  for (let i = 0; i < 1000 && !done; i++) {
    await flush();
    if (!done && !clock.next()) await flush();
  }
  return promise;
}

interface Revision {
  revision: number;
  objects: string;
  model: string;
}

/** An in-memory cluster: revisions, a scripted rollout per model, a scripted model server. */
class FakeCluster implements Cluster {
  readonly where = 'fake';
  history: Revision[] = [];
  current: number | undefined;
  log: string[];
  unreachable = 0;
  /** Models whose rollout never finishes / fails / whose inference fails. */
  hangs = new Set<string>();
  fails = new Set<string>();
  badModels = new Set<string>();
  /** When set, waitForRollout waits for this promise first. */
  hold: Promise<void> | undefined;
  constructor(
    readonly target: string,
    log: string[],
  ) {
    this.log = log;
  }
  #model(): string {
    return this.history.find((r) => r.revision === this.current)?.model ?? '';
  }
  ping(): Promise<void> {
    this.log.push(`${this.target}:ping`);
    if (this.unreachable > 0) {
      this.unreachable--;
      return Promise.reject(
        new McmlError('PROVIDER_UNAVAILABLE', `${this.target} does not answer`),
      );
    }
    return Promise.resolve();
  }
  apply(set: ApplySet): Promise<ApplyResult> {
    this.log.push(`${this.target}:apply`);
    const objects = JSON.stringify(set.objects);
    const previous = this.current;
    const now = this.history.find((r) => r.revision === previous);
    if (now?.objects !== objects) {
      const revision = (this.history.at(-1)?.revision ?? 0) + 1;
      this.history.push({ revision, objects, model: set.note?.model ?? '' });
      this.current = revision;
    }
    return Promise.resolve({ revision: this.current!, previous, changes: [] });
  }
  prune(): Promise<never[]> {
    return Promise.resolve([]);
  }
  rolloutStatus(): Promise<RolloutStatus> {
    const model = this.#model();
    const failed = this.fails.has(model);
    return Promise.resolve({
      phase: failed ? 'failed' : 'complete',
      message: failed ? 'exceeded its progress deadline' : 'rolled out',
      revision: this.current,
      note: { model },
      workloads: [
        {
          ref: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
          phase: failed ? 'failed' : 'complete',
          message: '',
          desired: 2,
          updated: failed ? 1 : 2,
          ready: 2,
          available: 2,
          images: [],
          conditions: [],
        },
      ],
    });
  }
  async waitForRollout(
    _set: ApplySetRef,
    options: { signal: AbortSignal },
  ): Promise<RolloutStatus> {
    this.log.push(`${this.target}:wait`);
    if (this.hold) await this.hold;
    if (this.hangs.has(this.#model())) {
      await new Promise((_, reject) =>
        options.signal.addEventListener('abort', () => reject(new Error('aborted')), {
          once: true,
        }),
      );
    }
    this.log.push(`${this.target}:rolled-out`);
    return this.rolloutStatus();
  }
  revisions(): Promise<RevisionInfo[]> {
    return Promise.resolve(
      this.history.map((r) => ({
        revision: r.revision,
        appliedAt: '',
        note: { model: r.model },
        objects: [],
        current: r.revision === this.current,
      })),
    );
  }
  rollback(_set: ApplySetRef, options: { to?: number } = {}): Promise<ApplyResult> {
    this.log.push(`${this.target}:rollback:${options.to}`);
    const to = this.history.find((r) => r.revision === options.to)!;
    const previous = this.current;
    const revision = (this.history.at(-1)?.revision ?? 0) + 1;
    this.history.push({ ...to, revision });
    this.current = revision;
    return Promise.resolve({ revision, previous, changes: [] });
  }
  events(): Promise<never[]> {
    return Promise.resolve([]);
  }
  request(req: ServiceRequest): Promise<ServiceAnswer> {
    if (req.method === 'GET') {
      return Promise.resolve({
        status: 200,
        body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }] }),
      });
    }
    const bad = this.badModels.has(this.#model());
    return Promise.resolve(
      bad
        ? { status: 500, body: '{"error":"model failed to load"}' }
        : { status: 200, body: '{"outputs":[{"name":"label","data":[0]}]}' },
    );
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const objects = (model: string): ClusterObject[] => [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'model' }, data: { model } },
];

function setup(names: [string, number][]) {
  const log: string[] = [];
  const clusters = new Map(names.map(([n]) => [n, new FakeCluster(n, log)]));
  const targets = (model: string): DeployTarget[] =>
    names.map(([name, tier]) => ({
      name,
      tier,
      cluster: clusters.get(name)!,
      set: { name: 'web', namespace: 'web', objects: objects(model), note: { model } },
      probe: { namespace: 'web', service: 'web', port: 80, model: 'iris' },
    }));
  return { log, clusters, targets };
}

function deploy(clock: FakeClock, targets: DeployTarget[], options: Partial<DeployOptions> = {}) {
  const events: DeployEvent[] = [];
  const waves = planWaves(targets);
  const report = drive(
    clock,
    runDeploy(targets, { clock, waves, onEvent: (e) => events.push(e), ...options }),
  );
  return { report, events };
}

describe('runDeploy', () => {
  it('rolls out wave by wave, lowest-risk tier first, every target of a wave at once', async () => {
    const clock = new FakeClock();
    const { log, clusters, targets } = setup([
      ['aws', 1],
      ['gcp', 2],
      ['azure', 2],
    ]);
    let release!: () => void;
    clusters.get('gcp')!.hold = new Promise((r) => (release = r));
    // Not driving the clock while gcp is held: its rollout would time out.
    const running = runDeploy(targets('v1'), { clock, waves: planWaves(targets('v1')) });
    await flush();
    // Both standby targets were applied while gcp's rollout is still held.
    expect(log).toContain('azure:rolled-out');
    expect(log.filter((l) => l.endsWith(':apply'))).toEqual(['gcp:apply', 'azure:apply']);
    expect(log).not.toContain('aws:ping');
    release();
    const report = await drive(clock, running);
    expect(report.waves).toEqual([['gcp', 'azure'], ['aws']]);
    expect(report.ok).toBe(true);
    expect(log.indexOf('aws:apply')).toBeGreaterThan(log.indexOf('gcp:rolled-out'));
    expect(report.targets.map((t) => [t.target, t.phase, t.state])).toEqual([
      ['gcp', 'done', 'at revision 1'],
      ['azure', 'done', 'at revision 1'],
      ['aws', 'done', 'at revision 1'],
    ]);
    const gates = report.targets[0]!.gates;
    expect(gates).toEqual([
      {
        gate: 'health',
        ok: true,
        message: '2 pod(s) ready; model iris answered an inference (1 output)',
      },
    ]);
    // The same objects again: nothing new is recorded.
    const again = await deploy(clock, targets('v1')).report;
    expect(again.targets.map((t) => t.state)).toEqual(Array(3).fill('at revision 1 (unchanged)'));
  });

  it('rolls a target back when its health gate fails, finishes the wave and halts the rest', async () => {
    const clock = new FakeClock();
    const { log, clusters, targets } = setup([
      ['aws', 1],
      ['gcp', 2],
      ['azure', 2],
    ]);
    await deploy(clock, targets('v1')).report;
    clusters.get('azure')!.badModels.add('v2');
    const { report, events } = deploy(clock, targets('v2'));
    const r = await report;
    expect(r.ok).toBe(false);
    expect(r.halted).toBe(true);
    const byName = Object.fromEntries(r.targets.map((t) => [t.target, t]));
    expect(byName.azure!.phase).toBe('rolled-back');
    expect(byName.azure!.error?.message).toMatch(/^health gate: inference on iris: HTTP 500/);
    expect(byName.azure!.state).toBe(
      "rolled back to revision 1's objects (recorded as revision 3)",
    );
    expect(log).toContain('azure:rollback:1');
    expect(byName.gcp!).toMatchObject({ phase: 'done', state: 'at revision 2' });
    expect(byName.aws!).toMatchObject({
      phase: 'halted',
      state: 'untouched: an earlier wave failed',
    });
    expect(log.filter((l) => l === 'aws:apply')).toHaveLength(1); // only the first deploy
    // The gate was retried before failing, one second apart on the clock.
    const gateEvents = events.filter((e) => e.type === 'gate' && e.target === 'azure');
    expect(gateEvents).toHaveLength(1);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'wave', wave: 1, state: 'failed' }),
    );
  });

  it('fails a rollout that the cluster reports failed, and one that outlasts its timeout', async () => {
    const clock = new FakeClock();
    const { clusters, targets } = setup([
      ['aws', 1],
      ['gcp', 2],
    ]);
    await deploy(clock, targets('v1')).report;
    clusters.get('gcp')!.fails.add('v2');
    const failed = await deploy(clock, targets('v2')).report;
    expect(failed.targets[0]!.error?.message).toBe(
      'rollout failed: exceeded its progress deadline',
    );
    expect(failed.targets[0]!.phase).toBe('rolled-back');

    clusters.get('gcp')!.hangs.add('v3');
    const start = clock.now();
    const hung = await deploy(clock, targets('v3'), { rolloutTimeoutMs: 120_000 }).report;
    expect(hung.targets[0]!.error).toMatchObject({
      code: 'TIMEOUT',
      message: 'the rollout did not finish within 2 min',
    });
    expect(hung.targets[0]!.phase).toBe('rolled-back');
    expect(clock.now() - start).toBe(120_000);
  });

  it('retries an unreachable cluster with backoff, then skips or fails it as told', async () => {
    const clock = new FakeClock();
    const { log, clusters, targets } = setup([
      ['aws', 1],
      ['gcp', 2],
    ]);
    clusters.get('gcp')!.unreachable = 2;
    const start = clock.now();
    const recovered = await deploy(clock, targets('v1'), {
      reach: { attempts: 4, backoffMs: 1000 },
    }).report;
    expect(recovered.ok).toBe(true);
    expect(log.filter((l) => l === 'gcp:ping')).toHaveLength(3);
    expect(clock.now() - start).toBe(3000); // 1 s, then 2 s

    clusters.get('gcp')!.unreachable = 10;
    const skipped = await deploy(clock, targets('v2'), {
      reach: { attempts: 3, backoffMs: 1000, onUnreachable: 'skip' },
    }).report;
    expect(skipped.targets.map((t) => [t.target, t.phase])).toEqual([
      ['gcp', 'skipped'],
      ['aws', 'done'],
    ]);
    expect(skipped.targets[0]!.state).toBe('not reached after 3 attempts: untouched');
    expect(skipped.ok).toBe(false);

    clusters.get('gcp')!.unreachable = 10;
    const failed = await deploy(clock, targets('v3'), {
      reach: { attempts: 2, backoffMs: 1000, onUnreachable: 'fail' },
    }).report;
    expect(failed.targets.map((t) => [t.target, t.phase])).toEqual([
      ['gcp', 'failed'],
      ['aws', 'halted'],
    ]);
    expect(failed.targets[0]!.error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
  });

  it('bakes, then checks the gates again, with the metric gate', async () => {
    const clock = new FakeClock();
    const { targets } = setup([['aws', 1]]);
    await deploy(clock, targets('v1')).report;
    const answers: boolean[] = [true, false];
    const metricGate = (): Promise<GateResult> =>
      Promise.resolve({ gate: 'metric', ok: answers.shift() ?? false, message: 'error ratio' });
    const start = clock.now();
    const r = await deploy(clock, targets('v2'), { bakeMs: 300_000, metricGate }).report;
    expect(clock.now() - start).toBeGreaterThanOrEqual(300_000);
    expect(r.targets[0]!.gates.map((g) => [g.gate, g.ok])).toEqual([
      ['health', true],
      ['metric', true],
      ['health', true],
      ['metric', false],
    ]);
    expect(r.targets[0]!.phase).toBe('rolled-back');
  });

  it('stops on an abort and says where every cluster stands', async () => {
    const clock = new FakeClock();
    const { clusters, targets } = setup([
      ['aws', 1],
      ['gcp', 2],
    ]);
    await deploy(clock, targets('v1')).report;
    clusters.get('gcp')!.hangs.add('v2');
    const controller = new AbortController();
    const events: DeployEvent[] = [];
    const running = runDeploy(targets('v2'), {
      clock,
      waves: planWaves(targets('v2')),
      signal: controller.signal,
      onEvent: (e) => events.push(e),
    });
    await flush();
    expect(events.some((e) => e.type === 'phase' && e.phase === 'rolling-out')).toBe(true);
    controller.abort();
    const r = await drive(clock, running);
    expect(r.interrupted).toBe(true);
    expect(r.targets.map((t) => [t.target, t.phase])).toEqual([
      ['gcp', 'interrupted'],
      ['aws', 'interrupted'],
    ]);
    expect(r.targets[0]!.state).toBe(
      'at revision 2 (applied; rollout complete: rolled out); "mcml deploy rollback gcp" returns it to revision 1',
    );
    expect(r.targets[1]!.state).toBe('untouched: interrupted before its wave');
  });
});
