/**
 * `mcml failover drill TARGET`: takes a target out of rotation, measures how long until
 * traffic is served elsewhere and how many requests failed, then puts it back. A drill never
 * leaves a target out: Ctrl-C or SIGTERM restore it before exiting, and against a running
 * controller the target is out only on a lease the drill keeps renewing, so a drill killed
 * outright (kill -9, a lost laptop) is undone by the controller when the lease ends.
 */
import { performance } from 'node:perf_hooks';
import { McmlError } from '../../core/errors.js';
import { redactUrl, type FailoverPlan } from '../../core/failover/index.js';
import { durationMs, type Spec } from '../../core/spec/index.js';
import { startFailover, type FailoverStatus } from '../../engines/failover/index.js';
import { baseUrlFlag } from '../flags.js';
import { paint, useColor } from '../output.js';
import { fetchStatus, loadPlan } from './failover-run.js';

export interface FailoverDrillFlags {
  file: string;
  url?: string;
  hold: string;
  lease?: string;
  json?: boolean;
}

interface DrillResult {
  target: string;
  wasActive: boolean;
  switchedTo: string | undefined;
  /** From taking the target out to the first request served elsewhere (or the status change). */
  switchMs: number;
  failedRequests: number;
  restoredActive: string | undefined;
  mode: 'in-process' | 'remote';
  /** The signal that cut the hold short, if one did (the target was restored all the same). */
  interrupted?: NodeJS.Signals;
}

/** SIGINT/SIGTERM/SIGHUP while drilling: stop holding, restore, then exit 130. */
interface Interruption {
  signal: AbortSignal;
  received: NodeJS.Signals | undefined;
  dispose(): void;
}

