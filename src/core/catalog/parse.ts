/**
 * Parses and validates the catalog CSV files. Pure: the caller reads the files
 * (src/cli/catalog-files.ts) and passes their text. Every bad cell becomes an issue
 * `file:line:column (column_name)`, and all of them are reported at once.
 */
import { McmlError, type Issue } from '../errors.js';
import { JURISDICTIONS, GPU_MODELS, type Jurisdiction } from '../spec/schema.js';
import { printable, quote } from '../quote.js';
import { didYouMean } from '../suggest.js';
import type { Cloud } from '../plan/types.js';
import { readCsv, CsvSyntaxError, type CsvField, type CsvRow } from './csv.js';
import { canonicalGpu, GCP_MAX_VCPUS_PER_GPU } from './gpu-names.js';
import {
  CLOUDS,
  EGRESS_KINDS,
  LIFECYCLES,
  PRICE_SOURCES,
  type AcceleratorOffer,
  type Catalog,
  type EgressKind,
  type EgressRate,
  type Lifecycle,
  type LifecycleStatus,
  type Offering,
  type PriceSource,
  type RegionInfo,
} from './types.js';

/** One catalog file: its path relative to the catalog directory (`aws/vms.csv`) and text. */
export interface CatalogFile {
  path: string;
  text: string;
}

export const OFFERING_COLUMNS = [
  'instance_type',
  'accelerator_name',
  'accelerator_count',
  'vcpus',
  'memory_gib',
  'on_demand_usd_h',
  'spot_usd_h',
  'region',
  'zone',
  'price_source',
  'lifecycle',
  'lifecycle_date',
  'lifecycle_source',
  'successor',
] as const;
export const REGION_COLUMNS = [
  'cloud',
  'region',
  'jurisdiction',
  'continent',
  'display_name',
] as const;
export const EGRESS_COLUMNS = [
  'cloud',
  'kind',
  'from_gb',
  'to_gb',
  'usd_per_gb',
  'price_source',
] as const;

const CONTINENTS = [
  'north-america',
  'south-america',
  'europe',
  'asia',
  'oceania',
  'africa',
  'middle-east',
] as const;

/** Columns that may be absent from a file's header (lifecycle: every row then available). */
const OPTIONAL_COLUMNS = new Set([
  'price_source',
  'zone',
  'lifecycle',
  'lifecycle_date',
  'lifecycle_source',
  'successor',
]);

type Row<C extends string> = { line: number; get(col: C): CsvField };

class Problems {
  readonly issues: Issue[] = [];
  constructor(private readonly dir: string) {}
  add(
    file: string,
    at: { line: number; column: number },
    column: string,
    message: string,
    hint?: string,
  ): void {
    this.issues.push({
      path: `${this.dir}${printable(file, 200)}:${at.line}:${at.column}${column ? ` (${column})` : ''}`,
      message,
      ...(hint ? { hint } : {}),
      line: at.line,
      column: at.column,
    });
  }
}

/** Reads a CSV file with a known header; returns typed row accessors (or none on error). */
function table<C extends string>(
  file: CatalogFile,
  columns: readonly C[],
  problems: Problems,
): Row<C>[] {
  const rows = readRows(file, columns, problems);
  if (rows === undefined) return [];
  const index = columnIndex(file, rows.header, columns, problems);
  if (index === undefined) return [];
  return rowAccessors(file, rows.body, rows.header.fields.length, index, problems);
}

/** The file's header row and data rows; undefined (and an issue) when unreadable or empty. */
function readRows(
  file: CatalogFile,
  columns: readonly string[],
  problems: Problems,
): { header: CsvRow; body: CsvRow[] } | undefined {
  let rows: CsvRow[];
  try {
    rows = readCsv(file.text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) {
      problems.add(file.path, error, '', error.message);
      return undefined;
    }
    throw error;
  }
  const header = rows[0];
  if (header === undefined) {
    problems.add(
      file.path,
      { line: 1, column: 1 },
      '',
      'the file is empty',
      `the header is: ${columns.join(',')}`,
    );
    return undefined;
  }
  return { header, body: rows.slice(1) };
}

/**
 * Each known column's position in the header; undefined (and an issue per problem) when a
 * column is unknown, repeated or missing.
 */
