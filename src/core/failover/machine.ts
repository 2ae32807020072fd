/**
 * The failover state machine. Pure: no clock, no I/O. Every input carries its timestamp, so the
 * engine drives it with real time and tests drive it with a fake clock.
 *
 * Per target: unknown → healthy ⇄ suspect → unhealthy → recovering → healthy. Active checks
 * move targets through thresholds; passive signals (consecutive proxy errors, as Envoy's
 * outlier detection) eject a serving target early. The active target is the highest-tier
 * usable one; going back to a better tier (failback) waits until that target has been healthy
 * for the stable period, or for an explicit `failback()` when failback is manual.
 *
 * Passive signals come from live traffic, which clients shape, so they are trusted less than
 * active checks: they never take out the last usable target (of a jurisdiction, under
 * residency routing), and at most `maxEjectionPercent` of the targets at once (Envoy's
 * `max_ejection_percent`, at least one). An active check that fails confirms the ejection and
 * frees its place in that budget.
 */

export type HealthState = 'unknown' | 'healthy' | 'suspect' | 'unhealthy' | 'recovering';
export type RoutingStrategy = 'ordered' | 'weighted' | 'latency' | 'residency';

/** What the machine needs to know about a target. */
export interface TargetRef {
  name: string;
  /** 1 is primary; lower is better. */
  tier: number;
  weight: number;
  /** Jurisdiction the target runs in (e.g. "eu"), for residency routing. */
  jurisdiction?: string | undefined;
}

export interface MachineConfig {
  failureThreshold: number;
  successThreshold: number;
  stablePeriodMs: number;
  failback: 'auto' | 'manual';
  routing: RoutingStrategy;
  /**
   * Consecutive proxied attempts that failed through the target's fault (connect errors,
   * resets, timeouts, gateway statuses) that eject it; 0 disables.
   */
  passiveThreshold: number;
  /** Most targets, in percent, that passive signals may hold out at once (default 50; ≥ 1 target). */
  maxEjectionPercent?: number;
  /**
   * Ranked before every tier (a front door inside one cluster prefers its own target); the
   * others keep their tier order. Failback to it waits the stable period like any failback.
   */
  prefer?: string | undefined;
}

/** One target's health as the machine sees it. */
export interface TargetStatus {
  name: string;
  tier: number;
  weight: number;
  jurisdiction: string | undefined;
  state: HealthState;
  /** Taken out of rotation by hand ("fail target"). */
  disabled: boolean;
  /** When the current state was entered. */
  since: number | undefined;
  /** When the target last became healthy; reset when it leaves healthy. */
  healthySince: number | undefined;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  passiveFailures: number;
  /** Held out by passive signals alone (no failed active check since). */
  ejected: boolean;
  lastCheckAt: number | undefined;
  lastCheckOk: boolean | undefined;
  lastLatencyMs: number | undefined;
  /** Smoothed check latency (EWMA, alpha 0.3), for latency routing. */
  latencyMs: number | undefined;
  lastError: string | undefined;
}

export type ActiveReason = 'initial' | 'failover' | 'failback' | 'manual' | 'all-down';

export type FailoverEvent =
  | {
      type: 'state';
      at: number;
      target: string;
      from: HealthState;
      to: HealthState;
      reason: string;
    }
  | {
      type: 'active';
      at: number;
      from: string | undefined;
      to: string | undefined;
      reason: ActiveReason;
    }
  | { type: 'disabled' | 'enabled'; at: number; target: string }
  | {
      /** Passive signals would eject the target, but the ejection budget or the last-target rule holds it in. */
      type: 'ejection-held';
      at: number;
      target: string;
      reason: string;
    };

export interface CheckResult {
  ok: boolean;
  latencyMs?: number | undefined;
  error?: string | undefined;
}

/** A request's route: the targets to try, in order, or why there is none. */
export type Route =
  | { ok: true; targets: string[] }
  /** `unknownJurisdiction`: no target runs where the request asks to stay (the client's error). */
  | { ok: false; reason: string; unknownJurisdiction?: boolean };