function watchInterrupts(): Interruption {
  const abort = new AbortController();
  const state: Interruption = {
    signal: abort.signal,
    received: undefined,
    dispose: () => {
      for (const s of SIGNALS) process.off(s, on);
    },
  };
  const on = (signal: NodeJS.Signals) => {
    if (state.received) {
      // A second Ctrl-C while restoring: leave now; a remote lease still ends by itself.
      process.exit(130);
    }
    state.received = signal;
    abort.abort(new Error(`interrupted by ${signal}`));
  };
  for (const s of SIGNALS) process.on(s, on);
  return state;
}
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Waits `ms`, or less when `signal` aborts first. */
function hold(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function flagDuration(flag: string, value: string, max = 86_400_000): number {
  let ms = Number.NaN;
  try {
    ms = durationMs(value);
  } catch {
    // reported below
  }
  if (!Number.isFinite(ms) || ms <= 0 || ms > max) {
    throw new McmlError('USAGE', `${flag} must be a duration such as 2s or 500ms, not "${value}"`);
  }
  return ms;
}

/** `mcml failover drill TARGET`. */
export async function runFailoverDrill(target: string, flags: FailoverDrillFlags): Promise<void> {
  const { spec, plan } = await loadPlan(flags.file);
  if (!plan.targets.some((t) => t.name === target)) {
    throw new McmlError('NOT_FOUND', `no target named "${target}" in ${flags.file}`, {
      hint: `targets: ${plan.targets.map((t) => t.name).join(', ')}`,
    });
  }
  const holdMs = flagDuration('--hold', flags.hold);
  const leaseMs = flagDuration('--lease', flags.lease ?? '15s');
  const interrupt = watchInterrupts();
  let result: DrillResult;
  try {
    result = flags.url
      ? await remoteDrill(target, baseUrlFlag('--url', flags.url), plan, holdMs, leaseMs, interrupt)
      : await localDrill(target, spec, plan, holdMs, interrupt);
  } finally {
    interrupt.dispose();
  }
  if (result.interrupted) process.exitCode = 130;
  if (flags.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const color = useColor();
  const lines = [
    `drill of ${paint('bold', target, color)} (${result.mode})`,
    ...(result.interrupted
      ? [`  ${paint('yellow', `interrupted by ${result.interrupted}`, color)}: hold cut short`]
      : []),
    result.wasActive
      ? `  traffic moved to ${result.switchedTo ?? 'nothing'} in ${result.switchMs.toFixed(1)} ms`
      : `  ${target} was not the active target; traffic stayed on ${result.switchedTo ?? 'none'}`,
    `  failed requests during the drill: ${result.failedRequests}`,
    `  ${target} restored; active now: ${result.restoredActive ?? 'none'}` +
      (plan.config.failback === 'auto' && result.restoredActive !== target && result.wasActive
        ? ` (fails back after the stable period, ${String(plan.config.stablePeriod)})`
        : ''),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** A drill must not take down the service: another target has to be able to serve. */
function refuseLastTarget(target: string, status: FailoverStatus): void {
  const self = status.targets.find((t) => t.name === target);
  if (self?.disabled) {
    throw new McmlError('CONFLICT', `target "${target}" is already out of rotation`, {
      hint: `put it back first (POST /_mcml/targets/${target}/restore, or the dashboard)`,
    });
  }
  const others = status.targets.filter(
    (t) => t.name !== target && !t.disabled && (t.state === 'healthy' || t.state === 'suspect'),
  );
  if (others.length === 0) {
    throw new McmlError(
      'CONFLICT',
      `drilling "${target}" would leave no healthy target to take the traffic`,
      { hint: 'run "mcml failover status" and bring another target up first' },
    );
  }
}

/** Sends requests through the front door until `stop` aborts: failures and who served. */
async function probeTraffic(url: string, target: string, stop: AbortSignal) {
  const seen = { failed: 0, switchedAt: undefined as number | undefined, switchedTo: '' };
  while (!stop.aborted) {
    try {
      const res = await fetch(`${url}/`, {
        signal: AbortSignal.any([AbortSignal.timeout(5000), stop]),
      });
      await res.arrayBuffer();
      const served = res.headers.get('x-mcml-target') ?? undefined;
      if (res.status >= 500) seen.failed++;
      if (seen.switchedAt === undefined && served && served !== target) {
        seen.switchedAt = performance.now();
        seen.switchedTo = served;
      }
    } catch {
      if (!stop.aborted) seen.failed++;
    }
  }
  return seen;
}

/** Runs a controller in this process on a free port and drills it under light traffic. */
async function localDrill(
  target: string,
  spec: Spec,
  plan: FailoverPlan,
  holdMs: number,
  interrupt: Interruption,
): Promise<DrillResult> {
  const fo = await startFailover({
    spec,
    plan: { ...plan, config: { ...plan.config, mode: 'front-door' } },
    host: '127.0.0.1',
    port: 0,
  });
  try {
    refuseLastTarget(target, fo.status());
    const before = fo.status().active;
    // One request first, so connection set-up is not counted as switch time.
    await (await fetch(`${fo.url}/`, { signal: AbortSignal.timeout(5000) })).arrayBuffer();
    const started = performance.now();
    fo.fail(target);
    const stop = new AbortController();
    const probing = probeTraffic(fo.url!, target, stop.signal);
    await hold(holdMs, interrupt.signal);
    stop.abort();
    const seen = await probing;
    fo.restore(target);
    return {
      target,
      wasActive: before === target,
      switchedTo: seen.switchedTo || fo.status().active,
      switchMs: seen.switchedAt === undefined ? Number.NaN : seen.switchedAt - started,
      failedRequests: seen.failed,
      restoredActive: fo.status().active,
      mode: 'in-process',
      ...(interrupt.received ? { interrupted: interrupt.received } : {}),
    };
  } finally {
    await fo.close();
  }
}

/** Drills a running controller through its admin API, holding the target out on a lease. */
async function remoteDrill(
  target: string,
  url: string,
  plan: FailoverPlan,
  holdMs: number,
  leaseMs: number,
  interrupt: Interruption,
): Promise<DrillResult> {
  const admin = drillAdmin(url, target, plan.config.frontDoor.adminTokenEnv, leaseMs);
  const before = await fetchStatus(url);
  if (before) refuseLastTarget(target, before);
  if (interrupt.signal.aborted) throw interruptedBefore(interrupt);
  const started = performance.now();
  const out = await admin.fail();
  const switchMs = performance.now() - started;
  const { seen, after } = await holdOnLease(admin, url, target, holdMs, leaseMs, interrupt);
  return {
    target,
    wasActive: before?.active === target,
    switchedTo: seen.switchedTo || out.active,
    switchMs,
    failedRequests: seen.failed,
    restoredActive: after.active,
    mode: 'remote',
    ...(interrupt.received ? { interrupted: interrupt.received } : {}),
  };
}

/** The admin API calls of a remote drill: fail (on a lease) and restore the target. */
interface DrillAdmin {
  fail(): Promise<FailoverStatus>;
  /** Restore; its failure says the lease will put the target back by itself. */
  restore(): Promise<FailoverStatus>;
}

/** USAGE when the admin token is not in its variable. */
function drillAdmin(url: string, target: string, tokenEnv: string, leaseMs: number): DrillAdmin {
  const token = process.env[tokenEnv];
  if (!token) {
    throw new McmlError('USAGE', `a remote drill needs the admin token in ${tokenEnv}`, {
      hint: `export ${tokenEnv}=… (the value the controller was started with)`,
    });
  }
  const call = (action: 'fail' | 'restore') =>
    adminCall({ url, target, action, token, tokenEnv, leaseMs });
  return {
    fail: () => call('fail'),
    restore: () =>
      call('restore').catch((error: unknown) => {
        throw new McmlError(
          'UNAVAILABLE',
          `could not put "${target}" back: ${(error as Error).message}`,
          {
            cause: error,
            hint: `the controller puts it back by itself when its lease ends, within ${Math.ceil(leaseMs / 1000)} s`,
          },
        );
      }),
  };
}

/** One POST to /_mcml/targets/<target>/<action>; HTTP failures become McmlErrors. */
async function adminCall(req: {
  url: string;
  target: string;
  action: 'fail' | 'restore';
  token: string;
  tokenEnv: string;
  leaseMs: number;
}): Promise<FailoverStatus> {
  const { url, target, action, token, tokenEnv, leaseMs } = req;
  const lease = action === 'fail' ? `?lease=${Math.ceil(leaseMs)}ms` : '';
  const res = await fetch(`${url}/_mcml/targets/${encodeURIComponent(target)}/${action}${lease}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5000),
  }).catch((error: unknown) => {
    throw new McmlError('UNAVAILABLE', `no failover controller answers at ${redactUrl(url)}`, {
      cause: error,
    });
  });
  if (res.status === 401 || res.status === 403) {
    throw new McmlError(
      'PROVIDER_AUTH',
      `the controller at ${redactUrl(url)} refused the admin token`,
      {
        hint: `check ${tokenEnv}`,
      },
    );
  }
  if (res.status === 409) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new McmlError('CONFLICT', body.message ?? `${action} refused: HTTP 409`);
  }
  if (!res.ok) throw new McmlError('UNAVAILABLE', `${action} failed: HTTP ${res.status}`);
  return (await res.json()) as FailoverStatus;
}

/**
 * Holds the target out for holdMs while probing traffic, renewing the lease well before it
 * ends (a failed renewal is retried at the next turn); restores it whatever happens.
 */
async function holdOnLease(
  admin: DrillAdmin,
  url: string,
  target: string,
  holdMs: number,
  leaseMs: number,
  interrupt: Interruption,
): Promise<{ seen: Awaited<ReturnType<typeof probeTraffic>>; after: FailoverStatus }> {
  const stop = new AbortController();
  const renewing = (async () => {
    while (!stop.signal.aborted) {
      await hold(leaseMs / 3, stop.signal);
      if (!stop.signal.aborted) await admin.fail().catch(() => undefined);
    }
  })();
  let seen: Awaited<ReturnType<typeof probeTraffic>>;
  let after: FailoverStatus;
  try {
    const probing = probeTraffic(url, target, stop.signal);
    await hold(holdMs, interrupt.signal);
    stop.abort();
    seen = await probing;
  } finally {
    stop.abort();
    await renewing;
    after = await admin.restore();
  }
  return { seen, after };
}

function interruptedBefore(interrupt: Interruption): McmlError {
  return new McmlError('UNAVAILABLE', `drill interrupted by ${interrupt.received ?? 'a signal'}`, {
    hint: 'nothing was taken out of rotation',
  });
}
