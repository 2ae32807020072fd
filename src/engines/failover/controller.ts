/**
 * The failover controller: health loop + state machine + front door + DNS updater, in one
 * process. `mcml failover run` and `mcml up` both start it through `startFailover`.
 *
 * @example
 * const fo = await startFailover({ spec });
 * console.log(fo.url, fo.status().active);
 * fo.fail('aws-primary'); // take it out of rotation by hand
 * await fo.close();
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  FailoverMachine,
  dnsValueFor,
  jurisdictionFromRegion,
  planFailover,
  redactUrl,
  type CheckResult,
  type FailoverEvent,
  type FailoverPlan,
  type HealthState,
  type JurisdictionOf,
} from '../../core/failover/index.js';
import { McmlError } from '../../core/errors.js';
import { durationMs, type Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { DnsProvider, DnsRecord } from '../../ports/dns-provider.js';
import type { Logger } from '../../ports/logger.js';
import { systemClock } from './clock.js';
import { DnsUpdater } from './dns-updater.js';
import { EventLog, type FailoverLogEntry } from './events.js';
import { startFrontDoor, type FrontDoor } from './front-door.js';
import { HealthChecker } from './health-checker.js';
import { createFailoverMetrics, type FailoverMetrics } from './metrics.js';

export interface StartFailoverOptions {
  spec: Spec;
  /** Override the plan derived from the spec (e.g. `mcml up` with its own local targets). */
  plan?: FailoverPlan;
  jurisdictionOf?: JurisdictionOf;
  clock?: Clock;
  logger?: Logger;
  /** The DNS writer, for mode dns/both (see src/adapters/dns.ts to build one from the spec). */
  dns?: DnsProvider;
  /** JSON-lines event log file. */
  eventsFile?: string;
  /** Bearer token for admin mutations over HTTP; without one they are refused. */
  adminToken?: string;
  /** Override the listen address of the front door. */
  host?: string;
  port?: number;
  /** Serve the front door on this listening server (it stays the caller's to close). */
  server?: Server;
  /** Takes requests before the front door proxies them (e.g. a dashboard): true when taken. */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Skip the front door (mode dns): only the health loop and DNS run. */
  frontDoor?: boolean;
  /**
   * Fail start-up when the first DNS write fails with an input error (a key the server
   * rejects, a zone that does not exist) instead of retrying it forever. The CLI sets it.
   */
  dnsFailFast?: boolean;
  /**
   * false: the DNS provider fails over by itself (Route 53 failover records with health
   * checks, written by the caller), so no record is rewritten when the active target moves.
   */
  dnsUpdater?: boolean;
  /** Seeded randomness for weighted routing (default Math.random). */
  random?: () => number;
}

/** One target in a status report. */
export interface TargetReport {
  name: string;
  tier: number;
  endpoint: string;
  jurisdiction: string | undefined;
  state: HealthState;
  disabled: boolean;
  active: boolean;
  /** When a leased "fail" ends by itself (ISO 8601), if the target is out on a lease. */
  leaseUntil?: string | undefined;
  lastCheck: string | undefined;
  lastCheckOk: boolean | undefined;
  latencyMs: number | undefined;
  lastError: string | undefined;
}

export interface FailoverStatus {
  active: string | undefined;
  routing: string;
  mode: string;
  failback: string;
  frontDoor: string | undefined;
  dns:
    | {
        provider: string;
        record: string;
        values: string[] | undefined;
        writes: number;
        lastError: string | undefined;
      }
    | undefined;
  targets: TargetReport[];
}

