import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { openStore } from '../../adapters/storage.js';
import { McmlError } from '../../core/errors.js';
import {
  ATTRIBUTION_MODES,
  COST_GROUPINGS,
  dayOf,
  monthOf,
  parseDateRange,
  type Attribution,
  type AttributionMode,
  type CostGroupBy,
  type DateRange,
  type RequestCounts,
} from '../../core/cost/index.js';
import { buildCostReport, type CostReport } from '../../core/cost/report.js';
import { planDocument } from '../../core/plan/planner.js';
import type { Plan } from '../../core/plan/types.js';
import type { SpecDocument } from '../../core/spec/index.js';
import {
  importFocusFiles,
  openCostStore,
  pullBilling,
  type CostStore,
  type ImportEvent,
  type PullOutcome,
} from '../../engines/cost/index.js';
import type { BillingSource } from '../../ports/billing-source.js';
import { systemClock } from '../../adapters/local/system-clock.js';
import { loadCatalog } from '../catalog-files.js';
import { useColor } from '../output.js';
import { DEFAULT_SPEC_FILE, loadSpecFile } from '../spec-file.js';
import { formatImport, formatPull, formatReport, reportCsv } from './cost-format.js';

export interface CostImportFlags {
  file?: string;
  store?: string;
  json?: boolean;
  progress?: boolean;
}

export interface CostPullFlags {
  file?: string;
  from?: string;
  to?: string;
  cloud?: string[];
  attribution?: string;
  store?: string;
  json?: boolean;
}

export interface CostReportFlags {
  file?: string;
  from?: string;
  to?: string;
  by?: string;
  attribution?: string;
  requests?: string[];
  pull?: boolean;
  json?: boolean;
  csv?: boolean;
  store?: string;
  catalog?: string;
}

export interface CostSourcesFlags {
  file?: string;
  store?: string;
  json?: boolean;
}

// The AWS SDK warns on every run that its future versions need Node 22: nothing to act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** `.mcml/cost.duckdb` beside the spec (or in the working directory), unless --store. */
function storePath(flags: { file?: string; store?: string }): string {
  if (flags.store) return resolve(flags.store);
  const base = flags.file ? dirname(resolve(flags.file)) : process.cwd();
  return join(base, '.mcml', 'cost.duckdb');
}

async function withStore<T>(path: string, work: (store: CostStore) => Promise<T>): Promise<T> {
  const store = await openCostStore(path);
  try {
    return await work(store);
  } finally {
    store.close();
  }
}

const today = () => dayOf(systemClock.now());

/** --from/--to, defaulting to the month so far. */
function rangeOf(flags: { from?: string; to?: string }): DateRange {
  const now = today();
  const to = flags.to ?? (flags.from && flags.from > now ? flags.from : now);
  const from = flags.from ?? monthOf(/^\d{4}-\d{2}-\d{2}$/.test(to) ? to : now).from;
  return parseDateRange(from, to, now);
}

function attributionMode(value: string | undefined, doc: SpecDocument): AttributionMode {
  const mode = value ?? doc.spec.cost?.attribution ?? 'tags';
  if (!(ATTRIBUTION_MODES as readonly string[]).includes(mode)) {
    throw new McmlError(
      'USAGE',
      `--attribution must be one of ${ATTRIBUTION_MODES.join(', ')}, got "${mode}"`,
    );
  }
  return mode as AttributionMode;
}

function attributionOf(doc: SpecDocument, mode: AttributionMode): Attribution {
  const targets = new Set(doc.spec.targets.map((t) => t.name));
  const accounts: Record<string, string> = {};
  for (const [target, account] of Object.entries(doc.spec.cost?.accounts ?? {})) {
    if (!targets.has(target)) {
      throw new McmlError(
        'SPEC_INVALID',
        `cost.accounts names "${target}", which is not a target`,
        {
          hint: `targets: ${[...targets].join(', ')}`,
        },
      );
    }
    accounts[account] = target;
  }
  if (mode === 'accounts' && Object.keys(accounts).length === 0) {
    throw new McmlError('USAGE', 'attribution "accounts" needs cost.accounts in the spec', {
      hint: 'e.g. cost: { accounts: { aws-use1: "123456789012", gcp-usc1: my-project } }',
    });
  }
  return { mode, service: doc.spec.service.name, accounts };
}

function groupBy(value: string | undefined): CostGroupBy {
  const by = value ?? 'cloud';
  if (!(COST_GROUPINGS as readonly string[]).includes(by)) {
    throw new McmlError('USAGE', `--by must be one of ${COST_GROUPINGS.join(', ')}, got "${by}"`);
  }
  return by as CostGroupBy;
}

