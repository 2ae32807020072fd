import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/ports/clock.js';
import {
  LocalCluster,
  type ClusterEvent,
  type LocalClusterOptions,
  type LocalTargetConfig,
} from '../../src/adapters/local/local-cluster.js';
import { fakeReplicaArgs } from './fixtures/fake-replica.js';
import { alive } from './helpers.js';

function target(
  name: string,
  env: Record<string, string> = {},
  extra: Partial<LocalTargetConfig> = {},
): LocalTargetConfig {
  return {
    name,
    minReplicas: 1,
    maxReplicas: 3,
    readinessPath: '/ready',
    launch: (port) => ({
      command: process.execPath,
      args: fakeReplicaArgs(port),
      env: { TARGET: name, ...env },
    }),
    ...extra,
  };
}

/** A clock the test moves by hand; sleep is real so nothing waits on it. */
class ManualClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, Math.min(ms, 20));
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
    });
  }
}

/** Calls reconcile() until `done` holds (probes are real HTTP, so this takes a few passes). */
async function until(cluster: LocalCluster, done: () => boolean, passes = 500): Promise<void> {
  for (let i = 0; i < passes; i++) {
    await cluster.reconcile();
    if (done()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`condition not reached: ${JSON.stringify(cluster.status(), null, 1)}`);
}

/** Resolves when the first target's status satisfies `ok` (checked on every event). */
async function waitFor(
  cluster: LocalCluster,
  ok: (s: ReturnType<LocalCluster['status']>[number]) => boolean,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok(cluster.status()[0]!)) {
    if (Date.now() > deadline) {
      throw new Error(`condition not reached: ${JSON.stringify(cluster.status(), null, 1)}`);
    }
    await new Promise<void>((resolve) => {
      const off = cluster.on(() => {
        off();
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        resolve();
      }, 200);
    });
  }
}

let clusters: LocalCluster[] = [];
function make(targets: LocalTargetConfig[], options: LocalClusterOptions = {}) {
  const cluster = new LocalCluster(targets, { intervalMs: 50, stopGraceMs: 2000, ...options });
  const events: ClusterEvent[] = [];
  cluster.on((e) => events.push(e));
  clusters.push(cluster);
  return { cluster, events };
}

afterEach(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
  clusters = [];
});

