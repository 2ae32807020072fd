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
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  jurisdictionFromRegion,
  planFailover,
  redactUrl,
  type FailoverPlan,
  type JurisdictionOf,
} from '../../core/failover/index.js';
import { McmlError } from '../../core/errors.js';
import type { Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { DnsProvider, DnsRecord } from '../../ports/dns-provider.js';
import type { Logger } from '../../ports/logger.js';
import { adminApi } from './admin-api.js';
import { systemClock } from './clock.js';
import { DnsUpdater } from './dns-updater.js';
import { EventLog, type FailoverLogEntry } from './events.js';
import { startFrontDoor, type FrontDoor } from './front-door.js';
import { HealthChecker } from './health-checker.js';
import { createFailoverMetrics, type FailoverMetrics } from './metrics.js';
import { Rotation } from './rotation.js';
import type { FailoverStatus } from './status.js';

export type { FailoverStatus, TargetReport } from './status.js';

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

/** Starts health checks, the front door (unless mode is dns) and the DNS updater. */
export async function startFailover(options: StartFailoverOptions): Promise<RunningFailover> {
  const setup = resolveSetup(options);
  const parts = assembleParts(options, setup);
  const { plan, clock } = setup;
  const { rotation, checker, dns, events } = parts;
  const stopAll = async () => {
    await Promise.all([checker.stop(), dns?.close(), events.close()]);
  };

  await firstRound(plan, rotation, checker, dns, events, clock);
  await failFastOnDnsInput(options, parts, stopAll);
  checker.start();
  // Stable-period failback and the end of leases can come due between checks.
  const tickAbort = new AbortController();
  const ticking = tickEvery(Math.min(1000, plan.intervalMs), clock, tickAbort.signal, () =>
    rotation.tick(),
  );
  if (setup.useFrontDoor) {
    try {
      rotation.frontDoor = await openFrontDoor(
        options,
        plan,
        rotation,
        events,
        parts.metrics,
        clock,
      );
    } catch (error) {
      tickAbort.abort();
      await stopAll();
      throw error;
    }
    events.record('listening', clock.now(), { url: rotation.frontDoor.url });
  }
  return runningFailover(options, clock, parts, async () => {
    tickAbort.abort();
    await Promise.all([checker.stop(), rotation.frontDoor?.close(), dns?.close(), ticking]);
  });
}

interface FailoverSetup {
  clock: Clock;
  plan: FailoverPlan;
  useDns: boolean;
  useFrontDoor: boolean;
}

/** The plan and which halves run; INVALID_ARGUMENT when DNS is needed and no provider given. */
function resolveSetup(options: StartFailoverOptions): FailoverSetup {
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
  return { clock, plan, useDns, useFrontDoor };
}

interface FailoverParts {
  metrics: FailoverMetrics;
  events: EventLog;
  dns: DnsUpdater | undefined;
  rotation: Rotation;
  checker: HealthChecker;
}

/** Metrics, the event log, the DNS updater, the rotation and the health checker feeding it. */
function assembleParts(options: StartFailoverOptions, setup: FailoverSetup): FailoverParts {
  const { clock, plan } = setup;
  const config = plan.config;
  const metrics = createFailoverMetrics();
  const events = new EventLog(options.eventsFile);
  const dns =
    setup.useDns && options.dns && config.dns
      ? new DnsUpdater({
          provider: options.dns,
          name: config.dns.record.replace(/\.$/, ''),
          ttl: config.dns.ttl,
          clock,
          events,
          metrics,
        })
      : undefined;
  const rotation = new Rotation({ plan, clock, events, metrics, logger: options.logger, dns });
  const checker = new HealthChecker({
    targets: plan.targets,
    intervalMs: plan.intervalMs,
    timeoutMs: plan.timeoutMs,
    clock,
    onResult: (name, result) => rotation.onCheck(name, result),
  });
  return { metrics, events, dns, rotation, checker };
}

/** With dnsFailFast: a first DNS write refused as bad input stops everything and throws. */
async function failFastOnDnsInput(
  options: StartFailoverOptions,
  { dns, rotation }: FailoverParts,
  stopAll: () => Promise<void>,
): Promise<void> {
  if (!dns || !options.dnsFailFast || rotation.machine.active === undefined) return;
  const error = await dns.firstAttempt;
  if (error instanceof McmlError && error.isInputError) {
    await stopAll();
    await options.dns?.close?.();
    throw error;
  }
}

/** The handle the caller drives; `close` (once) stops the loops, then the provider and log. */
function runningFailover(
  options: StartFailoverOptions,
  clock: Clock,
  { rotation, events, metrics, dns }: FailoverParts,
  stopLoops: () => Promise<void>,
): RunningFailover {
  let closed = false;
  return {
    url: rotation.frontDoor?.url,
    status: () => rotation.status(),
    fail: (target, o) => rotation.fail(target, o),
    restore: (target) => rotation.restore(target),
    failback: () => rotation.failback(),
    events,
    metrics,
    dnsSettled: async () => {
      await dns?.settled();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await stopLoops();
      await options.dns?.close?.();
      events.record('stop', clock.now());
      await events.close();
    },
  };
}

/** One round of checks before serving, so the first request and DNS write see real health. */
async function firstRound(
  plan: FailoverPlan,
  rotation: Rotation,
  checker: HealthChecker,
  dns: DnsUpdater | undefined,
  events: EventLog,
  clock: Clock,
): Promise<void> {
  await checker.checkAll();
  rotation.refreshGauges();
  events.record('start', clock.now(), {
    active: rotation.machine.active,
    mode: plan.config.mode,
    routing: plan.config.routing,
    targets: plan.targets.map((t) => ({
      name: t.name,
      tier: t.tier,
      endpoint: redactUrl(t.endpoint),
    })),
  });
  dns?.point(rotation.dnsRecordFor(rotation.machine.active));
}

/** Calls `tick` every `ms` until `signal` aborts. */
async function tickEvery(
  ms: number,
  clock: Clock,
  signal: AbortSignal,
  tick: () => void,
): Promise<void> {
  for (;;) {
    try {
      await clock.sleep(ms, signal);
    } catch {
      return;
    }
    tick();
  }
}

/**
 * The front door over the plan's targets, routed by the state machine, reporting outcomes to
 * it, with the admin API under /_mcml/.
 * @throws McmlError CONFLICT (port in use) or UNAVAILABLE when it cannot listen.
 */
async function openFrontDoor(
  options: StartFailoverOptions,
  plan: FailoverPlan,
  rotation: Rotation,
  events: EventLog,
  metrics: FailoverMetrics,
  clock: Clock,
): Promise<FrontDoor> {
  const config = plan.config;
  const random = options.random ?? Math.random;
  const host = options.host ?? config.frontDoor.host;
  const port = options.port ?? config.frontDoor.port;
  try {
    return await startFrontDoor({
      host,
      port,
      upstreams: plan.targets,
      maxBodyBytes: config.frontDoor.maxBodyBytes,
      retryPost: config.frontDoor.retryPost,
      jurisdictionHeader: config.frontDoor.jurisdictionHeader,
      upstreamTimeoutMs: plan.upstreamTimeoutMs,
      // "Not answering" means what it means to the health checks.
      attemptFloorMs: plan.timeoutMs,
      route: ({ jurisdiction }) => rotation.machine.route({ jurisdiction, random: random() }),
      onOutcome: (target, ok, error) => rotation.onOutcome(target, ok, error),
      admin: adminApi({
        controls: rotation,
        events,
        metrics,
        clock,
        adminToken: options.adminToken,
        tokenEnv: config.frontDoor.adminTokenEnv,
      }),
      metrics,
      onInternalError: (error) => {
        const message = error instanceof Error ? error.message : String(error);
        events.record('internal-error', clock.now(), { error: message });
        options.logger?.error({ err: error }, 'front door failed on a request');
      },
      ...(options.server ? { server: options.server } : {}),
      ...(options.intercept ? { intercept: options.intercept } : {}),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new McmlError(
      code === 'EADDRINUSE' ? 'CONFLICT' : 'UNAVAILABLE',
      `the front door cannot listen on ${host}:${port}: ${(error as Error).message}`,
      { hint: 'choose another failover.frontDoor.port or pass --port', cause: error },
    );
  }
}

export type { FailoverLogEntry, DnsRecord };
