import { dirname, resolve } from 'node:path';
import { INPUT_ERROR_CODES, McmlError } from '../../core/errors.js';
import type { Jurisdiction } from '../../core/spec/index.js';
import { openStore } from '../../adapters/storage.js';
// The sync and verify engines directly, not the area's index: a direct SRC DST sync must not
// load the spec schema (zod, yaml); -f and --jurisdiction load it when used.
import { runSync, type SyncOptions, type SyncReport } from '../../engines/sync/sync.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { verifyStores, type VerifyReport } from '../../engines/sync/verify.js';
import { paint, useColor } from '../output.js';
import { formatBytes, startProgress } from './data-progress.js';

export interface DataSyncFlags {
  file?: string;
  dataset?: string;
  transfers?: string;
  downloadStreams?: string;
  dryRun?: boolean;
  delete?: boolean;
  maxDelete?: string;
  include?: string[];
  exclude?: string[];
  serverSide?: boolean;
  json?: boolean;
  progress?: boolean;
  catalog?: string;
  jurisdiction?: string;
}

export interface DataVerifyFlags {
  include?: string[];
  exclude?: string[];
  json?: boolean;
}

// The AWS SDK warns on every run that its future versions will need Node 22: nothing a user
// of mcml can act on, and it would bury the sync report.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new McmlError('USAGE', `${name} must be a whole number, got "${value}"`);
  return n;
}

function summarise(report: SyncReport, color: boolean, label?: string): string {
  const lines: string[] = [];
  const head = label ? `${label}: ` : '';
  if (report.dryRun) {
    lines.push(
      `${head}dry run, nothing changed (source ${report.source}, ${report.sourceObjects} objects)`,
    );
    for (const d of report.destinations) {
      lines.push(
        `  ${d.uri}: would copy ${d.wouldCopy?.length ?? 0}, delete ${d.wouldDelete?.length ?? 0}, unchanged ${d.unchanged}`,
      );
      for (const c of d.wouldCopy ?? []) lines.push(`    copy   ${c.key} (${c.reason})`);
      for (const k of d.wouldDelete ?? []) lines.push(`    delete ${k}`);
    }
    return lines.join('\n');
  }
  const mark = report.ok ? paint('green', '✓', color) : paint('red', '✗', color);
  lines.push(
    `${mark} ${head}read ${report.objectsRead} objects (${formatBytes(report.bytesRead)}) from ${report.source} in ${(report.durationMs / 1000).toFixed(1)} s${report.bytesResumed > 0 ? `; ${formatBytes(report.bytesResumed)} already stored by an interrupted run, not sent again` : ''}`,
  );
  for (const d of report.destinations) {
    lines.push(
      `  ${d.uri}: copied ${d.copied} (${formatBytes(d.bytesWritten)}${d.serverSide ? `, ${d.serverSide} server-side` : ''}), unchanged ${d.unchanged}, deleted ${d.deleted}${d.abandonedRemoved ? `, removed ${d.abandonedRemoved} left by interrupted writes` : ''}${d.failed.length ? `, ${paint('red', `failed ${d.failed.length}`, color)}` : ''}`,
    );
    for (const f of d.failed.slice(0, 10)) lines.push(`    ${f.key}: ${f.error}`);
    if (d.failed.length > 10) lines.push(`    … and ${d.failed.length - 10} more`);
  }
  return lines.join('\n');
}

async function lookupFromCatalog(
  dir: string | undefined,
): Promise<(cloud: string, region: string) => Jurisdiction | undefined> {
  try {
    const { loadCatalog } = await import('../catalog-files.js');
    const { regionInfo } = await import('../../core/catalog/index.js');
    const catalog = await loadCatalog(dir);
    return (cloud, region) => {
      if (cloud !== 'aws' && cloud !== 'gcp' && cloud !== 'azure') return undefined;
      return regionInfo(catalog, cloud, region)?.jurisdiction;
    };
  } catch (error) {
    if (dir !== undefined) throw error;
    // Without a catalog the region-name conventions still apply (guessJurisdiction).
    return () => undefined;
  }
}

/** 2 when every failed object failed for a reason in the input (a name the target refuses), else 1. */
function failureExitCode(reports: SyncReport[]): number {
  const codes = reports.flatMap((r) => r.destinations.flatMap((d) => d.failed.map((f) => f.code)));
  return codes.length > 0 &&
    codes.every((c) => (INPUT_ERROR_CODES as readonly string[]).includes(c))
    ? 2
    : 1;
}