export interface RouteOptions {
  /** The request's jurisdiction (residency routing); undefined when the request has none. */
  jurisdiction?: string | undefined;
  /** A number in [0, 1) for weighted routing; pass randomness in, the core has none. */
  random?: number;
}

const USABLE: ReadonlySet<HealthState> = new Set(['unknown', 'healthy', 'suspect']);
/** Latency routing switches only when another target is this much faster (no flapping). */
const LATENCY_MARGIN = 0.2;
const EWMA_ALPHA = 0.3;

/** Orders targets by tier, then by their position in the spec. */
export function compareTier(a: TargetRef & { index: number }, b: TargetRef & { index: number }) {
  return a.tier - b.tier || a.index - b.index;
}

/** Ranks `prefer` before every tier, the rest by `compareTier`. */
function rankWith(prefer: string | undefined) {
  return (a: TargetRef & { index: number }, b: TargetRef & { index: number }) =>
    Number(b.name === prefer) - Number(a.name === prefer) || compareTier(a, b);
}

const DEFAULT_MAX_EJECTION_PERCENT = 50;

/** The failover state of a set of targets. Deterministic: same inputs, same outputs. */
export class FailoverMachine {
  readonly config: MachineConfig;
  private readonly targets: (TargetStatus & { index: number })[];
  private readonly byName = new Map<string, TargetStatus & { index: number }>();
  private activeName: string | undefined;
  private latencyPick: string | undefined;
  /** Bumped on every change that can alter a route. */
  private version = 0;
  private routeCacheVersion = -1;
  private readonly routeCache = new Map<string, Route>();
  private readonly compare: ReturnType<typeof rankWith>;

  constructor(targets: readonly TargetRef[], config: MachineConfig) {
    if (targets.length === 0) throw new Error('FailoverMachine needs at least one target');
    if (config.prefer !== undefined && !targets.some((t) => t.name === config.prefer)) {
      throw new Error(`preferred target ${config.prefer} is not a target`);
    }
    this.config = config;
    this.compare = rankWith(config.prefer);
    this.targets = targets.map((t, index) => ({
      name: t.name,
      tier: t.tier,
      weight: t.weight,
      jurisdiction: t.jurisdiction,
      index,
      state: 'unknown',
      disabled: false,
      since: undefined,
      healthySince: undefined,
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      passiveFailures: 0,
      ejected: false,
      lastCheckAt: undefined,
      lastCheckOk: undefined,
      lastLatencyMs: undefined,
      latencyMs: undefined,
      lastError: undefined,
    }));
    for (const t of this.targets) {
      if (this.byName.has(t.name)) throw new Error(`duplicate target name ${t.name}`);
      this.byName.set(t.name, t);
    }
    this.activeName = this.ranked(this.targets.filter((t) => this.usable(t)))[0]?.name;
  }

  /** The target DNS points at and ordered routing sends traffic to, or undefined if none. */
  get active(): string | undefined {
    return this.activeName;
  }

  /** A copy of every target's status, in spec order. */
  snapshot(): TargetStatus[] {
    return this.targets.map(({ index: _index, ...rest }) => ({ ...rest }));
  }

  status(name: string): TargetStatus {
    const { index: _index, ...rest } = this.get(name);
    return { ...rest };
  }

  /** Whether the target can take traffic now. */
  isUsable(name: string): boolean {
    return this.usable(this.get(name));
  }

  /** Feeds one active health check result. */
  recordCheck(name: string, result: CheckResult, now: number): FailoverEvent[] {
    const t = this.get(name);
    const events: FailoverEvent[] = [];
    this.noteCheck(t, result, now);
    if (result.ok) this.checkPassed(t, now, events);
    else this.checkFailed(t, now, events);
    this.evaluate(now, events);
    return events;
  }