describe('LocalCluster', () => {
  it('starts each target at its replica count and reports pids, ports and readiness', async () => {
    const { cluster, events } = make([
      target('alpha', {}, { minReplicas: 2 }),
      target('beta', { FAKE_READY_DELAY_MS: '200' }),
    ]);
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    const status = cluster.status();
    expect(status.map((t) => [t.name, t.ready, t.desired])).toEqual([
      ['alpha', 2, 2],
      ['beta', 1, 1],
    ]);
    for (const r of status.flatMap((t) => t.replicas)) {
      expect(r.state).toBe('ready');
      expect(alive(r.pid!)).toBe(true);
      const info = await (await fetch(`${r.url}/info`)).json();
      expect(info).toMatchObject({ pid: r.pid, target: r.target });
    }
    expect(cluster.readyUrls('alpha')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'replica-ready')).toHaveLength(3);
  });

  it('restarts a replica killed from outside, with the restart counted', async () => {
    const { cluster, events } = make([target('alpha')], { backoff: { initialMs: 50 } });
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    const before = cluster.status()[0]!.replicas[0]!;
    process.kill(-before.pid!, 'SIGKILL');
    await new Promise<void>((resolve) => {
      const off = cluster.on((e) => {
        if (e.type === 'replica-ready') {
          off();
          resolve();
        }
      });
    });
    const after = cluster.status()[0]!.replicas[0]!;
    expect(after.id).toBe(before.id);
    expect(after.pid).not.toBe(before.pid);
    expect(after.restarts).toBe(1);
    expect(after.lastExit?.signal).toBe('SIGKILL');
    expect(alive(before.pid!)).toBe(false);
    expect(events.map((e) => e.type)).toContain('replica-exited');
  });

  it('backs off exponentially on a crash loop, up to the cap', async () => {
    const clock = new ManualClock();
    const { cluster, events } = make([target('alpha', { FAKE_EXIT_AT_START: '1' })], {
      clock,
      backoff: { initialMs: 1000, maxMs: 4000 },
    });
    await cluster.reconcile(); // spawns the first process
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await until(cluster, () => cluster.status()[0]!.replicas[0]!.state === 'crashed');
      const r = cluster.status()[0]!.replicas[0]!;
      delays.push(r.restartAt! - r.lastExit!.at);
      // Not restarted before its time, whatever the number of passes.
      await cluster.reconcile();
      expect(cluster.status()[0]!.replicas[0]!.state).toBe('crashed');
      clock.t = r.restartAt!;
      await cluster.reconcile();
    }
    expect(delays).toEqual([1000, 2000, 4000, 4000]);
    expect(events.filter((e) => e.type === 'replica-exited').length).toBeGreaterThanOrEqual(4);
    expect(events.find((e) => e.type === 'replica-exited')!.message).toMatch(/code 1/);
  });

  it('rolls replicas one at a time without dropping below the desired count', async () => {
    const { cluster, events } = make([target('alpha', {}, { minReplicas: 2 })]);
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    const oldPids = cluster.status()[0]!.replicas.map((r) => r.pid);
    let lowest = Infinity;
    const off = cluster.on(() => (lowest = Math.min(lowest, cluster.status()[0]!.ready)));
    await cluster.rollingRestart('alpha', { timeoutMs: 20_000 });
    off();
    const now = cluster.status()[0]!;
    expect(now.replicas).toHaveLength(2);
    expect(now.ready).toBe(2);
    for (const r of now.replicas) expect(oldPids).not.toContain(r.pid);
    for (const pid of oldPids) expect(alive(pid!)).toBe(false);
    expect(lowest).toBeGreaterThanOrEqual(2);
    // One at a time: each old replica stops only after a new one is ready.
    const sequence = events
      .filter((e) => ['replica-ready', 'replica-stopped'].includes(e.type))
      .map((e) => e.type)
      .slice(2);
    expect(sequence).toEqual([
      'replica-ready',
      'replica-stopped',
      'replica-ready',
      'replica-stopped',
    ]);
    expect(events.at(-1)!.type).toBe('rollout-finished');
  });

  it('scales up on queue depth at once and down only after the stabilization window', async () => {
    const clock = new ManualClock();
    const { cluster, events } = make(
      [
        target(
          'alpha',
          {},
          {
            minReplicas: 1,
            maxReplicas: 4,
            autoscale: { metric: 'queue-depth', target: 2, metricName: 'fake_queue_depth' },
          },
        ),
      ],
      { clock, scaleDownStabilizationMs: 60_000 },
    );
    await until(cluster, () => cluster.status()[0]!.ready === 1);
    expect(cluster.status()[0]!.desired).toBe(1);
    // 1 replica at depth 6 with target 2 → ceil(1 × 6 / 2) = 3; the new ones idle at 0, so
    // the average (2) meets the target and the count stays.
    await fetch(`${cluster.readyUrls('alpha')[0]}/queue?depth=6`);
    await until(cluster, () => cluster.status()[0]!.ready === 3);
    await cluster.reconcile();
    expect(cluster.status()[0]!.desired).toBe(3);
    const scaled = events.filter((e) => e.type === 'scaled');
    expect(scaled[0]!.message).toMatch(/from 1 to 3/);
    expect(cluster.status()[0]!.metric).toMatchObject({ name: 'fake_queue_depth', target: 2 });

    // Load goes away: the recommendation drops to 1 but the window holds the count at 3.
    for (const url of cluster.readyUrls('alpha')) await fetch(`${url}/queue?depth=0`);
    clock.t += 1000;
    await cluster.reconcile();
    await cluster.reconcile();
    expect(cluster.status()[0]!.desired).toBe(3);
    clock.t += 61_000;
    await until(cluster, () => cluster.status()[0]!.replicas.length === 1);
    expect(events.filter((e) => e.type === 'scaled').at(-1)!.message).toMatch(/from 3 to 1/);
    expect(cluster.status()[0]!.ready).toBe(1);
  });

  it('scales on CPU read from /proc when no queue-depth target is set', async () => {
    const { cluster, events } = make(
      [
        target(
          'alpha',
          { FAKE_BURN: '1' },
          {
            minReplicas: 1,
            maxReplicas: 2,
            initialReplicas: 1,
            autoscale: { metric: 'cpu', targetPercent: 10, cpuPerReplica: 1 },
          },
        ),
      ],
      { intervalMs: 300 },
    );
    await cluster.start();
    await new Promise<void>((resolve) => {
      const off = cluster.on((e) => {
        if (e.type === 'scaled') {
          off();
          resolve();
        }
      });
    });
    const scaled = events.find((e) => e.type === 'scaled')!;
    expect(scaled.message).toMatch(/from 1 to 2 replicas \(cpu-percent \d+/);
    const metric = cluster.status()[0]!.metric!;
    expect(metric.name).toBe('cpu-percent');
    expect(metric.value).toBeGreaterThan(10);
  });

  it('never scales past max replicas', async () => {
    const clock = new ManualClock();
    const { cluster } = make(
      [
        target(
          'alpha',
          { FAKE_QUEUE: '100' },
          {
            maxReplicas: 2,
            autoscale: { metric: 'queue-depth', target: 1, metricName: 'fake_queue_depth' },
          },
        ),
      ],
      { clock },
    );
    await until(cluster, () => cluster.status()[0]!.ready === 2);
    await cluster.reconcile();
    expect(cluster.status()[0]!.desired).toBe(2);
  });

  it('stops every replica and its children, SIGKILLing one that ignores SIGTERM', async () => {
    const { cluster, events } = make(
      [target('alpha', { FAKE_GRANDCHILD: '1' }), target('stubborn', { FAKE_IGNORE_SIGTERM: '1' })],
      { stopGraceMs: 500 },
    );
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    const pids: number[] = [];
    for (const r of cluster.status().flatMap((t) => t.replicas)) {
      const info = await (await fetch(`${r.url}/info`)).json();
      pids.push(info.pid);
      if (info.grandchild) pids.push(info.grandchild);
    }
    expect(pids).toHaveLength(3);
    await cluster.stop();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    const stopped = events.filter((e) => e.type === 'replica-stopped').map((e) => e.message);
    expect(stopped.some((m) => m.includes('SIGKILL'))).toBe(true);
    expect(cluster.status().flatMap((t) => t.replicas)).toEqual([]);
  });

  it('keeps the restarts of a replica scaled away in the target total (a counter never drops)', async () => {
    const { cluster } = make([target('alpha', {}, { initialReplicas: 2 })], {
      backoff: { initialMs: 50 },
    });
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    // Kill the newest replica: after its restart it is the newest again, so the scale-down
    // removes exactly the replica that carries the restart.
    const victim = cluster.status()[0]!.replicas.at(-1)!;
    process.kill(-victim.pid!, 'SIGKILL');
    await waitFor(cluster, (s) => s.replicas.some((r) => r.restarts === 1 && r.state === 'ready'));
    expect(cluster.status()[0]!.restarts).toBe(1);
    await cluster.scale('alpha', 1);
    await waitFor(cluster, (s) => s.replicas.length === 1);
    const after = cluster.status()[0]!;
    expect(after.replicas.map((r) => r.id)).not.toContain(victim.id);
    expect(after.restarts).toBe(1);
  });

  it('never lists the pid of a replica that has exited', async () => {
    // A long backoff keeps the killed replica in "crashed" while the test looks.
    const { cluster } = make([target('alpha')], { backoff: { initialMs: 60_000 } });
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    const before = cluster.status()[0]!.replicas[0]!;
    const exited = new Promise<void>((resolve) => {
      const off = cluster.on((e) => {
        if (e.type === 'replica-exited') {
          off();
          resolve();
        }
      });
    });
    process.kill(-before.pid!, 'SIGKILL');
    await exited;
    const after = cluster.status()[0]!.replicas[0]!;
    expect(after.state).toBe('crashed');
    expect(after.pid).toBeUndefined();
  });

  it('fails a rollout whose new replicas crash-loop, keeping the old ones serving', async () => {
    const { cluster, events } = make([target('alpha', {}, { minReplicas: 2 })], {
      backoff: { initialMs: 20, maxMs: 50 },
    });
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    const oldPids = cluster.status()[0]!.replicas.map((r) => r.pid);
    const broken = target('alpha', { FAKE_EXIT_AT_START: '1' }, { minReplicas: 2 });
    await expect(cluster.rollingUpdate('alpha', broken, { timeoutMs: 20_000 })).rejects.toThrow(
      /crashed 3 times in a row \(last exit code 1\)/,
    );
    const failed = cluster.status()[0]!;
    expect(failed.generation).toBe(2);
    expect(failed.rolloutError).toMatch(/crashed 3 times/);
    expect(failed.ready).toBe(2);
    for (const pid of oldPids) expect(alive(pid!)).toBe(true);
    expect(events.map((e) => e.type)).toContain('rollout-failed');

    // Rolling back onto a good template replaces everything and clears the error.
    await cluster.rollingUpdate('alpha', target('alpha', {}, { minReplicas: 2 }), {
      timeoutMs: 20_000,
    });
    await waitFor(cluster, (s) => s.replicas.length === 2 && s.ready === 2);
    const back = cluster.status()[0]!;
    expect(back.rolloutError).toBeUndefined();
    expect(back.replicas.every((r) => r.generation === 3)).toBe(true);
  });

  it('starts nothing for a target removed while a reconcile pass is in flight', async () => {
    const { cluster, events } = make([target('alpha', {}, { minReplicas: 2 })]);
    await cluster.start();
    await cluster.waitReady({ timeoutMs: 20_000 });
    const pids = cluster.status()[0]!.replicas.map((r) => r.pid!);
    // The pass probes first (awaits), then matches the desired count: the removal lands between.
    const pass = cluster.reconcile();
    const from = events.length;
    await cluster.removeTarget('alpha');
    await pass;
    await cluster.reconcile();
    expect(events.slice(from).filter((e) => e.type === 'replica-starting')).toEqual([]);
    expect(cluster.status()).toEqual([]);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it('rejects a target whose max is below its min', () => {
    expect(() => new LocalCluster([target('a', {}, { minReplicas: 3, maxReplicas: 2 })])).toThrow(
      /max replicas 2 is below min 3/,
    );
  });
});
