/**
 * `mcml deploy`: the rendered service onto every cloud target's cluster through the rollout
 * engine — waves, gates, bake, rollback of a target that fails — with live progress, and an
 * exit code that says whose fault a failure was (2: fix the input, 1: the world failed,
 * 130: interrupted, every cluster's state printed).
 */
import { McmlError, isInputErrorCode, isMcmlError, type ErrorCode } from '../../core/errors.js';
import { MAX_TIMER_MS, parseDuration } from '../../core/spec/duration.js';
import {
  planWaves,
  prometheusGate,
  runDeploy,
  type DeployOptions,
  type DeployReport,
  type DeployTarget,
} from '../../engines/deploy/index.js';
import { systemClock } from '../../engines/failover/clock.js';
import { baseUrlFlag } from '../flags.js';
import { useColor } from '../output.js';
import { runDiff } from './deploy-diff-run.js';
import { loadDeploySource, type DeploySourceOptions } from './deploy-targets.js';
import { DeployView, type ViewMode } from './deploy-view.js';

/** Flags of a rollout, shared by deploy and rollback. */
export interface RolloutFlags {
  allAtOnce?: boolean;
  order?: string;
  waves?: string;
  timeout?: string;
  prometheusUrl?: string;
  gate?: string;
  bake?: string;
  unreachable?: string;
  retries?: string;
  forceConflicts?: boolean;
  json?: boolean;
}

export interface DeployCommandOptions extends DeploySourceOptions, RolloutFlags {
  prune?: boolean;
  rollback?: boolean;
  dryRun?: boolean;
}

function durationFlag(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms > MAX_TIMER_MS) {
    throw new McmlError(
      'USAGE',
      `${flag} must be a duration such as 90s, 10m or 1h, got "${value}"`,
    );
  }
  return ms;
}

/** Without --timeout: at least 10 min, more than the longest progress deadline of the sets. */
function defaultRolloutTimeoutMs(targets: DeployTarget[]): number {
  let seconds = 600;
  for (const t of targets)
    for (const o of t.set.objects) {
      const deadline = (o.spec as { progressDeadlineSeconds?: unknown } | undefined)
        ?.progressDeadlineSeconds;
      if (o.kind === 'Deployment' && typeof deadline === 'number')
        seconds = Math.max(seconds, deadline + 60);
    }
  return seconds * 1000;
}

/** The engine options the flags ask for; every bad value is a USAGE error before any work. */
export function rolloutOptions(
  flags: RolloutFlags,
  targets: DeployTarget[],
  defaults: { allAtOnce?: boolean } = {},
): Omit<DeployOptions, 'clock'> {
  const order = flags.order ?? 'lowest-risk';
  if (order !== 'lowest-risk' && order !== 'primary-first') {
    throw new McmlError('USAGE', `--order must be lowest-risk or primary-first, got "${order}"`);
  }
  const unreachable = flags.unreachable ?? 'fail';
  if (unreachable !== 'fail' && unreachable !== 'skip') {
    throw new McmlError('USAGE', `--unreachable must be fail or skip, got "${unreachable}"`);
  }
  const retries = Number(flags.retries ?? '3');
  if (!Number.isInteger(retries) || retries < 0 || retries > 20) {
    throw new McmlError(
      'USAGE',
      `--retries must be a whole number from 0 to 20, got "${flags.retries}"`,
    );
  }
  if ((flags.gate === undefined) !== (flags.prometheusUrl === undefined)) {
    throw new McmlError('USAGE', '--gate and --prometheus-url go together', {
      hint: 'e.g. --prometheus-url http://prometheus:9090 --gate \'sum(rate(mcml_http_requests_total{status=~"5..",target="$target"}[5m])) / sum(rate(mcml_http_requests_total{target="$target"}[5m])) < 0.01\'',
    });
  }
  if (flags.allAtOnce && flags.waves !== undefined) {
    throw new McmlError('USAGE', '--all-at-once and --waves contradict each other');
  }
  const waves = planWaves(targets, {
    order: order,
    ...(flags.waves === undefined ? {} : { waves: flags.waves }),
    allAtOnce: flags.allAtOnce ?? (flags.waves === undefined && defaults.allAtOnce === true),
  });
  return {
    waves,
    rolloutTimeoutMs:
      flags.timeout === undefined
        ? defaultRolloutTimeoutMs(targets)
        : durationFlag('--timeout', flags.timeout),
    bakeMs: durationFlag('--bake', flags.bake ?? '0s'),
    reach: { attempts: retries + 1, backoffMs: 1000, onUnreachable: unreachable },
    force: flags.forceConflicts === true,
    ...(flags.gate !== undefined && flags.prometheusUrl !== undefined
      ? {
          metricGate: prometheusGate({
            url: baseUrlFlag('--prometheus-url', flags.prometheusUrl),
            query: flags.gate,
          }),
        }
      : {}),
  };
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Ctrl-C aborts the rollout (every cluster is then read and reported); a second one leaves. */
function watchInterrupts(): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  let received = false;
  const on = (signal: NodeJS.Signals) => {
    if (received) process.exit(130);
    received = true;
    process.stderr.write(
      `\n${signal}: stopping; reading where every cluster stands (Ctrl-C again to leave now)\n`,
    );
    abort.abort(new Error(`interrupted by ${signal}`));
  };
  for (const s of SIGNALS) process.on(s, on);
  return { signal: abort.signal, dispose: () => SIGNALS.forEach((s) => process.off(s, on)) };
}