  /** Records a check's time, outcome and error, and folds its latency into the average. */
  private noteCheck(t: TargetStatus & { index: number }, result: CheckResult, now: number) {
    t.lastCheckAt = now;
    t.lastCheckOk = result.ok;
    t.lastError = result.ok ? undefined : (result.error ?? 'check failed');
    if (result.ok && result.latencyMs !== undefined) {
      t.lastLatencyMs = result.latencyMs;
      t.latencyMs =
        t.latencyMs === undefined
          ? result.latencyMs
          : t.latencyMs + EWMA_ALPHA * (result.latencyMs - t.latencyMs);
    }
  }

  /** A passed check moves the target toward healthy, after `successThreshold` in a row. */
  private checkPassed(t: TargetStatus & { index: number }, now: number, events: FailoverEvent[]) {
    const oks = this.config.successThreshold;
    t.consecutiveFailures = 0;
    t.consecutiveSuccesses++;
    switch (t.state) {
      case 'unknown':
        this.move(t, 'healthy', now, 'first check passed', events);
        break;
      case 'suspect':
        this.move(t, 'healthy', now, 'check passed', events);
        break;
      case 'unhealthy':
        if (oks <= 1) this.move(t, 'healthy', now, 'check passed', events);
        else this.move(t, 'recovering', now, 'check passed', events);
        break;
      case 'recovering':
        if (t.consecutiveSuccesses >= oks) {
          this.move(t, 'healthy', now, `${t.consecutiveSuccesses} checks passed`, events);
        }
        break;
      case 'healthy':
        break;
    }
  }

  /** A failed check moves the target toward unhealthy, after `failureThreshold` in a row. */
  private checkFailed(t: TargetStatus & { index: number }, now: number, events: FailoverEvent[]) {
    const fails = this.config.failureThreshold;
    t.consecutiveSuccesses = 0;
    t.consecutiveFailures++;
    // An active check agrees: the target is down by evidence clients cannot shape.
    t.ejected = false;
    const why = t.lastError ?? 'check failed';
    switch (t.state) {
      case 'unknown':
        this.move(t, 'unhealthy', now, why, events);
        break;
      case 'healthy':
        if (fails <= 1) this.move(t, 'unhealthy', now, why, events);
        else this.move(t, 'suspect', now, why, events);
        break;
      case 'suspect':
        if (t.consecutiveFailures >= fails) {
          this.move(t, 'unhealthy', now, `${t.consecutiveFailures} checks failed: ${why}`, events);
        }
        break;
      case 'recovering':
        this.move(t, 'unhealthy', now, why, events);
        break;
      case 'unhealthy':
        break;
    }
  }

  /**
   * Feeds one proxied attempt's outcome. `ok: false` only for what is the target's fault (a
   * connect error, a reset, a timeout, a gateway status): enough in a row eject the target at
   * once, unless that would leave no usable target or exceed the ejection budget.
   */
  recordPassive(name: string, result: { ok: boolean; error?: string }, now: number) {
    const t = this.get(name);
    const events: FailoverEvent[] = [];
    if (result.ok) {
      t.passiveFailures = 0;
      return events;
    }
    t.passiveFailures++;
    const limit = this.config.passiveThreshold;
    if (limit <= 0 || t.passiveFailures < limit || !USABLE.has(t.state) || t.disabled) {
      return events;
    }
    const error = result.error ?? 'proxied requests failed';
    const held = this.ejectionHeld(t);
    if (held !== undefined) {
      // Said once per streak of failures, not once per request.
      if (t.passiveFailures === limit) {
        events.push({ type: 'ejection-held', at: now, target: name, reason: `${held} (${error})` });
      }
      return events;
    }
    t.consecutiveSuccesses = 0;
    t.lastError = error;
    t.ejected = true;
    this.move(
      t,
      'unhealthy',
      now,
      `ejected after ${t.passiveFailures} consecutive proxy errors: ${error}`,
      events,
    );
    this.evaluate(now, events);
    return events;
  }

