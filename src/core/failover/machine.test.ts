import { describe, expect, it } from 'vitest';
import { FailoverMachine, type MachineConfig, type TargetRef } from './machine.js';

const three: TargetRef[] = [
  { name: 'aws', tier: 1, weight: 100, jurisdiction: 'us' },
  { name: 'gcp', tier: 2, weight: 100, jurisdiction: 'eu' },
  { name: 'azure', tier: 3, weight: 100, jurisdiction: 'eu' },
];

const base: MachineConfig = {
  failureThreshold: 3,
  successThreshold: 2,
  stablePeriodMs: 30_000,
  failback: 'auto',
  routing: 'ordered',
  passiveThreshold: 5,
};

/** A fake clock: time only moves when the test says so. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function machine(config: Partial<MachineConfig> = {}, targets = three) {
  const clock = fakeClock();
  const m = new FailoverMachine(targets, { ...base, ...config });
  const round = (results: Record<string, boolean>, stepMs = 2000) => {
    clock.advance(stepMs);
    const events = [];
    for (const [name, ok] of Object.entries(results)) {
      events.push(...m.recordCheck(name, { ok, latencyMs: 5 }, clock.now()));
    }
    return events;
  };
  return { m, clock, round };
}

describe('FailoverMachine', () => {
  it('starts on the primary and stays there while it is healthy', () => {
    const { m, round } = machine();
    expect(m.active).toBe('aws');
    round({ aws: true, gcp: true, azure: true });
    expect(m.snapshot().map((t) => t.state)).toEqual(['healthy', 'healthy', 'healthy']);
    expect(m.active).toBe('aws');
  });

  it('needs failureThreshold consecutive failures, passing through suspect', () => {
    const { m, round } = machine();
    round({ aws: true, gcp: true, azure: true });
    round({ aws: false });
    expect(m.status('aws').state).toBe('suspect');
    expect(m.active).toBe('aws');
    round({ aws: false });
    expect(m.active).toBe('aws');
    const events = round({ aws: false });
    expect(m.status('aws').state).toBe('unhealthy');
    expect(m.active).toBe('gcp');
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'active', from: 'aws', to: 'gcp', reason: 'failover' }),
    );
  });

  it('fails over down any number of tiers in order, and reports when all are down', () => {
    const { m, round } = machine({ failureThreshold: 1 });
    round({ aws: true, gcp: true, azure: true });
    round({ aws: false });
    expect(m.active).toBe('gcp');
    round({ gcp: false });
    expect(m.active).toBe('azure');
    const events = round({ azure: false });
    expect(m.active).toBeUndefined();
    expect(events).toContainEqual(expect.objectContaining({ type: 'active', reason: 'all-down' }));
    expect(m.route()).toEqual({ ok: false, reason: 'no healthy target' });
    round({ gcp: true });
    // gcp is recovering (1 of 2 successes): a last resort for requests, not yet active.
    expect(m.route()).toEqual({ ok: true, targets: ['gcp'] });
    round({ gcp: true });
    expect(m.active).toBe('gcp');
  });

  it('uses tier, not list order, and list order breaks ties', () => {
    const { m } = machine({}, [
      { name: 'b', tier: 2, weight: 1 },
      { name: 'a', tier: 1, weight: 1 },
      { name: 'c', tier: 2, weight: 1 },
    ]);
    expect(m.active).toBe('a');
    expect(m.route()).toEqual({ ok: true, targets: ['a', 'b', 'c'] });
  });

  it('fails back only after the stable period (hysteresis)', () => {
    const { m, round, clock } = machine({ failureThreshold: 1, successThreshold: 2 });
    round({ aws: true, gcp: true, azure: true });
    round({ aws: false });
    expect(m.active).toBe('gcp');
    round({ aws: true });
    expect(m.status('aws').state).toBe('recovering');
    round({ aws: true });
    expect(m.status('aws').state).toBe('healthy');
    const healthyAt = clock.now();
    expect(m.active).toBe('gcp');
    // 28 s healthy: still not long enough.
    for (let i = 0; i < 14; i++) round({ aws: true, gcp: true });
    expect(clock.now() - healthyAt).toBe(28_000);
    expect(m.active).toBe('gcp');
    const events = round({ aws: true, gcp: true });
    expect(m.active).toBe('aws');
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'active', from: 'gcp', to: 'aws', reason: 'failback' }),
    );
  });

  it('tick() fails back when the stable period passes between checks', () => {
    const { m, round, clock } = machine({ failureThreshold: 1, successThreshold: 1 });
    round({ aws: false, gcp: true });
    round({ aws: true });
    expect(m.active).toBe('gcp');
    clock.advance(29_999 - 0);
    expect(m.tick(clock.now())).toEqual([]);
    clock.advance(1);
    expect(m.tick(clock.now())).toHaveLength(1);
    expect(m.active).toBe('aws');
  });

  it('does not flap under a primary that fails every other check', () => {
    const { m, round } = machine({ stablePeriodMs: 10_000 });
    round({ aws: true, gcp: true, azure: true });
    const switches: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      for (const e of round({ aws: i % 2 === 0, gcp: true, azure: true })) {
        if (e.type === 'active') switches.push(e);
      }
    }
    // Never 3 failures in a row: it stays active and traffic never moves.
    expect(switches).toEqual([]);
    expect(m.active).toBe('aws');
  });

  it('does not fail back to a recovered primary that keeps blipping', () => {
    const { m, round } = machine({ successThreshold: 1, stablePeriodMs: 10_000 });
    round({ aws: false, gcp: true, azure: true });
    expect(m.active).toBe('gcp');
    const switches: string[] = [];
    for (let i = 0; i < 200; i++) {
      for (const e of round({ aws: i % 2 === 0, gcp: true })) {
        if (e.type === 'active') switches.push(`${e.from}->${e.to}`);
      }
    }
    expect(switches).toEqual([]);
    expect(m.active).toBe('gcp');
  });

  it('with manual failback stays on the secondary until failback()', () => {
    const { m, round } = machine({ failureThreshold: 1, successThreshold: 1, failback: 'manual' });
    round({ aws: true, gcp: true });
    round({ aws: false });
    expect(m.active).toBe('gcp');
    for (let i = 0; i < 100; i++) round({ aws: true, gcp: true });
    expect(m.active).toBe('gcp');
    const events = m.failback(1);
    expect(events).toEqual([
      expect.objectContaining({ type: 'active', from: 'gcp', to: 'aws', reason: 'failback' }),
    ]);
    expect(m.active).toBe('aws');
  });

  it('a target disabled by hand is out of rotation until enabled', () => {
    const { m, round, clock } = machine({ stablePeriodMs: 0 });
    round({ aws: true, gcp: true, azure: true });
    const out = m.disable('aws', clock.now());
    expect(out).toContainEqual(
      expect.objectContaining({ type: 'active', to: 'gcp', reason: 'manual' }),
    );
    expect(m.route()).toEqual({ ok: true, targets: ['gcp', 'azure'] });
    round({ aws: true, gcp: true });
    expect(m.active).toBe('gcp');
    m.enable('aws', clock.now());
    expect(m.active).toBe('aws');
  });

  it('a target put back by hand waits the stable period before traffic returns', () => {
    const { m, round, clock } = machine({ stablePeriodMs: 10_000 });
    round({ aws: true, gcp: true, azure: true });
    m.disable('aws', clock.now());
    m.enable('aws', clock.now());
    expect(m.active).toBe('gcp');
    for (let i = 0; i < 4; i++) round({ aws: true, gcp: true });
    expect(m.active).toBe('gcp');
    round({ aws: true, gcp: true });
    expect(m.active).toBe('aws');
  });

  it('passive errors eject a serving target before active checks notice', () => {
    const { m, round, clock } = machine({ passiveThreshold: 3 });
    round({ aws: true, gcp: true, azure: true });
    m.recordPassive('aws', { ok: false, error: 'ECONNREFUSED' }, clock.now());
    m.recordPassive('aws', { ok: true }, clock.now());
    m.recordPassive('aws', { ok: false }, clock.now());
    m.recordPassive('aws', { ok: false }, clock.now());
    expect(m.active).toBe('aws');
    const events = m.recordPassive('aws', { ok: false, error: 'ECONNRESET' }, clock.now());
    expect(m.status('aws').state).toBe('unhealthy');
    expect(m.active).toBe('gcp');
    expect(events[0]).toMatchObject({ type: 'state', to: 'unhealthy' });
    expect(String((events[0] as { reason: string }).reason)).toContain('ECONNRESET');
  });

  it('passive errors never eject the last usable target', () => {
    const { m, round, clock } = machine({ passiveThreshold: 2 });
    round({ aws: true, gcp: false, azure: false }, 0);
    expect(m.active).toBe('aws');
    m.recordPassive('aws', { ok: false, error: 'timeout' }, clock.now());
    const events = m.recordPassive('aws', { ok: false, error: 'timeout' }, clock.now());
    expect(m.status('aws').state).toBe('healthy');
    expect(m.active).toBe('aws');
    expect(events).toEqual([
      expect.objectContaining({
        type: 'ejection-held',
        target: 'aws',
        reason: expect.stringContaining('last usable') as string,
      }),
    ]);
    // Said once per streak, not once per request.
    expect(m.recordPassive('aws', { ok: false }, clock.now())).toEqual([]);
    expect(m.route()).toEqual({ ok: true, targets: ['aws'] });
  });

  it('passive errors eject at most maxEjectionPercent of the targets until a check confirms', () => {
    const { m, round, clock } = machine({ passiveThreshold: 1, maxEjectionPercent: 50 });
    round({ aws: true, gcp: true, azure: true });
    m.recordPassive('aws', { ok: false, error: 'connection reset' }, clock.now());
    expect(m.status('aws')).toMatchObject({ state: 'unhealthy', ejected: true });
    expect(m.active).toBe('gcp');
    // One of three is the budget: gcp stays in although its traffic fails too.
    const held = m.recordPassive('gcp', { ok: false, error: 'connection reset' }, clock.now());
    expect(held).toEqual([expect.objectContaining({ type: 'ejection-held', target: 'gcp' })]);
    expect(m.active).toBe('gcp');
    // An active check of aws fails: it is down by evidence, and no longer uses the budget.
    round({ aws: false });
    expect(m.status('aws').ejected).toBe(false);
    m.recordPassive('gcp', { ok: true }, clock.now());
    m.recordPassive('gcp', { ok: false, error: 'connection reset' }, clock.now());
    expect(m.status('gcp').state).toBe('unhealthy');
    expect(m.active).toBe('azure');
  });

  it('under residency routing, passive errors never eject the last target of a jurisdiction', () => {
    const { m, round, clock } = machine({
      routing: 'residency',
      passiveThreshold: 1,
      maxEjectionPercent: 100,
    });
    round({ aws: true, gcp: true, azure: true });
    m.recordPassive('aws', { ok: false, error: 'timeout' }, clock.now());
    expect(m.status('aws').state).toBe('healthy');
    m.recordPassive('gcp', { ok: false, error: 'timeout' }, clock.now());
    expect(m.status('gcp').state).toBe('unhealthy');
    m.recordPassive('azure', { ok: false, error: 'timeout' }, clock.now());
    expect(m.status('azure').state).toBe('healthy');
    expect(m.route({ jurisdiction: 'eu' })).toEqual({ ok: true, targets: ['azure'] });
  });

  it('prefers the given target before every tier, and fails back to it after the stable period', () => {
    const { m, round } = machine({ prefer: 'gcp', failureThreshold: 1, successThreshold: 1 });
    expect(m.active).toBe('gcp');
    round({ aws: true, gcp: true, azure: true });
    expect(m.route()).toEqual({ ok: true, targets: ['gcp', 'aws', 'azure'] });
    round({ gcp: false });
    expect(m.active).toBe('aws');
    expect(m.route()).toEqual({ ok: true, targets: ['aws', 'azure'] });
    round({ gcp: true }, 1000);
    expect(m.active).toBe('aws');
    round({ gcp: true }, 30_000);
    expect(m.active).toBe('gcp');
    expect(() => new FailoverMachine(three, { ...base, prefer: 'nope' })).toThrow(/nope/);
  });

  it('routes ordered requests to the active target first, then the next tiers', () => {
    const { m, round } = machine();
    round({ aws: true, gcp: true, azure: true });
    expect(m.route()).toEqual({ ok: true, targets: ['aws', 'gcp', 'azure'] });
  });

  it('residency routing keeps a request in its jurisdiction and fails rather than leave it', () => {
    const { m, round } = machine({ routing: 'residency', failureThreshold: 1 });
    round({ aws: true, gcp: true, azure: true });
    expect(m.route({ jurisdiction: 'eu' })).toEqual({ ok: true, targets: ['gcp', 'azure'] });
    expect(m.route({ jurisdiction: 'us' })).toEqual({ ok: true, targets: ['aws'] });
    expect(m.route()).toEqual({ ok: true, targets: ['aws', 'gcp', 'azure'] });
    round({ aws: false });
    const us = m.route({ jurisdiction: 'us' });
    expect(us).toEqual({ ok: false, reason: 'no healthy target in jurisdiction "us"' });
    // No target there at all: the request asks for what the service does not offer.
    expect(m.route({ jurisdiction: 'jp' })).toEqual({
      ok: false,
      unknownJurisdiction: true,
      reason: 'no target runs in jurisdiction "jp"; targets run in: us, eu',
    });
    round({ gcp: false });
    expect(m.route({ jurisdiction: 'eu' })).toEqual({ ok: true, targets: ['azure'] });
  });

  it('weighted routing splits by weight among healthy targets', () => {
    const { m, round } = machine({ routing: 'weighted' }, [
      { name: 'a', tier: 1, weight: 300 },
      { name: 'b', tier: 2, weight: 100 },
      { name: 'c', tier: 3, weight: 0 },
    ]);
    round({ a: true, b: true, c: true });
    const firsts = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (let i = 0; i < 400; i++) {
      const r = m.route({ random: i / 400 });
      if (r.ok) firsts[r.targets[0]!]!++;
    }
    expect(firsts).toEqual({ a: 300, b: 100, c: 0 });
    const r = m.route({ random: 0.9 });
    expect(r).toEqual({ ok: true, targets: ['b', 'a', 'c'] });
  });

  it('latency routing prefers the fastest, with a margin against noise', () => {
    const m = new FailoverMachine(three, { ...base, routing: 'latency' });
    m.recordCheck('aws', { ok: true, latencyMs: 50 }, 1);
    m.recordCheck('gcp', { ok: true, latencyMs: 20 }, 1);
    m.recordCheck('azure', { ok: true, latencyMs: 30 }, 1);
    const first = () => {
      const r = m.route();
      return r.ok ? r.targets[0] : undefined;
    };
    expect(first()).toBe('gcp');
    // azure gets a little faster than gcp: within the margin, traffic stays.
    for (let i = 0; i < 20; i++) m.recordCheck('azure', { ok: true, latencyMs: 18 }, 2 + i);
    expect(first()).toBe('gcp');
    for (let i = 0; i < 20; i++) m.recordCheck('azure', { ok: true, latencyMs: 5 }, 30 + i);
    expect(first()).toBe('azure');
  });

  it('counts successThreshold from the last failure', () => {
    const { m, round } = machine({ failureThreshold: 1, successThreshold: 3 });
    round({ aws: false, gcp: true });
    round({ aws: true });
    round({ aws: true });
    round({ aws: false });
    expect(m.status('aws').state).toBe('unhealthy');
    round({ aws: true });
    round({ aws: true });
    expect(m.status('aws').state).toBe('recovering');
    round({ aws: true });
    expect(m.status('aws').state).toBe('healthy');
  });
});