/** --requests N | CLOUD=N | TARGET=N. */
function requestCounts(values: string[] | undefined, doc: SpecDocument): RequestCounts | undefined {
  if (!values || values.length === 0) return undefined;
  const targets = new Set(doc.spec.targets.map((t) => t.name));
  const out: RequestCounts = {};
  for (const value of values) {
    const m = /^(?:([a-z0-9-]+)=)?(\d+)$/.exec(value.trim());
    if (!m) {
      throw new McmlError('USAGE', `--requests must be N, CLOUD=N or TARGET=N, got "${value}"`);
    }
    const [, who, count] = m;
    const n = Number(count);
    if (who === undefined) out.total = n;
    else if (who === 'aws' || who === 'gcp' || who === 'azure') (out.byCloud ??= {})[who] = n;
    else if (targets.has(who)) (out.byTarget ??= {})[who] = n;
    else
      throw new McmlError(
        'USAGE',
        `--requests ${value}: "${who}" is neither a cloud nor a target`,
        {
          hint: `targets: ${[...targets].join(', ')}`,
        },
      );
  }
  return out;
}

function specFileOf(flags: { file?: string }): string {
  return flags.file ?? DEFAULT_SPEC_FILE;
}

/** Progress on stderr for long imports: a bar on a terminal, nothing otherwise. */
async function importProgress(
  enabled: boolean,
): Promise<{ onEvent: (e: ImportEvent) => void; stop: () => void }> {
  if (!enabled || !process.stderr.isTTY) return { onEvent: () => undefined, stop: () => undefined };
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: '{bar} {percentage}% | file {file}/{files} {name}',
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  let files = 0;
  return {
    onEvent: (e) => {
      if (e.type === 'found') files = e.files;
      else if (e.type === 'downloading') process.stderr.write(`downloading ${e.source}\n`);
      else if (e.type === 'file-start') {
        const payload = { file: e.index + 1, files, name: e.source.split('/').pop() };
        if (!started) bar.start(100, 0, payload);
        else bar.update(0, payload);
        started = true;
      } else if (e.type === 'progress') bar.update(Math.round(e.percentage));
      else if (e.type === 'file-done') bar.update(100);
    },
    stop: () => bar.stop(),
  };
}

export async function runCostImport(sources: string[], flags: CostImportFlags): Promise<void> {
  const path = storePath(flags);
  const progress = await importProgress(flags.progress !== false && !flags.json);
  const report = await withStore(path, (store) =>
    importFocusFiles({
      store,
      sources,
      baseDir: process.cwd(),
      openStore: (uri) => openStore(uri),
      tmpDir: join(dirname(path), 'tmp', `import-${process.pid}`),
      onEvent: progress.onEvent,
      now: () => new Date(systemClock.now()),
    }),
  ).finally(() => progress.stop());
  process.stdout.write(
    (flags.json
      ? JSON.stringify({ store: path, ...report }, null, 2)
      : formatImport(report, path, useColor())) + '\n',
  );
}

async function pullSources(
  doc: SpecDocument,
  clouds: string[] | undefined,
): Promise<BillingSource[]> {
  for (const c of clouds ?? []) {
    if (c !== 'aws' && c !== 'gcp' && c !== 'azure')
      throw new McmlError('USAGE', `--cloud must be aws, gcp or azure, got "${c}"`);
  }
  const want = (c: string) => clouds === undefined || clouds.includes(c);
  const cost = doc.spec.cost;
  const planned = new Set(
    doc.spec.targets.map((t) => (t.provider === 'local' ? t.emulates : t.provider)),
  );
  const { openBillingSources } = await import('../../adapters/billing/index.js');
  const awsOn = cost?.aws ? cost.aws.costExplorer : planned.has('aws');
  const sources = await openBillingSources({
    ...(want('aws') && awsOn ? { aws: { enabled: true } } : {}),
    ...(want('gcp') && cost?.gcp
      ? {
          gcp: {
            table: cost.gcp.bigqueryTable,
            ...(cost.gcp.location ? { location: cost.gcp.location } : {}),
          },
        }
      : {}),
    ...(want('azure') && cost?.azure ? { azure: { scope: cost.azure.scope } } : {}),
  });
  if (sources.length === 0) {
    throw new McmlError('USAGE', 'no cost API to pull from', {
      hint: 'set cost.aws, cost.gcp.bigqueryTable or cost.azure.scope in the spec (docs/cost.md)',
    });
  }
  return sources;
}

async function pull(
  store: CostStore,
  doc: SpecDocument,
  range: DateRange,
  mode: AttributionMode,
  clouds: string[] | undefined,
  quiet: boolean,
): Promise<PullOutcome[]> {
  const sources = await pullSources(doc, clouds);
  return pullBilling({
    store,
    sources,
    range,
    service: doc.spec.service.name,
    attribution: mode,
    clock: systemClock,
    onRetry: (cloud, attempt, waitMs, error) => {
      if (!quiet)
        process.stderr.write(
          `${cloud}: ${error.message}; retry ${attempt} in ${(waitMs / 1000).toFixed(1)} s\n`,
        );
    },
  });
}

export async function runCostPull(flags: CostPullFlags): Promise<void> {
  const doc = await loadSpecFile(specFileOf(flags));
  const range = rangeOf(flags);
  const mode = attributionMode(flags.attribution, doc);
  attributionOf(doc, mode);
  const outcomes = await withStore(storePath(flags), (store) =>
    pull(store, doc, range, mode, flags.cloud, flags.json === true),
  );
  process.stdout.write(
    (flags.json
      ? JSON.stringify(
          {
            range,
            outcomes: outcomes.map((o) => ({
              ...o,
              error: o.error && { code: o.error.code, message: o.error.message },
            })),
          },
          null,
          2,
        )
      : formatPull(outcomes, range, useColor())) + '\n',
  );
  if (outcomes.some((o) => o.error)) process.exitCode = 1;
}