  /** Why passive signals may not eject `t` now, or undefined when they may. */
  private ejectionHeld(t: TargetStatus & { index: number }): string | undefined {
    const others = this.targets.filter((o) => o !== t && this.usable(o));
    if (others.length === 0) return 'it is the last usable target';
    if (
      this.config.routing === 'residency' &&
      t.jurisdiction !== undefined &&
      !others.some((o) => o.jurisdiction === t.jurisdiction)
    ) {
      return `it is the last usable target in jurisdiction "${t.jurisdiction}"`;
    }
    const percent = this.config.maxEjectionPercent ?? DEFAULT_MAX_EJECTION_PERCENT;
    const budget = Math.max(1, Math.floor((this.targets.length * percent) / 100));
    const ejected = this.targets.filter((o) => o.ejected).length;
    if (ejected >= budget) {
      return `${ejected} of ${this.targets.length} target(s) already ejected by live traffic (max ${percent} %)`;
    }
    return undefined;
  }

  /** Takes a target out of rotation by hand, whatever its health. */
  disable(name: string, now: number): FailoverEvent[] {
    const t = this.get(name);
    const events: FailoverEvent[] = [];
    if (!t.disabled) {
      this.version++;
      t.disabled = true;
      events.push({ type: 'disabled', at: now, target: name });
      this.evaluate(now, events, 'manual');
    }
    return events;
  }

  /** Puts a disabled target back; it serves again when its health allows (stable period). */
  enable(name: string, now: number): FailoverEvent[] {
    const t = this.get(name);
    const events: FailoverEvent[] = [];
    if (t.disabled) {
      this.version++;
      t.disabled = false;
      // Back in rotation counts as newly healthy: failback to it waits the stable period.
      if (t.state === 'healthy') t.healthySince = now;
      events.push({ type: 'enabled', at: now, target: name });
      this.evaluate(now, events);
    }
    return events;
  }

  /** Fails back to the best usable target now, skipping the stable period (manual failback). */
  failback(now: number): FailoverEvent[] {
    const events: FailoverEvent[] = [];
    const best = this.ranked(this.targets.filter((t) => this.usable(t)))[0];
    if (best && best.name !== this.activeName) this.setActive(best.name, now, 'failback', events);
    return events;
  }

  /** Re-evaluates time-based transitions (the stable period) without a new check. */
  tick(now: number): FailoverEvent[] {
    const events: FailoverEvent[] = [];
    this.evaluate(now, events);
    return events;
  }

  /**
   * The targets a request should try, in order: the first gets it, the others are retries.
   * Residency routing never leaves the request's jurisdiction; it fails instead.
   */
  route(options: RouteOptions = {}): Route {
    const routing = this.config.routing;
    if (routing === 'ordered' || routing === 'residency') {
      // The answer only changes with the state: cache it per jurisdiction (hot path).
      const key = routing === 'residency' ? (options.jurisdiction ?? '') : '';
      if (this.routeCacheVersion !== this.version) {
        this.routeCache.clear();
        this.routeCacheVersion = this.version;
      }
      const hit = this.routeCache.get(key);
      if (hit) return hit;
      const fresh = this.computeRoute(options);
      if (this.routeCache.size < 64) this.routeCache.set(key, fresh);
      return fresh;
    }
    return this.computeRoute(options);
  }

  private computeRoute(options: RouteOptions): Route {
    let pool = this.targets.filter((t) => !t.disabled);
    const { jurisdiction } = options;
    if (this.config.routing === 'residency' && jurisdiction !== undefined && jurisdiction !== '') {
      if (!this.targets.some((t) => t.jurisdiction === jurisdiction)) {
        const known = [...new Set(this.targets.map((t) => t.jurisdiction))].filter(Boolean);
        return {
          ok: false,
          unknownJurisdiction: true,
          reason: `no target runs in jurisdiction "${jurisdiction.slice(0, 32)}"; targets run in: ${known.join(', ')}`,
        };
      }
      pool = pool.filter((t) => t.jurisdiction === jurisdiction);
    }
    const usable = this.ranked(pool.filter((t) => this.usable(t)));
    // Recovering targets are a last resort: they answered their latest checks.
    const fallback = this.ranked(pool.filter((t) => t.state === 'recovering'));
    if (usable.length === 0 && fallback.length === 0) {
      return {
        ok: false,
        reason:
          jurisdiction !== undefined && this.config.routing === 'residency'
            ? `no healthy target in jurisdiction "${jurisdiction}"`
            : 'no healthy target',
      };
    }
    let first: (typeof usable)[number] | undefined;
    switch (this.config.routing) {
      case 'weighted':
        first = pickWeighted(usable, options.random ?? 0);
        break;
      case 'latency':
        first = this.latencyFirst(usable);
        break;
      default: {
        const active = this.activeName === undefined ? undefined : this.byName.get(this.activeName);
        first = active && usable.includes(active) ? active : usable[0];
      }
    }
    const ordered = first ? [first, ...usable.filter((t) => t !== first)] : usable;
    return { ok: true, targets: [...ordered, ...fallback].map((t) => t.name) };
  }

