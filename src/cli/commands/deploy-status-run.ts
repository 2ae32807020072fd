/**
 * `mcml deploy status`: every cluster read at once into one table — revision, image, model,
 * desired/updated/ready/available replicas, conditions and age of the service's Deployment —
 * with `--json` for scripts and `--watch` to follow it.
 */
import { McmlError, isInputErrorCode, isMcmlError, type ErrorCode } from '../../core/errors.js';
import { MAX_TIMER_MS, parseDuration } from '../../core/spec/duration.js';
import type { RevisionInfo, RolloutStatus, WorkloadStatus } from '../../ports/cluster.js';
import type { DeployTarget } from '../../engines/deploy/index.js';
import { paint, renderTable, terminalSafe, useColor } from '../output.js';
import { loadDeploySource, type DeploySourceOptions } from './deploy-targets.js';

export interface DeployStatusOptions extends DeploySourceOptions {
  json?: boolean;
  watch?: boolean;
  interval?: string;
}

/** One cluster's answer, or why it gave none. */
export interface TargetStatus {
  target: string;
  where: string;
  reachable: boolean;
  error?: { code: ErrorCode; message: string };
  revision?: number;
  phase?: RolloutStatus['phase'];
  message?: string;
  image?: string;
  model?: string;
  /** The service's Deployment (or the first workload). */
  workload?: WorkloadStatus;
  workloads?: WorkloadStatus[];
  revisions?: {
    revision: number;
    appliedAt: string;
    image?: string;
    model?: string;
    cause?: string;
    current: boolean;
  }[];
}

async function readTarget(t: DeployTarget): Promise<TargetStatus> {
  const base = { target: t.name, where: t.cluster.where };
  try {
    const [status, revisions]: [RolloutStatus, RevisionInfo[]] = await Promise.all([
      t.cluster.rolloutStatus(t.set),
      t.cluster.revisions(t.set),
    ]);
    const workload = status.workloads.find((w) => w.ref.name === t.set.name) ?? status.workloads[0];
    const image = workload?.images[0] ?? status.note?.image;
    const model = status.note?.model;
    return {
      ...base,
      reachable: true,
      ...(status.revision === undefined ? {} : { revision: status.revision }),
      phase: status.phase,
      message: status.message,
      ...(image ? { image } : {}),
      ...(model ? { model } : {}),
      ...(workload ? { workload } : {}),
      workloads: status.workloads,
      revisions: revisions.map((r) => ({
        revision: r.revision,
        appliedAt: r.appliedAt,
        ...r.note,
        current: r.current,
      })),
    };
  } catch (error) {
    const e = isMcmlError(error)
      ? { code: error.code, message: error.message }
      : { code: 'INTERNAL' as const, message: (error as Error).message };
    return { ...base, reachable: false, error: e };
  }
}

/** "45s", "12m", "3h", "4d" since an ISO time. */
export function age(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return '-';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function conditions(w: WorkloadStatus | undefined): string {
  if (!w || w.conditions.length === 0) return '-';
  return w.conditions
    .map((c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`)
    .join(' ');
}

/** The one table across clusters. */
export function formatStatusTable(rows: TargetStatus[], color: boolean, now: number): string {
  const n = (f: (w: WorkloadStatus) => number) => (r: TargetStatus) =>
    r.workload ? String(f(r.workload)) : '-';
  const phase = (r: TargetStatus) => {
    if (!r.reachable) return paint('red', 'unreachable', color);
    if (r.revision === undefined) return paint('gray', 'not deployed', color);
    const style = r.phase === 'complete' ? 'green' : r.phase === 'failed' ? 'red' : 'yellow';
    return paint(style, r.phase ?? '-', color);
  };
  const table = renderTable(rows, [
    { header: 'TARGET', value: (r) => r.target },
    {
      header: 'REVISION',
      value: (r) => (r.revision === undefined ? '-' : String(r.revision)),
      align: 'right',
    },
    { header: 'STATE', value: phase },
    { header: 'IMAGE', value: (r) => terminalSafe(r.image ?? '-') },
    { header: 'MODEL', value: (r) => terminalSafe(r.model ?? '-') },
    { header: 'DESIRED', value: n((w) => w.desired), align: 'right' },
    { header: 'UPDATED', value: n((w) => w.updated), align: 'right' },
    { header: 'READY', value: n((w) => w.ready), align: 'right' },
    { header: 'AVAILABLE', value: n((w) => w.available), align: 'right' },
    { header: 'CONDITIONS', value: (r) => terminalSafe(conditions(r.workload)) },
    { header: 'AGE', value: (r) => age(r.workload?.createdAt, now), align: 'right' },
  ]);
  const notes = rows
    .filter((r) => !r.reachable || (r.phase !== 'complete' && r.message))
    .map((r) => `${r.target}: ${terminalSafe(r.error?.message ?? r.message ?? '')}`);
  return [table, ...notes].join('\n');
}

function intervalMs(value: string | undefined): number {
  const ms = parseDuration(value ?? '2s');
  if (ms === undefined || ms < 100 || ms > MAX_TIMER_MS) {
    throw new McmlError('USAGE', `--interval must be a duration of at least 100ms, got "${value}"`);
  }
  return ms;
}

/** Reads every cluster until Ctrl-C, printing whenever something changed. */
async function watch(targets: DeployTarget[], options: DeployStatusOptions): Promise<void> {
  const every = intervalMs(options.interval);
  const stop = new AbortController();
  const on = () => stop.abort();
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  const tty = process.stdout.isTTY === true && !options.json;
  let last = '';
  try {
    while (!stop.signal.aborted) {
      const rows = await Promise.all(targets.map(readTarget));
      const key = JSON.stringify(rows.map((r) => ({ ...r, revisions: undefined })));
      if (key !== last) {
        last = key;
        if (options.json)
          process.stdout.write(
            JSON.stringify({ at: new Date().toISOString(), targets: rows }) + '\n',
          );
        else {
          const text = formatStatusTable(rows, useColor(), Date.now());
          process.stdout.write(
            (tty ? '\u001b[H\u001b[2J' : `--- ${new Date().toISOString().slice(11, 19)}\n`) +
              text +
              '\n',
          );
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, every);
        stop.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), {
          once: true,
        });
      });
    }
  } finally {
    process.off('SIGINT', on);
    process.off('SIGTERM', on);
  }
}

export async function runDeployStatus(
  file: string | undefined,
  options: DeployStatusOptions,
): Promise<void> {
  const source = await loadDeploySource(file, options, { objects: false });
  try {
    if (options.watch) {
      await watch(source.targets, options);
      return;
    }
    const rows = await Promise.all(source.targets.map(readTarget));
    if (options.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else process.stdout.write(formatStatusTable(rows, useColor(), Date.now()) + '\n');
    const failed = rows.filter((r) => !r.reachable);
    if (failed.length > 0) {
      const codes = failed.map((r) => r.error!.code);
      throw new McmlError(
        codes.find(isInputErrorCode) ?? 'UNAVAILABLE',
        `could not read ${failed.map((r) => r.target).join(', ')} (see above)`,
      );
    }
  } finally {
    await Promise.all(source.targets.map((t) => t.cluster.close()));
  }
}