export interface RunningFailover {
  /** Front door URL, or undefined in dns-only mode. */
  url: string | undefined;
  status(): FailoverStatus;
  /**
   * Takes a target out of rotation by hand. With `leaseMs` it comes back by itself unless the
   * lease is renewed (failed again with a lease) in time: a drill that dies cannot leave it
   * out. Throws CONFLICT for a lease on a target already taken out without one.
   */
  fail(target: string, options?: { leaseMs?: number }): void;
  /** Puts a target back in rotation (it serves again after its stable period). */
  restore(target: string): void;
  /** Fails back to the best healthy target now (for failback: manual). */
  failback(): void;
  events: EventLog;
  metrics: FailoverMetrics;
  /** Resolves when the DNS record matches the active target. */
  dnsSettled(): Promise<void>;
  close(): Promise<void>;
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Starts health checks, the front door (unless mode is dns) and the DNS updater. */
export async function startFailover(options: StartFailoverOptions): Promise<RunningFailover> {
  const clock = options.clock ?? systemClock;
  const plan =
    options.plan ?? planFailover(options.spec, options.jurisdictionOf ?? jurisdictionFromRegion);
  const config = plan.config;
  const useDns = config.mode !== 'front-door' && options.dnsUpdater !== false;
  const useFrontDoor = options.frontDoor ?? config.mode !== 'dns';
  if (useDns && !options.dns) {
    throw new McmlError('INVALID_ARGUMENT', `failover mode "${config.mode}" needs a DNS provider`, {
      hint: 'pass dns (see createDnsProvider in src/adapters/dns.ts)',
    });
  }
  const logger = options.logger;
  const metrics = createFailoverMetrics();
  const events = new EventLog(options.eventsFile);
  const machine = new FailoverMachine(plan.targets, plan.machine);
  const byName = new Map(plan.targets.map((t) => [t.name, t]));
  const random = options.random ?? Math.random;

  const dnsRecordFor = (name: string | undefined) => {
    if (name === undefined) return undefined;
    const t = byName.get(name);
    return t ? { name, ...dnsValueFor(t.endpoint) } : undefined;
  };
  const dns =
    useDns && options.dns && config.dns
      ? new DnsUpdater({
          provider: options.dns,
          name: config.dns.record.replace(/\.$/, ''),
          ttl: config.dns.ttl,
          clock,
          events,
          metrics,
        })
      : undefined;

  const cloudOf = (name: string | undefined) =>
    (name === undefined ? undefined : byName.get(name)?.cloud) ?? 'none';
  const refreshGauges = () => {
    for (const t of machine.snapshot()) {
      const labels = { target: t.name, cloud: cloudOf(t.name) };
      metrics.targetUp.set(labels, machine.isUsable(t.name) ? 1 : 0);
      metrics.activeTarget.set(labels, machine.active === t.name ? 1 : 0);
    }
  };
  // Set once the front door listens; a target going down sends its waiting requests onward.
  let frontDoor: FrontDoor | undefined;
  const outOfRotation = (target: string) => {
    const door = frontDoor;
    // After the current event is handled: this can run inside a proxied attempt's callback.
    if (door) queueMicrotask(() => door.targetDown(target));
  };
  const publish = (list: FailoverEvent[]) => {
    for (const e of list) {
      if (e.type === 'state') {
        events.record('state', e.at, {
          target: e.target,
          from: e.from,
          to: e.to,
          reason: e.reason,
        });
        logger?.info(
          { target: e.target, from: e.from, to: e.to, reason: e.reason },
          'target state',
        );
        if (e.to === 'unhealthy') outOfRotation(e.target);
      } else if (e.type === 'active') {
        events.record('active', e.at, { from: e.from, to: e.to, reason: e.reason });
        logger?.warn({ from: e.from, to: e.to, reason: e.reason }, 'active target changed');
        metrics.failovers.inc({
          from: e.from ?? 'none',
          to: e.to ?? 'none',
          reason: e.reason,
          cloud: cloudOf(e.to),
        });
        dns?.point(dnsRecordFor(e.to));
      } else if (e.type === 'ejection-held') {
        events.record(e.type, e.at, { target: e.target, reason: e.reason });
        logger?.warn({ target: e.target, reason: e.reason }, 'passive ejection held');
      } else {
        events.record(e.type, e.at, { target: e.target });
        if (e.type === 'disabled') outOfRotation(e.target);
      }
    }
    if (list.length > 0) refreshGauges();
  };
  const onCheck = (name: string, result: CheckResult) => {
    const cloud = cloudOf(name);
    metrics.checks.inc({ target: name, cloud, result: result.ok ? 'ok' : 'fail' });
    if (result.latencyMs !== undefined) {
      metrics.checkLatency.observe({ target: name, cloud }, result.latencyMs / 1000);
    }
    publish(machine.recordCheck(name, result, clock.now()));
  };
  const checker = new HealthChecker({
    targets: plan.targets,
    intervalMs: plan.intervalMs,
    timeoutMs: plan.timeoutMs,
    clock,
    onResult: onCheck,
  });

  // One round before serving, so the first request and the first DNS write see real health.
  await checker.checkAll();
  refreshGauges();
  events.record('start', clock.now(), {
    active: machine.active,
    mode: config.mode,
    routing: config.routing,
    targets: plan.targets.map((t) => ({
      name: t.name,
      tier: t.tier,
      endpoint: redactUrl(t.endpoint),
    })),
  });
  dns?.point(dnsRecordFor(machine.active));
  if (dns && options.dnsFailFast && machine.active !== undefined) {
    const error = await dns.firstAttempt;
    if (error instanceof McmlError && error.isInputError) {
      await Promise.all([checker.stop(), dns.close(), events.close()]);
      await options.dns?.close?.();
      throw error;
    }
  }
  checker.start();
  /** Targets out of rotation on a lease → when it ends. */
  const leases = new Map<string, number>();
  const expireLeases = () => {
    const now = clock.now();
    for (const [target, until] of leases) {
      if (until > now) continue;
      leases.delete(target);
      events.record('lease-expired', now, { target });
      publish(machine.enable(target, now));
    }
  };
  // Stable-period failback and the end of leases can come due between checks.
  const tickAbort = new AbortController();
  const ticking = (async () => {
    for (;;) {
      try {
        await clock.sleep(Math.min(1000, plan.intervalMs), tickAbort.signal);
      } catch {
        return;
      }
      expireLeases();
      publish(machine.tick(clock.now()));
    }
  })();

  const fail = (target: string, options: { leaseMs?: number } = {}) => {
    if (!byName.has(target)) throw unknownTarget(target, [...byName.keys()]);
    const now = clock.now();
    if (options.leaseMs === undefined) {
      leases.delete(target);
    } else {
      if (machine.status(target).disabled && !leases.has(target)) {
        throw new McmlError('CONFLICT', `target "${target}" is already out of rotation by hand`, {
          hint: 'restore it first if it should come back when the lease ends',
        });
      }
      leases.set(target, now + Math.max(0, options.leaseMs));
    }
    publish(machine.disable(target, now));
  };
  const restore = (target: string) => {
    if (!byName.has(target)) throw unknownTarget(target, [...byName.keys()]);
    leases.delete(target);
    publish(machine.enable(target, clock.now()));
  };
  const failback = () => publish(machine.failback(clock.now()));

  const status = (): FailoverStatus => ({
    active: machine.active,
    routing: config.routing,
    mode: config.mode,
    failback: config.failback,
    frontDoor: frontDoor?.url,
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
      endpoint: redactUrl(byName.get(t.name)?.endpoint ?? ''),
      jurisdiction: t.jurisdiction,
      state: t.state,
      disabled: t.disabled,
      active: machine.active === t.name,
      leaseUntil: leases.has(t.name) ? new Date(leases.get(t.name)!).toISOString() : undefined,
      lastCheck: t.lastCheckAt === undefined ? undefined : new Date(t.lastCheckAt).toISOString(),
      lastCheckOk: t.lastCheckOk,
      latencyMs:
        t.lastLatencyMs === undefined ? undefined : Math.round(t.lastLatencyMs * 100) / 100,
      lastError: t.lastError,
    })),
  });

  const admin = (req: IncomingMessage, res: ServerResponse) => {
    const send = (code: number, body: unknown, type = 'application/json') => {
      const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
      res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method === 'GET' && path === '/_mcml/status') return send(200, status());
    if (req.method === 'GET' && path === '/_mcml/events') return send(200, events.tail(100));
    if (req.method === 'GET' && path === '/_mcml/metrics') {
      metrics.registry
        .metrics()
        .then((text) => send(200, text, metrics.registry.contentType))
        .catch(() => send(500, { error: 'metrics_failed' }));
      return;
    }
    const m = /^\/_mcml\/(?:targets\/([^/]+)\/(fail|restore)|(failback))$/.exec(path);
    if (!m || req.method !== 'POST') return send(404, { error: 'not_found' });
    req.resume();
    if (!options.adminToken) {
      return send(403, {
        error: 'admin_disabled',
        message: `admin actions are off: start the controller with ${config.frontDoor.adminTokenEnv} set`,
      });
    }
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!tokensEqual(given, options.adminToken)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(401, { error: 'unauthorized', message: 'missing or wrong bearer token' });
    }
    try {
      const target = m[1] === undefined ? undefined : decodeTarget(m[1]);
      const lease = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('lease');
      const leaseMs = lease === null ? undefined : parseLease(lease);
      if (m[3]) failback();
      else if (m[2] === 'fail') fail(target!, leaseMs === undefined ? {} : { leaseMs });
      else restore(target!);
      events.record('admin', clock.now(), {
        action: m[3] ?? m[2],
        target,
        ...(leaseMs === undefined ? {} : { leaseMs }),
      });
      return send(200, status());
    } catch (error) {
      const e = error instanceof McmlError ? error : undefined;
      const code = e?.code === 'CONFLICT' ? 409 : e?.code === 'INVALID_ARGUMENT' ? 400 : 404;
      const name = code === 409 ? 'conflict' : code === 400 ? 'bad_request' : 'not_found';
      return send(code, { error: name, message: (error as Error).message });
    }
  };

  if (useFrontDoor) {
    try {
      frontDoor = await startFrontDoor({
        host: options.host ?? config.frontDoor.host,
        port: options.port ?? config.frontDoor.port,
        upstreams: plan.targets,
        maxBodyBytes: config.frontDoor.maxBodyBytes,
        retryPost: config.frontDoor.retryPost,
        jurisdictionHeader: config.frontDoor.jurisdictionHeader,
        upstreamTimeoutMs: plan.upstreamTimeoutMs,
        // "Not answering" means what it means to the health checks.
        attemptFloorMs: plan.timeoutMs,
        route: ({ jurisdiction }) => machine.route({ jurisdiction, random: random() }),
        onOutcome: (target, ok, error) => {
          const list = machine.recordPassive(
            target,
            error === undefined ? { ok } : { ok, error },
            clock.now(),
          );
          if (list.length > 0) publish(list);
        },
        admin,
        metrics,
        onInternalError: (error) => {
          const message = error instanceof Error ? error.message : String(error);
          events.record('internal-error', clock.now(), { error: message });
          logger?.error({ err: error }, 'front door failed on a request');
        },
        ...(options.server ? { server: options.server } : {}),
        ...(options.intercept ? { intercept: options.intercept } : {}),
      });
    } catch (error) {
      await checker.stop();
      tickAbort.abort();
      await dns?.close();
      await events.close();
      const code = (error as NodeJS.ErrnoException).code;
      throw new McmlError(
        code === 'EADDRINUSE' ? 'CONFLICT' : 'UNAVAILABLE',
        `the front door cannot listen on ${options.host ?? config.frontDoor.host}:${options.port ?? config.frontDoor.port}: ${(error as Error).message}`,
        { hint: 'choose another failover.frontDoor.port or pass --port', cause: error },
      );
    }
    events.record('listening', clock.now(), { url: frontDoor.url });
  }

  let closed = false;
  return {
    url: frontDoor?.url,
    status,
    fail,
    restore,
    failback,
    events,
    metrics,
    dnsSettled: async () => {
      await dns?.settled();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      tickAbort.abort();
      await Promise.all([checker.stop(), frontDoor?.close(), dns?.close(), ticking]);
      await options.dns?.close?.();
      events.record('stop', clock.now());
      await events.close();
    },
  };
}

function decodeTarget(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new McmlError(
      'INVALID_ARGUMENT',
      'the target name in the path is not valid percent-encoding',
    );
  }
}

/** A lease from the admin API: a duration ("15s", "500ms"), at most a day. */
function parseLease(text: string): number {
  let ms: number;
  try {
    ms = durationMs(text);
  } catch {
    ms = Number.NaN;
  }
  if (!Number.isFinite(ms) || ms <= 0 || ms > 86_400_000) {
    throw new McmlError('INVALID_ARGUMENT', 'lease must be a duration such as 15s, at most 24h');
  }
  return ms;
}

function unknownTarget(name: string, known: string[]): McmlError {
  return new McmlError('NOT_FOUND', `no target named "${name}"`, {
    hint: `targets: ${known.join(', ')}`,
  });
}

export type { FailoverLogEntry, DnsRecord };