  private latencyFirst(usable: (TargetStatus & { index: number })[]) {
    const measured = usable.filter((t) => t.latencyMs !== undefined);
    if (measured.length === 0) return usable[0];
    const fastest = measured.reduce((a, b) => (b.latencyMs! < a.latencyMs! ? b : a));
    const current = measured.find((t) => t.name === this.latencyPick);
    // Keep the current pick unless another is clearly faster, so noise does not flap traffic.
    if (current && current.latencyMs! <= fastest.latencyMs! * (1 + LATENCY_MARGIN)) return current;
    this.latencyPick = fastest.name;
    return fastest;
  }

  private evaluate(now: number, events: FailoverEvent[], cause?: ActiveReason) {
    const usable = this.ranked(this.targets.filter((t) => this.usable(t)));
    const best = usable[0];
    const current = this.activeName === undefined ? undefined : this.byName.get(this.activeName);
    if (!current || !this.usable(current)) {
      if (best) {
        this.setActive(best.name, now, cause ?? 'failover', events);
      } else if (this.activeName !== undefined) {
        this.setActive(undefined, now, 'all-down', events);
      }
      return;
    }
    if (!best || best === current || this.compare(best, current) >= 0) return;
    if (this.config.failback !== 'auto') return;
    // Failback to the best target that has been stably healthy; others keep waiting.
    const stable = usable.find(
      (t) =>
        this.compare(t, current) < 0 &&
        t.state === 'healthy' &&
        t.healthySince !== undefined &&
        now - t.healthySince >= this.config.stablePeriodMs,
    );
    if (stable) this.setActive(stable.name, now, 'failback', events);
  }

  private setActive(
    name: string | undefined,
    now: number,
    reason: ActiveReason,
    events: FailoverEvent[],
  ) {
    const from = this.activeName;
    if (from === name) return;
    this.version++;
    this.activeName = name;
    events.push({ type: 'active', at: now, from, to: name, reason });
  }

  private move(
    t: TargetStatus,
    to: HealthState,
    now: number,
    reason: string,
    events: FailoverEvent[],
  ) {
    const from = t.state;
    if (from === to) return;
    this.version++;
    t.state = to;
    t.since = now;
    if (to === 'healthy') {
      t.healthySince = now;
      t.passiveFailures = 0;
      t.ejected = false;
    } else {
      t.healthySince = undefined;
    }
    if (to === 'unhealthy' || to === 'suspect') t.consecutiveSuccesses = 0;
    events.push({ type: 'state', at: now, target: t.name, from, to, reason });
  }

  private usable(t: TargetStatus): boolean {
    return !t.disabled && USABLE.has(t.state);
  }

  private ranked<T extends TargetStatus & { index: number }>(list: T[]): T[] {
    return [...list].sort(this.compare);
  }

  private get(name: string) {
    const t = this.byName.get(name);
    if (!t) throw new Error(`unknown target ${name}`);
    return t;
  }
}

function pickWeighted<T extends { weight: number }>(list: T[], random: number): T | undefined {
  const total = list.reduce((s, t) => s + t.weight, 0);
  if (total <= 0) return list[0];
  let x = Math.min(Math.max(random, 0), 0.999999999) * total;
  for (const t of list) {
    if (x < t.weight) return t;
    x -= t.weight;
  }
  return list[list.length - 1];
}