function columnIndex(
  file: CatalogFile,
  header: CsvRow,
  columns: readonly string[],
  problems: Problems,
): Map<string, number> | undefined {
  const index = new Map<string, number>();
  let ok = true;
  header.fields.forEach((f, i) => {
    const name = f.value.trim();
    if (!columns.includes(name)) {
      const hint = didYouMean(name, columns);
      problems.add(
        file.path,
        f,
        '',
        `unknown column ${quote(name)}`,
        hint || `columns are: ${columns.join(', ')}`,
      );
      ok = false;
    } else if (index.has(name)) {
      problems.add(file.path, f, '', `duplicate column ${quote(name)}`);
      ok = false;
    } else index.set(name, i);
  });
  for (const c of columns) {
    if (!index.has(c) && !OPTIONAL_COLUMNS.has(c)) {
      problems.add(file.path, { line: header.line, column: 1 }, '', `missing column ${quote(c)}`);
      ok = false;
    }
  }
  return ok ? index : undefined;
}

/** A typed accessor per data row; a row with the wrong number of fields is an issue instead. */
function rowAccessors<C extends string>(
  file: CatalogFile,
  rows: CsvRow[],
  width: number,
  index: Map<string, number>,
  problems: Problems,
): Row<C>[] {
  const out: Row<C>[] = [];
  for (const row of rows) {
    if (row.fields.length !== width) {
      problems.add(
        file.path,
        { line: row.line, column: 1 },
        '',
        `has ${row.fields.length} fields, the header has ${width}`,
      );
      continue;
    }
    out.push({
      line: row.line,
      get(col: C): CsvField {
        const i = index.get(col);
        if (i === undefined) return { value: '', line: row.line, column: 1 };
        const f = row.fields[i]!;
        return { ...f, value: f.value.trim() };
      },
    });
  }
  return out;
}

/** A parsed number, or undefined (and an issue) when the cell is not one. */
function num(
  problems: Problems,
  file: string,
  field: CsvField,
  column: string,
  rule: { required: boolean; integer?: boolean; min?: number; positive?: boolean },
): number | undefined {
  if (field.value === '') {
    if (rule.required) problems.add(file, field, column, 'is required');
    return undefined;
  }
  const n = Number(field.value);
  if (!Number.isFinite(n) || !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(field.value)) {
    problems.add(file, field, column, `must be a number, got ${quote(field.value)}`);
    return undefined;
  }
  if (rule.integer && !Number.isInteger(n)) {
    problems.add(file, field, column, `must be a whole number, got ${quote(field.value)}`);
    return undefined;
  }
  if (rule.positive && n <= 0) {
    problems.add(file, field, column, `must be greater than 0, got ${quote(field.value)}`);
    return undefined;
  }
  if (rule.min !== undefined && n < rule.min) {
    problems.add(file, field, column, `must be at least ${rule.min}, got ${quote(field.value)}`);
    return undefined;
  }
  return n;
}

function oneOf<T extends string>(
  problems: Problems,
  file: string,
  field: CsvField,
  column: string,
  values: readonly T[],
): T | undefined {
  if ((values as readonly string[]).includes(field.value)) return field.value as T;
  if (field.value === '') problems.add(file, field, column, 'is required');
  else {
    const hint = didYouMean(field.value, values);
    problems.add(
      file,
      field,
      column,
      `must be one of ${values.join(', ')}, got ${quote(field.value)}`,
      hint || undefined,
    );
  }
  return undefined;
}

function zoneOk(cloud: Cloud, region: string, zone: string): boolean {
  if (cloud === 'azure') return /^[1-9]$/.test(zone);
  if (cloud === 'aws') return zone.startsWith(region) && /^[a-z]$/.test(zone.slice(region.length));
  return zone.startsWith(`${region}-`) && /^[a-z]$/.test(zone.slice(region.length + 1));
}

function zoneExample(cloud: Cloud, region: string): string {
  if (cloud === 'azure') return '"1", "2" or "3"';
  return cloud === 'aws' ? `"${region}a"` : `"${region}-a"`;
}