async function parseJurisdiction(value: string): Promise<Jurisdiction> {
  const { JURISDICTIONS } = await import('../../core/spec/index.js');
  const j = value.toLowerCase();
  if (!(JURISDICTIONS as readonly string[]).includes(j))
    throw new McmlError('USAGE', `--jurisdiction: unknown jurisdiction "${value}"`, {
      hint: `one of ${JURISDICTIONS.join(', ')}`,
    });
  return j as Jurisdiction;
}

/** The options every sync of one command shares: limits, modes and the progress bar. */
type SharedSyncOptions = Pick<
  SyncOptions,
  'transfers' | 'downloadStreams' | 'maxDelete' | 'dryRun' | 'delete' | 'serverSide' | 'onEvent'
>;

/** How a sync command reports: colour, progress bar, and when the process started. */
interface SyncOutput {
  color: boolean;
  bar: { stop: () => void };
  startupMs: number;
}

/** `mcml data sync`: the data sets of a spec (-f), or SRC to each DST. */
export async function runDataSyncCommand(
  src: string | undefined,
  dst: string[],
  flags: DataSyncFlags,
): Promise<void> {
  // Process start to here: node, the CLI and this command's modules. Cloud SDKs load later,
  // only for the schemes used, when the stores open (in the list phase of the timings).
  const startupMs = Math.round(performance.now());
  const limits = syncLimits(flags);
  const color = useColor(process.stderr);
  const bar = startProgress({
    enabled: flags.progress !== false,
    json: flags.json === true,
    stream: process.stderr,
  });
  const common: SharedSyncOptions = { ...limits, onEvent: bar.onEvent };
  const out: SyncOutput = { color, bar, startupMs };
  try {
    if (flags.file) await syncSpecDataSets(flags.file, src, flags, common, out);
    else await syncDirect(src, dst, flags, common, out);
  } finally {
    bar.stop();
  }
}

/** The numeric flags and modes (USAGE on a bad number). */
function syncLimits(flags: DataSyncFlags): Omit<SharedSyncOptions, 'onEvent'> {
  const transfers = positiveInt('--transfers', flags.transfers, 16);
  if (transfers === 0) throw new McmlError('USAGE', '--transfers must be at least 1');
  const maxDelete = positiveInt('--max-delete', flags.maxDelete, 1000);
  const downloadStreams = positiveInt('--download-streams', flags.downloadStreams, 1);
  if (downloadStreams === 0) throw new McmlError('USAGE', '--download-streams must be at least 1');
  return {
    transfers,
    downloadStreams,
    maxDelete,
    ...(flags.dryRun ? { dryRun: true } : {}),
    ...(flags.delete ? { delete: true } : {}),
    ...(flags.serverSide ? { serverSide: true } : {}),
  };
}

/** -f SPEC: each data set into the buckets of its jurisdiction's targets. */
async function syncSpecDataSets(
  file: string,
  src: string | undefined,
  flags: DataSyncFlags,
  common: SharedSyncOptions,
  out: SyncOutput,
): Promise<void> {
  if (src !== undefined) throw new McmlError('USAGE', 'pass either -f SPEC or SRC DST…, not both');
  if (flags.jurisdiction !== undefined)
    throw new McmlError(
      'USAGE',
      '--jurisdiction is for SRC DST…; with -f each data set states its own',
    );
  const [{ loadSpecFile }, { runDataSync }] = await Promise.all([
    import('../spec-file.js'),
    import('../../engines/sync/datasets.js'),
  ]);
  const doc = await loadSpecFile(file);
  const specDir = dirname(resolve(file));
  const lookup = await lookupFromCatalog(flags.catalog);
  const results = await runDataSync({
    ...common,
    spec: doc.spec,
    specDir,
    lookup,
    ...(flags.dataset ? { dataset: flags.dataset } : {}),
    open: (uri) => openStore(uri, { baseDir: specDir }),
  });
  out.bar.stop();
  if (flags.json)
    process.stdout.write(
      JSON.stringify({ datasets: results, startupMs: out.startupMs }, null, 2) + '\n',
    );
  else
    for (const r of results)
      process.stdout.write(
        (r.report
          ? summarise(r.report, out.color, `data set ${r.dataset} (${r.jurisdiction})`)
          : `data set ${r.dataset}: no target in jurisdiction ${r.jurisdiction} has a bucket`) +
          '\n',
      );
  const failed = results.flatMap((r) => (r.report && !r.report.ok ? [r.report] : []));
  if (failed.length > 0) process.exitCode = failureExitCode(failed);
}

