/**
 * The failover controller's live state around its state machine: every decision published
 * (event log, logs, metrics, the DNS record, the front door's waiting attempts), targets taken
 * out by hand with optional leases, and the status report.
 */
import {
  FailoverMachine,
  dnsValueFor,
  redactUrl,
  type CheckResult,
  type FailoverEvent,
  type FailoverPlan,
} from '../../core/failover/index.js';
import { McmlError } from '../../core/errors.js';
import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import type { DnsUpdater } from './dns-updater.js';
import type { EventLog } from './events.js';
import type { FrontDoor } from './front-door.js';
import type { FailoverMetrics } from './metrics.js';
import type { FailoverStatus } from './status.js';

export interface RotationOptions {
  plan: FailoverPlan;
  clock: Clock;
  events: EventLog;
  metrics: FailoverMetrics;
  logger: Logger | undefined;
  dns: DnsUpdater | undefined;
}

export class Rotation {
  readonly machine: FailoverMachine;
  private readonly byName: Map<string, FailoverPlan['targets'][number]>;
  /** Targets out of rotation on a lease → when it ends. */
  private readonly leases = new Map<string, number>();
  /** Set once the front door listens: a target going down sends its waiting requests onward. */
  frontDoor: FrontDoor | undefined;

  constructor(private readonly o: RotationOptions) {
    this.machine = new FailoverMachine(o.plan.targets, o.plan.machine);
    this.byName = new Map(o.plan.targets.map((t) => [t.name, t]));
  }

  cloudOf(name: string | undefined): string {
    return (name === undefined ? undefined : this.byName.get(name)?.cloud) ?? 'none';
  }

  /** The DNS record value for a target (none when no target is active). */
  dnsRecordFor(name: string | undefined) {
    if (name === undefined) return undefined;
    const t = this.byName.get(name);
    return t ? { name, ...dnsValueFor(t.endpoint) } : undefined;
  }

  refreshGauges(): void {
    const { metrics } = this.o;
    for (const t of this.machine.snapshot()) {
      const labels = { target: t.name, cloud: this.cloudOf(t.name) };
      metrics.targetUp.set(labels, this.machine.isUsable(t.name) ? 1 : 0);
      metrics.activeTarget.set(labels, this.machine.active === t.name ? 1 : 0);
    }
  }

  /** Records, logs and acts on the machine's decisions. */
  publish(list: FailoverEvent[]): void {
    for (const e of list) this.publishOne(e);
    if (list.length > 0) this.refreshGauges();
  }

  private publishOne(e: FailoverEvent): void {
    const { events, logger, metrics } = this.o;
    if (e.type === 'state') {
      events.record('state', e.at, { target: e.target, from: e.from, to: e.to, reason: e.reason });
      logger?.info({ target: e.target, from: e.from, to: e.to, reason: e.reason }, 'target state');
      if (e.to === 'unhealthy') this.outOfRotation(e.target);
    } else if (e.type === 'active') {
      events.record('active', e.at, { from: e.from, to: e.to, reason: e.reason });
      logger?.warn({ from: e.from, to: e.to, reason: e.reason }, 'active target changed');
      metrics.failovers.inc({
        from: e.from ?? 'none',
        to: e.to ?? 'none',
        reason: e.reason,
        cloud: this.cloudOf(e.to),
      });
      this.o.dns?.point(this.dnsRecordFor(e.to));
    } else if (e.type === 'ejection-held') {
      events.record(e.type, e.at, { target: e.target, reason: e.reason });
      logger?.warn({ target: e.target, reason: e.reason }, 'passive ejection held');
    } else {
      events.record(e.type, e.at, { target: e.target });
      if (e.type === 'disabled') this.outOfRotation(e.target);
    }
  }

  private outOfRotation(target: string): void {
    const door = this.frontDoor;
    // After the current event is handled: this can run inside a proxied attempt's callback.
    if (door) queueMicrotask(() => door.targetDown(target));
  }

  /** A health check's result. */
  onCheck(name: string, result: CheckResult): void {
    const cloud = this.cloudOf(name);
    const { metrics } = this.o;
    metrics.checks.inc({ target: name, cloud, result: result.ok ? 'ok' : 'fail' });
    if (result.latencyMs !== undefined) {
      metrics.checkLatency.observe({ target: name, cloud }, result.latencyMs / 1000);
    }
    this.publish(this.machine.recordCheck(name, result, this.o.clock.now()));
  }

  /** A proxied request's outcome (passive health). */
  onOutcome(target: string, ok: boolean, error?: string): void {
    const list = this.machine.recordPassive(
      target,
      error === undefined ? { ok } : { ok, error },
      this.o.clock.now(),
    );
    if (list.length > 0) this.publish(list);
  }

  /** Leases that ended bring their targets back; stable periods may end between checks. */
  tick(): void {
    const now = this.o.clock.now();
    for (const [target, until] of this.leases) {
      if (until > now) continue;
      this.leases.delete(target);
      this.o.events.record('lease-expired', now, { target });
      this.publish(this.machine.enable(target, now));
    }
    this.publish(this.machine.tick(this.o.clock.now()));
  }

  fail(target: string, options: { leaseMs?: number } = {}): void {
    this.known(target);
    const now = this.o.clock.now();
    if (options.leaseMs === undefined) {
      this.leases.delete(target);
    } else {
      if (this.machine.status(target).disabled && !this.leases.has(target)) {
        throw new McmlError('CONFLICT', `target "${target}" is already out of rotation by hand`, {
          hint: 'restore it first if it should come back when the lease ends',
        });
      }
      this.leases.set(target, now + Math.max(0, options.leaseMs));
    }
    this.publish(this.machine.disable(target, now));
  }

  restore(target: string): void {
    this.known(target);
    this.leases.delete(target);
    this.publish(this.machine.enable(target, this.o.clock.now()));
  }

  failback(): void {
    this.publish(this.machine.failback(this.o.clock.now()));
  }

  private known(target: string): void {
    if (this.byName.has(target)) return;
    throw new McmlError('NOT_FOUND', `no target named "${target}"`, {
      hint: `targets: ${[...this.byName.keys()].join(', ')}`,
    });
  }

  status(): FailoverStatus {
    const { config } = this.o.plan;
    const { dns } = this.o;
    const machine = this.machine;
    return {
      active: machine.active,
      routing: config.routing,
      mode: config.mode,
      failback: config.failback,
      frontDoor: this.frontDoor?.url,
      dns:
        dns && config.dns
          ? {
              provider: config.dns.provider,
              record: config.dns.record,
              values: dns.current?.values,
              writes: dns.writes,
              lastError: dns.lastError,
            }
          : undefined,
      targets: machine.snapshot().map((t) => ({
        name: t.name,
        tier: t.tier,
        endpoint: redactUrl(this.byName.get(t.name)?.endpoint ?? ''),
        jurisdiction: t.jurisdiction,
        state: t.state,
        disabled: t.disabled,
        active: machine.active === t.name,
        leaseUntil: this.leases.has(t.name)
          ? new Date(this.leases.get(t.name)!).toISOString()
          : undefined,
        lastCheck: t.lastCheckAt === undefined ? undefined : new Date(t.lastCheckAt).toISOString(),
        lastCheckOk: t.lastCheckOk,
        latencyMs:
          t.lastLatencyMs === undefined ? undefined : Math.round(t.lastLatencyMs * 100) / 100,
        lastError: t.lastError,
      })),
    };
  }
}