export interface ParseCatalogOptions {
  /** The optional prefix for issue paths, e.g. "data/catalog/". */
  dir?: string;
  /**
   * Today as YYYY-MM-DD: a row retiring on or before it is retired. Without it, only rows
   * listed as retired are (the core has no clock: the CLI passes the date).
   */
  today?: string;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function isIsoDate(text: string): boolean {
  const m = ISO_DATE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** A row's lifecycle cells, checked; undefined (and issues) when they do not add up. */
function lifecycleOf(
  problems: Problems,
  file: string,
  row: Row<(typeof OFFERING_COLUMNS)[number]>,
  today: string | undefined,
): Lifecycle | undefined {
  const statusField = row.get('lifecycle');
  const dateField = row.get('lifecycle_date');
  const sourceField = row.get('lifecycle_source');
  const successorField = row.get('successor');
  let status: LifecycleStatus = 'available';
  if (statusField.value !== '') {
    const s = oneOf(problems, file, statusField, 'lifecycle', LIFECYCLES);
    if (s === undefined) return undefined;
    status = s;
  }
  const date = dateField.value;
  if (date !== '' && !isIsoDate(date)) {
    problems.add(file, dateField, 'lifecycle_date', `must be a date YYYY-MM-DD, got "${date}"`);
    return undefined;
  }
  if (status !== 'available') {
    if (date === '') {
      problems.add(file, dateField, 'lifecycle_date', `is required when lifecycle is ${status}`);
      return undefined;
    }
    if (sourceField.value === '') {
      problems.add(
        file,
        sourceField,
        'lifecycle_source',
        `is required when lifecycle is ${status}: say where the date comes from`,
      );
      return undefined;
    }
  } else if (date !== '') {
    problems.add(
      file,
      dateField,
      'lifecycle_date',
      'must be empty for an available offering',
      'set lifecycle to retiring (a future date) or retired',
    );
    return undefined;
  }
  const effective =
    status === 'retiring' && today !== undefined && date <= today ? 'retired' : status;
  return {
    status: effective,
    ...(date === '' ? {} : { date }),
    ...(sourceField.value === '' ? {} : { source: sourceField.value }),
    ...(successorField.value === '' ? {} : { successor: successorField.value }),
  };
}

/** Of two lifecycles (a GCP VM and its accelerator), the one that ends first. */
function endsFirst(a: Lifecycle, b: Lifecycle): Lifecycle {
  const rank = { available: 0, retiring: 1, retired: 2 } as const;
  if (rank[a.status] !== rank[b.status]) return rank[a.status] > rank[b.status] ? a : b;
  return (a.date ?? '') <= (b.date ?? '') ? a : b;
}

/**
 * Parses the catalog files: `regions.csv`, `egress.csv` and `<cloud>/*.csv` offerings.
 * @throws McmlError CATALOG_INVALID listing every bad row as `file:line:column (column)`.
 */
export function parseCatalog(
  files: readonly CatalogFile[],
  options: ParseCatalogOptions = {},
): Catalog {
  const dir = options.dir ?? '';
  const problems = new Problems(dir);
  const find = (name: string) => files.find((f) => f.path === name);
  // Regions first: offerings refer to them.
  const regions = parseRegions(find('regions.csv'), problems);
  const egress = parseEgress(find('egress.csv'), problems);
  const { offerings, accelerators, successors } = parseOfferings(files, regions, problems, options);
  checkSuccessors(successors, offerings, problems);
  if (problems.issues.length > 0) {
    const n = problems.issues.length;
    throw new McmlError(
      'CATALOG_INVALID',
      `the price catalog${dir ? ` in ${dir}` : ''} has ${n} problem${n === 1 ? '' : 's'}`,
      {
        issues: problems.issues,
        hint: 'fix the rows shown; docs/catalog.md describes every column',
      },
    );
  }
  const all = [...offerings, ...attachAccelerators(offerings, accelerators)];
  const byRegion = new Map<string, Offering[]>();
  for (const o of all) {
    const key = `${o.cloud}/${o.region}`;
    const list = byRegion.get(key);
    if (list) list.push(o);
    else byRegion.set(key, [o]);
  }
  return { offerings: all, accelerators, regions, egress, byRegion };
}

/** `regions.csv`: one row per cloud region, with its jurisdiction and continent. */
function parseRegions(regionFile: CatalogFile | undefined, problems: Problems): RegionInfo[] {
  const regions: RegionInfo[] = [];
  if (!regionFile) {
    problems.add('regions.csv', { line: 1, column: 1 }, '', 'is missing');
    return regions;
  }
  const seen = new Set<string>();
  for (const row of table(regionFile, REGION_COLUMNS, problems)) {
    const p = regionFile.path;
    const cloud = oneOf(problems, p, row.get('cloud'), 'cloud', CLOUDS);
    const regionField = row.get('region');
    if (!/^[a-z0-9][a-z0-9-]*$/.test(regionField.value)) {
      problems.add(
        p,
        regionField,
        'region',
        `must be a region id such as us-east-1, got ${quote(regionField.value)}`,
      );
    }
    const jurisdiction = oneOf<Jurisdiction>(
      problems,
      p,
      row.get('jurisdiction'),
      'jurisdiction',
      JURISDICTIONS,
    );
    const continent = oneOf(problems, p, row.get('continent'), 'continent', CONTINENTS);
    const display = row.get('display_name');
    if (cloud === undefined || jurisdiction === undefined || continent === undefined) continue;
    const key = `${cloud}/${regionField.value}`;
    if (seen.has(key)) {
      problems.add(p, regionField, 'region', `duplicate region ${key}`);
      continue;
    }
    seen.add(key);
    regions.push({
      cloud,
      region: regionField.value,
      jurisdiction,
      continent,
      displayName: display.value || regionField.value,
    });
  }
  return regions;
}

/** `egress.csv`: tiered $/GB per cloud and kind; tiers must start at 0 and be contiguous. */
function parseEgress(egressFile: CatalogFile | undefined, problems: Problems): EgressRate[] {
  const egress: EgressRate[] = [];
  if (!egressFile) {
    problems.add('egress.csv', { line: 1, column: 1 }, '', 'is missing');
    return egress;
  }
  for (const row of table(egressFile, EGRESS_COLUMNS, problems)) {
    const p = egressFile.path;
    const cloud = oneOf(problems, p, row.get('cloud'), 'cloud', CLOUDS);
    const kind = oneOf<EgressKind>(problems, p, row.get('kind'), 'kind', EGRESS_KINDS);
    const fromGb = num(problems, p, row.get('from_gb'), 'from_gb', { required: true, min: 0 });
    const toField = row.get('to_gb');
    const toGb = num(problems, p, toField, 'to_gb', { required: false, positive: true });
    const usdPerGb = num(problems, p, row.get('usd_per_gb'), 'usd_per_gb', {
      required: true,
      min: 0,
    });
    const source = row.get('price_source');
    if (source.value !== '') oneOf(problems, p, source, 'price_source', PRICE_SOURCES);
    if (cloud === undefined || kind === undefined || fromGb === undefined || usdPerGb === undefined)
      continue;
    if (toGb !== undefined && toGb <= fromGb) {
      problems.add(p, toField, 'to_gb', `must be greater than from_gb (${fromGb})`);
      continue;
    }
    egress.push({ cloud, kind, fromGb, ...(toGb === undefined ? {} : { toGb }), usdPerGb });
  }
  checkEgressTiers(egress, egressFile.path, problems);
  return egress;
}

/** Tiers of each (cloud, kind) must start at 0 and be contiguous, or prices have holes. */
function checkEgressTiers(egress: readonly EgressRate[], path: string, problems: Problems): void {
  for (const cloud of CLOUDS) {
    for (const kind of EGRESS_KINDS) {
      const tiers = egress
        .filter((e) => e.cloud === cloud && e.kind === kind)
        .sort((a, b) => a.fromGb - b.fromGb);
      if (tiers.length === 0) {
        problems.add(path, { line: 1, column: 1 }, '', `no ${kind} price for ${cloud}`);
        continue;
      }
      let expected = 0;
      for (const t of tiers) {
        if (t.fromGb !== expected) {
          problems.add(
            path,
            { line: 1, column: 1 },
            '',
            `${cloud} ${kind} tiers are not contiguous: one starts at ${t.fromGb} GB, expected ${expected} GB`,
          );
          break;
        }
        expected = t.toGb ?? Infinity;
      }
      if (expected !== Infinity) {
        problems.add(
          path,
          { line: 1, column: 1 },
          '',
          `the last ${cloud} ${kind} tier needs an empty to_gb (no upper bound)`,
        );
      }
    }
  }
}

interface SuccessorRef {
  file: string;
  cloud: Cloud;
  field: CsvField;
}

/** The `<cloud>/*.csv` files, in path order: instance types and (GCP) accelerator rows. */
function parseOfferings(
  files: readonly CatalogFile[],
  regions: readonly RegionInfo[],
  problems: Problems,
  options: ParseCatalogOptions,
): { offerings: Offering[]; accelerators: AcceleratorOffer[]; successors: SuccessorRef[] } {
  const out = {
    offerings: [] as Offering[],
    accelerators: [] as AcceleratorOffer[],
    successors: [] as SuccessorRef[],
  };
  const regionKeys = new Set(regions.map((r) => `${r.cloud}/${r.region}`));
  const offeringFiles = files
    .filter((f) => /^[^/]+\/[^/]+\.csv$/.test(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of offeringFiles) {
    const p = file.path;
    const cloudName = p.split('/')[0]!;
    if (!(CLOUDS as readonly string[]).includes(cloudName)) {
      problems.add(
        p,
        { line: 1, column: 1 },
        '',
        `${quote(cloudName)} is not a cloud`,
        `offering files live in ${CLOUDS.map((c) => `${c}/`).join(', ')}`,
      );
      continue;
    }
    const seen = new Set<string>();
    for (const row of table(file, OFFERING_COLUMNS, problems)) {
      offeringRow(
        row,
        { p, cloud: cloudName as Cloud, seen, regions, regionKeys },
        problems,
        options,
        out,
      );
    }
  }
  return out;
}

interface RowContext {
  p: string;
  cloud: Cloud;
  /** Offerings already read from this file, to refuse duplicates. */
  seen: Set<string>;
  regions: readonly RegionInfo[];
  regionKeys: ReadonlySet<string>;
}

type OfferingRow = Row<(typeof OFFERING_COLUMNS)[number]>;

/** The cells of one offering row, each checked; a cell with a problem is undefined or a default. */
interface CheckedOffering {
  typeField: CsvField;
  accField: CsvField;
  instanceType: string;
  /** A GCP accelerator row (empty instance type), attached to VMs later. */
  isAccelerator: boolean;
  gpuModel: ReturnType<typeof canonicalGpu>;
  count: number | undefined;
  vcpus: number | undefined;
  memoryGiB: number | undefined;
  onDemand: number | undefined;
  spotRaw: number | undefined;
  region: string;
  zone: string;
  priceSource: PriceSource;
  lifecycle: Lifecycle | undefined;
}

/** One offering row: checked field by field; a row with any problem adds nothing. */
function offeringRow(
  row: OfferingRow,
  ctx: RowContext,
  problems: Problems,
  options: ParseCatalogOptions,
  out: { offerings: Offering[]; accelerators: AcceleratorOffer[]; successors: SuccessorRef[] },
): void {
  const before = problems.issues.length;
  const o = checkOfferingRow(row, ctx, problems, options.today);
  const successor = row.get('successor');
  if (successor.value !== '')
    out.successors.push({ file: ctx.p, cloud: ctx.cloud, field: successor });
  if (problems.issues.length > before || o.lifecycle === undefined) return;
  if (isDuplicateOffering(o, ctx, problems)) return;
  addOffering(o, o.lifecycle, ctx.cloud, `${options.dir ?? ''}${ctx.p}:${row.line}`, out);
}

/** Reads and checks every cell, recording problems in column order. */
function checkOfferingRow(
  row: OfferingRow,
  ctx: RowContext,
  problems: Problems,
  today: string | undefined,
): CheckedOffering {
  const { p } = ctx;
  const typeField = row.get('instance_type');
  const accField = row.get('accelerator_name');
  const isAccelerator = typeField.value === '';
  checkRowKind(typeField, accField, ctx.cloud, p, problems);
  const { gpuModel, count } = acceleratorOf(accField, row.get('accelerator_count'), p, problems);
  const numbers = sizeAndPrices(row, p, problems, isAccelerator);
  const { region, zone } = placeOf(row.get('region'), row.get('zone'), ctx, problems);
  const sourceField = row.get('price_source');
  let priceSource: PriceSource = 'list';
  if (sourceField.value !== '') {
    priceSource = oneOf(problems, p, sourceField, 'price_source', PRICE_SOURCES) ?? 'list';
  }
  const lifecycle = lifecycleOf(problems, p, row, today);
  const instanceType = typeField.value;
  return {
    typeField,
    accField,
    instanceType,
    isAccelerator,
    gpuModel,
    count,
    ...numbers,
    region,
    zone,
    priceSource,
    lifecycle,
  };
}

/** Only GCP has accelerator rows (empty instance type), and they name the accelerator. */
function checkRowKind(
  typeField: CsvField,
  accField: CsvField,
  cloud: Cloud,
  p: string,
  problems: Problems,
): void {
  const isAccelerator = typeField.value === '';
  if (isAccelerator && cloud !== 'gcp') {
    problems.add(
      p,
      typeField,
      'instance_type',
      'is required',
      'only GCP has accelerator rows with an empty instance type',
    );
  }
  if (isAccelerator && accField.value === '') {
    problems.add(
      p,
      accField,
      'accelerator_name',
      'is required on an accelerator row (empty instance_type)',
    );
  }
}

/** vCPUs and memory (required on VM rows), on-demand (required) and spot prices. */
function sizeAndPrices(
  row: OfferingRow,
  p: string,
  problems: Problems,
  isAccelerator: boolean,
): Pick<CheckedOffering, 'vcpus' | 'memoryGiB' | 'onDemand' | 'spotRaw'> {
  const vcpus = num(problems, p, row.get('vcpus'), 'vcpus', {
    required: !isAccelerator,
    positive: true,
  });
  const memoryGiB = num(problems, p, row.get('memory_gib'), 'memory_gib', {
    required: !isAccelerator,
    positive: true,
  });
  const onDemand = num(problems, p, row.get('on_demand_usd_h'), 'on_demand_usd_h', {
    required: true,
    positive: true,
  });
  const spotRaw = num(problems, p, row.get('spot_usd_h'), 'spot_usd_h', {
    required: false,
    positive: true,
  });
  return { vcpus, memoryGiB, onDemand, spotRaw };
}

/** Records a problem when the file already has this offering (type, accelerator, place). */
function isDuplicateOffering(o: CheckedOffering, ctx: RowContext, problems: Problems): boolean {
  const { instanceType, accField, count, region, zone } = o;
  const key = `${instanceType}|${accField.value}|${count ?? ''}|${region}|${zone}`;
  if (ctx.seen.has(key)) {
    problems.add(
      ctx.p,
      o.typeField,
      'instance_type',
      `duplicate offering ${printable(instanceType || accField.value)} in ${region}${zone ? ` zone ${zone}` : ''}`,
    );
    return true;
  }
  ctx.seen.add(key);
  return false;
}

/** Adds a checked row as an offering or, on an accelerator row, an accelerator offer. */
function addOffering(
  o: CheckedOffering,
  lifecycle: Lifecycle,
  cloud: Cloud,
  origin: string,
  out: { offerings: Offering[]; accelerators: AcceleratorOffer[] },
): void {
  const { gpuModel, count, onDemand, spotRaw, zone } = o;
  // A spot price at or above on-demand is no discount: treat it as no spot offer.
  const spot = spotRaw !== undefined && spotRaw < onDemand! ? spotRaw : undefined;
  const gpu =
    gpuModel && count ? { model: gpuModel, count, cloudName: o.accField.value } : undefined;
  const common = {
    cloud,
    region: o.region,
    ...(zone ? { zone } : {}),
    onDemand: onDemand!,
    ...(spot === undefined ? {} : { spot }),
    priceSource: o.priceSource,
    lifecycle,
    origin,
  };
  if (o.isAccelerator) out.accelerators.push({ ...common, gpu: gpu! });
  else
    out.offerings.push({
      ...common,
      instanceType: o.instanceType,
      vcpus: o.vcpus!,
      memoryGiB: o.memoryGiB!,
      ...(gpu ? { gpu } : {}),
      attached: false,
    });
}

/** The accelerator columns: a known GPU model and a positive count, or both empty. */
function acceleratorOf(
  accField: CsvField,
  countField: CsvField,
  p: string,
  problems: Problems,
): { gpuModel: ReturnType<typeof canonicalGpu>; count: number | undefined } {
  let gpuModel = undefined as ReturnType<typeof canonicalGpu>;
  if (accField.value !== '') {
    gpuModel = canonicalGpu(accField.value);
    if (gpuModel === undefined) {
      const hint = didYouMean(accField.value, GPU_MODELS);
      problems.add(
        p,
        accField,
        'accelerator_name',
        `unknown accelerator ${quote(accField.value)}`,
        hint || `known models: ${GPU_MODELS.join(', ')}`,
      );
    }
  }
  const count = num(problems, p, countField, 'accelerator_count', {
    required: accField.value !== '',
    integer: true,
    positive: true,
  });
  if (accField.value === '' && countField.value !== '') {
    problems.add(
      p,
      countField,
      'accelerator_count',
      'must be empty when accelerator_name is empty',
    );
  }
  return { gpuModel, count };
}

/** The region (known in regions.csv) and the zone (of that region, or empty). */
function placeOf(
  regionField: CsvField,
  zoneField: CsvField,
  { p, cloud, regions, regionKeys }: Omit<RowContext, 'seen'>,
  problems: Problems,
): { region: string; zone: string } {
  const region = regionField.value;
  if (region === '') problems.add(p, regionField, 'region', 'is required');
  else if (!regionKeys.has(`${cloud}/${region}`)) {
    const known = regions.filter((r) => r.cloud === cloud).map((r) => r.region);
    const hint = didYouMean(region, known);
    problems.add(
      p,
      regionField,
      'region',
      `${cloud} region ${quote(region)} is not in regions.csv`,
      hint || `add it to regions.csv`,
    );
  }
  const zone = zoneField.value;
  if (zone !== '' && region !== '' && !zoneOk(cloud, region, zone)) {
    problems.add(
      p,
      zoneField,
      'zone',
      `${quote(zone)} is not a zone of ${printable(region)}`,
      `e.g. ${printable(zoneExample(cloud, region))}, or leave it empty`,
    );
  }
  return { region, zone };
}

/** A successor must be something the same cloud offers (in any region of the catalog). */
function checkSuccessors(
  successors: readonly SuccessorRef[],
  offerings: readonly Offering[],
  problems: Problems,
): void {
  for (const { file, cloud, field } of successors) {
    const known = [
      ...new Set(offerings.filter((o) => o.cloud === cloud).map((o) => o.instanceType)),
    ];
    if (!known.includes(field.value)) {
      const hint = didYouMean(field.value, known);
      problems.add(
        file,
        field,
        'successor',
        `"${field.value}" is not a ${cloud} instance type of the catalog`,
        hint || undefined,
      );
    }
  }
}

/** GCP: an accelerator row attaches to N1 VMs in the same region (and zone, when both name one). */
function attachAccelerators(
  offerings: readonly Offering[],
  accelerators: readonly AcceleratorOffer[],
): Offering[] {
  const combined: Offering[] = [];
  const hosts = new Map<string, Offering[]>();
  for (const vm of offerings) {
    if (vm.gpu !== undefined || !vm.instanceType.startsWith('n1-')) continue;
    const key = `${vm.cloud}/${vm.region}`;
    const list = hosts.get(key);
    if (list) list.push(vm);
    else hosts.set(key, [vm]);
  }
  for (const acc of accelerators) {
    const maxPerGpu = GCP_MAX_VCPUS_PER_GPU[acc.gpu.model];
    for (const vm of hosts.get(`${acc.cloud}/${acc.region}`) ?? []) {
      if (acc.zone !== undefined && vm.zone !== undefined && acc.zone !== vm.zone) continue;
      if (maxPerGpu !== undefined && vm.vcpus > maxPerGpu * acc.gpu.count) continue;
      const spot =
        acc.spot !== undefined && vm.spot !== undefined ? round6(acc.spot + vm.spot) : undefined;
      const zone = acc.zone ?? vm.zone;
      combined.push({
        cloud: vm.cloud,
        region: vm.region,
        ...(zone === undefined ? {} : { zone }),
        instanceType: vm.instanceType,
        vcpus: vm.vcpus,
        memoryGiB: vm.memoryGiB,
        gpu: acc.gpu,
        onDemand: round6(vm.onDemand + acc.onDemand),
        ...(spot === undefined ? {} : { spot }),
        attached: true,
        priceSource: combinedSource(vm.priceSource, acc.priceSource),
        lifecycle: endsFirst(vm.lifecycle, acc.lifecycle),
        origin: `${vm.origin} + ${acc.origin}`,
      });
    }
  }
  return combined;
}

/** A VM + accelerator price is only as good as its weaker part. */
function combinedSource(a: PriceSource, b: PriceSource): PriceSource {
  if (a === 'estimate' || b === 'estimate') return 'estimate';
  return a === 'prices.md' && b === 'prices.md' ? 'prices.md' : 'list';
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