/** What `cost report` works from: the flags, the spec and the catalog, checked. */
interface ReportInput {
  doc: SpecDocument;
  range: DateRange;
  by: CostGroupBy;
  mode: AttributionMode;
  attribution: Attribution;
  requests: RequestCounts | undefined;
  plan: Plan;
  path: string;
}

export async function runCostReport(flags: CostReportFlags): Promise<void> {
  const input = await reportInput(flags);
  const quiet = flags.json === true || flags.csv === true;
  const { report, counts, pulled } = await withStore(input.path, (store) =>
    reportFromStore(store, input, flags.pull === true, quiet),
  );
  const { mode, attribution } = input;
  if (mode === 'tags' && counts.rows > 0 && counts.tagged === 0) {
    report.notes.push(
      `none of the ${counts.rows} rows in the store carries the tag mcml-service=${attribution.service}: try --attribution accounts or all`,
    );
  }
  printReport(report, input, flags);
  if (pulled.some((o) => o.error)) process.exitCode = 1;
}

/** Checks the flags and loads the spec, catalog and plan; the store must exist unless --pull. */
async function reportInput(flags: CostReportFlags): Promise<ReportInput> {
  if (flags.json && flags.csv) throw new McmlError('USAGE', 'pass --json or --csv, not both');
  const by = groupBy(flags.by);
  const doc = await loadSpecFile(specFileOf(flags));
  const range = rangeOf(flags);
  const mode = attributionMode(flags.attribution, doc);
  const attribution = attributionOf(doc, mode);
  const requests = requestCounts(flags.requests, doc);
  const catalog = await loadCatalog(flags.catalog);
  const plan = planDocument(doc, catalog);
  const path = storePath(flags);
  if (!flags.pull && !existsSync(path)) {
    throw new McmlError('NOT_FOUND', `no cost data yet (${path} does not exist)`, {
      hint: 'run "mcml cost import EXPORTS…" or "mcml cost pull -f SPEC" first, or add --pull',
    });
  }
  return { doc, range, by, mode, attribution, requests, plan, path };
}

/** Pulls first when asked, then builds the report from the store's daily costs. */
async function reportFromStore(
  store: CostStore,
  input: ReportInput,
  pullFirst: boolean,
  quiet: boolean,
): Promise<{
  report: CostReport;
  counts: { rows: number; tagged: number };
  pulled: PullOutcome[];
}> {
  const { doc, range, by, mode, attribution, requests, plan } = input;
  const pulled = pullFirst ? await pull(store, doc, range, mode, undefined, quiet) : [];
  // Reads back to the first of the range's last month too: the budget burn is month to date.
  const budgetMonth = monthOf(range.to).from;
  const daily = await store.dailyCosts({
    range: { from: budgetMonth < range.from ? budgetMonth : range.from, to: range.to },
    by,
    attribution,
  });
  const incomplete = await store.failedPulls(range);
  const report = buildCostReport({
    range,
    by,
    daily,
    plan,
    ...(doc.spec.budget
      ? { budget: { monthly: doc.spec.budget.monthly, warnAt: doc.spec.budget.warnAt } }
      : {}),
    ...(requests ? { requests } : {}),
    incomplete,
  });
  return { report, counts: await store.counts(attribution.service), pulled };
}

function printReport(report: CostReport, input: ReportInput, flags: CostReportFlags): void {
  const { attribution, mode, path } = input;
  if (flags.json) {
    process.stdout.write(
      JSON.stringify(
        { service: attribution.service, attribution: mode, store: path, ...report },
        null,
        2,
      ) + '\n',
    );
  } else if (flags.csv) {
    process.stdout.write(reportCsv(report));
  } else {
    process.stdout.write(
      formatReport(report, { service: attribution.service, mode }, useColor()) + '\n',
    );
  }
}

export async function runCostSources(flags: CostSourcesFlags): Promise<void> {
  const path = storePath(flags);
  if (!existsSync(path)) throw new McmlError('NOT_FOUND', `no cost store at ${path}`);
  const imports = await withStore(path, (store) => store.imports());
  if (flags.json) {
    process.stdout.write(JSON.stringify({ store: path, imports }, null, 2) + '\n');
    return;
  }
  const { renderTable } = await import('../output.js');
  process.stdout.write(
    renderTable(imports, [
      { header: 'ID', value: (i) => String(i.importId), align: 'right' },
      { header: 'ORIGIN', value: (i) => i.origin },
      { header: 'FOCUS', value: (i) => i.focusVersion ?? '-' },
      { header: 'ROWS', value: (i) => String(i.rows), align: 'right' },
      { header: 'AT', value: (i) => i.importedAt.slice(0, 19) },
      { header: 'SOURCE', value: (i) => i.source },
    ]) + '\n',
  );
}