/**
 * Opens the stores one after another, the remote ones first (in the order given) and local
 * directories last: loading an SDK and walking a directory are CPU work on this one thread,
 * while a remote listing, sent as soon as its store is open, is the longest wait. A failure is
 * handled here (so one side failing while another opens, or while the residency check runs, is
 * not "unhandled"); the engine still sees and reports it.
 */
function openInTurn(uris: string[]): Promise<ObjectStore>[] {
  const localLast = (uri: string) => (/^(s3|gs|az):\/\//i.test(uri) ? 0 : 1);
  const order = uris.map((_, i) => i).sort((a, b) => localLast(uris[a]!) - localLast(uris[b]!));
  const stores: Promise<ObjectStore>[] = [];
  let previous: Promise<unknown> = Promise.resolve();
  for (const i of order) {
    const store = previous.then(() => openStore(uris[i]!));
    previous = store.catch(() => undefined);
    stores[i] = store;
  }
  return stores;
}

/** SRC DST…: one source into every destination, within a jurisdiction if one is given. */
async function syncDirect(
  src: string | undefined,
  dst: string[],
  flags: DataSyncFlags,
  common: SharedSyncOptions,
  out: SyncOutput,
): Promise<void> {
  if (flags.dataset) throw new McmlError('USAGE', '--dataset needs -f SPEC');
  if (src === undefined || dst.length === 0)
    throw new McmlError('USAGE', 'mcml data sync needs SRC and at least one DST (or -f SPEC)', {
      hint: 'e.g. mcml data sync ./models s3://bucket/models gs://bucket/models',
    });
  const [source, ...destinations] = openInTurn([src, ...dst]);
  const opening = { source: source!, destinations };
  if (flags.jurisdiction !== undefined) {
    // Residency is checked on the open destinations before anything is read or written.
    const { checkJurisdiction } = await import('../../engines/sync/datasets.js');
    await checkJurisdiction(
      await Promise.all(opening.destinations),
      await parseJurisdiction(flags.jurisdiction),
      await lookupFromCatalog(flags.catalog),
    );
  }
  // Each side is listed as soon as its store is open (its SDK loaded), while the others load.
  const report = await runSync({
    ...common,
    ...opening,
    ...(flags.include ? { include: flags.include } : {}),
    ...(flags.exclude ? { exclude: flags.exclude } : {}),
  });
  out.bar.stop();
  process.stdout.write(
    (flags.json
      ? JSON.stringify({ ...report, startupMs: out.startupMs }, null, 2)
      : summarise(report, out.color)) + '\n',
  );
  if (!report.ok) process.exitCode = failureExitCode([report]);
}

function verifyText(r: VerifyReport, color: boolean): string {
  const lines = [
    `${r.ok ? paint('green', '✓', color) : paint('red', '✗', color)} ${r.source} vs ${r.destination}: ${r.same} same, ${r.missing.length} missing, ${r.different.length} different, ${r.extra.length} extra${r.abandoned.length ? `, ${r.abandoned.length} abandoned` : ''}`,
  ];
  for (const k of r.missing) lines.push(`  missing   ${k}`);
  for (const k of r.different) lines.push(`  different ${k}`);
  for (const k of r.extra) lines.push(`  extra     ${k}`);
  for (const k of r.abandoned) lines.push(`  abandoned ${k} (left by an interrupted write)`);
  if (r.abandoned.length > 0)
    lines.push(`  mcml data sync to ${r.destination} removes what interrupted writes left behind`);
  return lines.join('\n');
}

export async function runDataVerifyCommand(
  src: string,
  dst: string,
  flags: DataVerifyFlags,
): Promise<void> {
  const [source, destination] = await Promise.all([openStore(src), openStore(dst)]);
  const report = await verifyStores(source, destination, {
    ...(flags.include ? { include: flags.include } : {}),
    ...(flags.exclude ? { exclude: flags.exclude } : {}),
  });
  process.stdout.write(
    (flags.json ? JSON.stringify(report, null, 2) : verifyText(report, useColor())) + '\n',
  );
  if (!report.ok) process.exitCode = 1;
}