function viewMode(json: boolean | undefined): ViewMode {
  if (json) return 'json';
  return process.stdout.isTTY === true && process.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

/**
 * Every cluster asked once, at the same time, before any is changed: a credential that is
 * refused (or any other input error) stops the command here, with nothing applied anywhere.
 * An unreachable cluster is left to the rollout, which retries it and skips or fails it.
 */
export async function preflight(targets: DeployTarget[]): Promise<void> {
  const answers = await Promise.all(
    targets.map((t) =>
      t.cluster.ping().then(
        () => undefined,
        (error: unknown) => (isMcmlError(error) && error.isInputError ? error : undefined),
      ),
    ),
  );
  const refused = answers.filter((e): e is McmlError => e !== undefined);
  if (refused.length === 0) return;
  await Promise.all(targets.map((t) => t.cluster.close()));
  const first = refused[0]!;
  if (refused.length === 1) throw first;
  throw new McmlError(first.code, `${refused.length} clusters refused mcml; nothing was changed`, {
    issues: refused.map((e) => ({
      path: typeof e.details.target === 'string' ? e.details.target : '?',
      message: e.message,
      ...(e.hint ? { hint: e.hint } : {}),
    })),
  });
}

/** Runs the engine with live output, closes the clusters, and ends as the report says. */
export async function runRollout(
  targets: DeployTarget[],
  options: Omit<DeployOptions, 'clock'>,
  json: boolean | undefined,
  verb: 'deploy' | 'rollback',
): Promise<DeployReport> {
  const view = new DeployView(viewMode(json), process.stdout, useColor());
  const interrupts = watchInterrupts();
  let report: DeployReport;
  try {
    report = await runDeploy(targets, {
      ...options,
      clock: systemClock,
      signal: interrupts.signal,
      onEvent: view.onEvent,
    });
  } finally {
    interrupts.dispose();
    await Promise.all(targets.map((t) => t.cluster.close()));
  }
  view.finish(report);
  endAs(report, verb);
  return report;
}

/** Sets the exit: 0 when every target is done, 130 interrupted, else throws what failed. */
function endAs(report: DeployReport, verb: string): void {
  if (report.interrupted) {
    process.exitCode = 130;
    return;
  }
  if (report.ok) return;
  const bad = report.targets.filter((o) => o.phase !== 'done');
  const codes = bad.map((o) => o.error?.code).filter((c): c is ErrorCode => c !== undefined);
  const input = codes.find(isInputErrorCode);
  const skippedOnly = bad.every((o) => o.phase === 'skipped' || o.phase === 'halted');
  const parts = bad.map((o) => `${o.target} ${o.phase}`).join(', ');
  throw new McmlError(
    input ?? 'UNAVAILABLE',
    `${verb} ${skippedOnly ? 'incomplete' : 'failed'}: ${parts}${report.halted ? ' (later waves were not started)' : ''}`,
    {
      hint: input
        ? 'fix what the message above names (per target), then run again'
        : 'the table above says where each cluster stands; run again once the cluster is back',
    },
  );
}

export async function runDeployCommand(
  file: string | undefined,
  options: DeployCommandOptions,
): Promise<void> {
  const source = await loadDeploySource(file, options);
  if (options.dryRun) {
    await runDiff(source.targets, {
      prune: options.prune !== false,
      full: false,
      json: options.json === true,
    });
    return;
  }
  const engine = rolloutOptions(options, source.targets);
  await preflight(source.targets);
  await runRollout(
    source.targets,
    { ...engine, prune: options.prune !== false, rollbackOnFailure: options.rollback !== false },
    options.json,
    'deploy',
  );
}
