/**
 * `mcml deploy diff` (and `mcml deploy --dry-run`): every cluster asked at once, through a
 * server-side dry run, what applying the spec would change — objects created, configured
 * (with a line diff of the object as it is and as it would be), pruned — and nothing changed.
 */
import { stringify } from 'yaml';
import { McmlError, isInputErrorCode, isMcmlError, type ErrorCode } from '../../core/errors.js';
import type { ApplyResult, ObjectChange, ObjectRef } from '../../ports/cluster.js';
import type { DeployTarget } from '../../engines/deploy/index.js';
import { paint, terminalSafe, useColor } from '../output.js';
import { loadDeploySource, type DeploySourceOptions } from './deploy-targets.js';

export interface DiffCommandOptions extends DeploySourceOptions {
  prune?: boolean;
  json?: boolean;
}

type TargetDiff =
  | { target: string; where: string; ok: true; changes: ObjectChange[] }
  | {
      target: string;
      where: string;
      ok: false;
      error: { code: ErrorCode; message: string; hint?: string };
    };

const refText = (r: ObjectRef) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

/** A unified-style line diff (longest common subsequence; objects are small). */
export function lineDiff(before: string, after: string, context = 3): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: { sign: ' ' | '-' | '+'; text: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ sign: ' ', text: a[i]! });
      i++;
      j++;
    } else if (j < m && (i >= n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!))
      ops.push({ sign: '+', text: b[j++]! });
    else ops.push({ sign: '-', text: a[i++]! });
  }
  const keep = ops.map((op, k) =>
    ops.slice(Math.max(0, k - context), k + context + 1).some((o) => o.sign !== ' '),
  );
  const out: string[] = [];
  ops.forEach((op, k) => {
    if (keep[k]) out.push(`${op.sign} ${op.text}`);
    else if (keep[k - 1]) out.push('  …');
  });
  return out;
}

async function diffTarget(t: DeployTarget, prune: boolean): Promise<TargetDiff> {
  try {
    const result: ApplyResult = await t.cluster.apply(t.set, { dryRun: true, prune });
    return { target: t.name, where: t.cluster.where, ok: true, changes: result.changes };
  } catch (error) {
    const e = isMcmlError(error)
      ? { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
      : { code: 'INTERNAL' as const, message: (error as Error).message };
    return { target: t.name, where: t.cluster.where, ok: false, error: e };
  }
}

const SIGN: Record<string, string> = { created: '+', configured: '~', pruned: '-', unchanged: '=' };

function formatDiff(d: TargetDiff, full: boolean, color: boolean): string[] {
  const lines = [paint('bold', `${d.target} (${d.where})`, color)];
  if (!d.ok) {
    lines.push(`  ${paint('red', 'error', color)}: ${terminalSafe(d.error.message)}`);
    if (d.error.hint)
      lines.push(`  ${paint('cyan', 'hint', color)}: ${terminalSafe(d.error.hint)}`);
    return lines;
  }
  const changed = d.changes.filter((c) => c.action !== 'unchanged');
  if (changed.length === 0) lines.push('  no changes');
  for (const c of changed) {
    const style = c.action === 'created' ? 'green' : c.action === 'pruned' ? 'red' : 'yellow';
    lines.push(`  ${paint(style, `${SIGN[c.action]} ${c.action}`, color)} ${refText(c.ref)}`);
    if (full && c.action === 'configured' && c.before && c.after) {
      for (const l of lineDiff(stringify(c.before), stringify(c.after))) {
        const s = l.startsWith('+') ? 'green' : l.startsWith('-') ? 'red' : 'gray';
        lines.push(`      ${paint(s, terminalSafe(l), color)}`);
      }
    }
  }
  const same = d.changes.length - changed.length;
  if (same > 0) lines.push(`  ${same} object${same === 1 ? '' : 's'} unchanged`);
  return lines;
}

/** Dry-runs every target at once and prints what would change; throws when a cluster failed. */
export async function runDiff(
  targets: DeployTarget[],
  options: { prune: boolean; full: boolean; json: boolean },
): Promise<void> {
  const diffs = await Promise.all(targets.map((t) => diffTarget(t, options.prune)));
  await Promise.all(targets.map((t) => t.cluster.close()));
  if (options.json) process.stdout.write(JSON.stringify(diffs, null, 2) + '\n');
  else {
    const color = useColor();
    const text = diffs.flatMap((d) => [...formatDiff(d, options.full, color), '']);
    process.stdout.write(text.join('\n'));
  }
  const failed = diffs.filter((d) => !d.ok);
  if (failed.length === 0) return;
  const codes = failed.map((d) => d.error.code);
  throw new McmlError(
    codes.find(isInputErrorCode) ?? 'UNAVAILABLE',
    `could not ask ${failed.map((d) => d.target).join(', ')} what would change (see above)`,
  );
}

export async function runDiffCommand(
  file: string | undefined,
  options: DiffCommandOptions,
): Promise<void> {
  const source = await loadDeploySource(file, options);
  await runDiff(source.targets, {
    prune: options.prune !== false,
    full: true,
    json: options.json === true,
  });
}
