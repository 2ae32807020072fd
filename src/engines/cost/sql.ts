/**
 * The SQL that turns a FOCUS file into the store's rows. DuckDB's own readers parse the
 * file (`read_csv`, `read_parquet`); this module only writes the projection for the columns
 * a file has, so every FOCUS version and every provider's extra columns read the same way.
 */
import {
  JSON_COLUMNS,
  MCML_TAG_KEYS,
  NUMERIC_COLUMNS,
  TEXT_COLUMNS,
  TIMESTAMP_COLUMNS,
  isExtensionColumn,
  tagKeySpellings,
} from '../../core/cost/focus.js';

/** A column of a file as DuckDB describes it. */
export interface FileColumn {
  name: string;
  type: string;
}

export type FileFormat = 'csv' | 'parquet';

/** Quotes a SQL string literal. */
export function lit(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Quotes an identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The columns of the store's `charges` table, in order, with their types. */
export const CHARGE_COLUMNS: [string, string][] = [
  ['import_id', 'INTEGER'],
  ['origin', 'VARCHAR'],
  ['cloud', 'VARCHAR'],
  ['day', 'DATE'],
  ['charge_period_start', 'TIMESTAMP'],
  ['charge_period_end', 'TIMESTAMP'],
  ['billing_period_start', 'TIMESTAMP'],
  ['billing_period_end', 'TIMESTAMP'],
  ['billed_cost', 'DOUBLE'],
  ['effective_cost', 'DOUBLE'],
  ['list_cost', 'DOUBLE'],
  ['contracted_cost', 'DOUBLE'],
  ['consumed_quantity', 'DOUBLE'],
  ['pricing_quantity', 'DOUBLE'],
  ...Object.values(TEXT_COLUMNS).map((c): [string, string] => [c, 'VARCHAR']),
  ...Object.values(JSON_COLUMNS).map((c): [string, string] => [c, 'VARCHAR']),
  ['tag_service', 'VARCHAR'],
  ['tag_target', 'VARCHAR'],
  ['tag_cloud', 'VARCHAR'],
  ['extra', 'VARCHAR'],
];

const NUMERIC_TARGET: Record<(typeof NUMERIC_COLUMNS)[number], string> = {
  BilledCost: 'billed_cost',
  EffectiveCost: 'effective_cost',
  ListCost: 'list_cost',
  ContractedCost: 'contracted_cost',
  ConsumedQuantity: 'consumed_quantity',
  PricingQuantity: 'pricing_quantity',
};
const TIMESTAMP_TARGET: Record<(typeof TIMESTAMP_COLUMNS)[number], string> = {
  ChargePeriodStart: 'charge_period_start',
  ChargePeriodEnd: 'charge_period_end',
  BillingPeriodStart: 'billing_period_start',
  BillingPeriodEnd: 'billing_period_end',
};

/** Maps a provider name to a cloud (same rules as core's cloudOfProvider). */
export const CLOUD_MACRO = `CREATE OR REPLACE TEMP MACRO mcml_cloud(p) AS CASE
  WHEN p IS NULL OR trim(p) = '' THEN NULL
  WHEN lower(trim(p)) = 'aws' OR contains(lower(p), 'amazon') THEN 'aws'
  WHEN contains(lower(p), 'google') OR lower(trim(p)) = 'gcp' THEN 'gcp'
  WHEN contains(lower(p), 'microsoft') OR contains(lower(p), 'azure') THEN 'azure'
  ELSE lower(trim(p)) END`;

/**
 * How CSV columns are typed: amounts as DOUBLE, instants as TIMESTAMPTZ, everything else as
 * text (account ids keep their leading zeros). The reader then names the line of a value
 * that does not fit.
 */
export function csvTypes(columns: readonly string[]): string {
  const numeric = new Set<string>(NUMERIC_COLUMNS);
  const instants = new Set<string>(TIMESTAMP_COLUMNS);
  const entries = columns.map((c) => {
    const type = numeric.has(c) ? 'DOUBLE' : instants.has(c) ? 'TIMESTAMPTZ' : 'VARCHAR';
    return `${lit(c)}: ${lit(type)}`;
  });
  return `{${entries.join(', ')}}`;
}

/** The table function that reads one file. */
export function readerSql(path: string, format: FileFormat, columns: readonly string[]): string {
  return format === 'parquet'
    ? `read_parquet(${lit(path)})`
    : `read_csv(${lit(path)}, header = true, types = ${csvTypes(columns)})`;
}

/** Tags as JSON text, whatever shape the file stores them in. */
function tagsJson(column: FileColumn): string {
  const c = ident(column.name);
  return column.type.startsWith('VARCHAR') ? `nullif(trim(${c}), '')` : `to_json(${c})::VARCHAR`;
}

/** JSON paths of the three mcml tags, each as written and with AWS's `user:` prefix. */
const TAG_PATHS = Object.values(MCML_TAG_KEYS).flatMap((k) =>
  tagKeySpellings(k).map((s) => `$."${s}"`),
);

/**
 * The three mcml tag values, from a JSON object (parsed once per row), a JSON [{key, value}]
 * list, a MAP or a list of structs: a list of [service, target, cloud].
 */
function tagValues(column: FileColumn): [string, string, string] {
  const c = ident(column.name);
  const keys = Object.values(MCML_TAG_KEYS).map((k) => tagKeySpellings(k));
  if (column.type.startsWith('MAP(')) {
    return keys.map((ks) => `coalesce(${ks.map((k) => `${c}[${lit(k)}]`).join(', ')})`) as [
      string,
      string,
      string,
    ];
  }
  if (column.type.startsWith('STRUCT(') && column.type.endsWith('[]')) {
    return keys.map(
      (ks) => `(list_filter(${c}, x -> x.key IN (${ks.map(lit).join(', ')})))[1].value`,
    ) as [string, string, string];
  }
  if (!column.type.startsWith('VARCHAR')) return ['NULL', 'NULL', 'NULL'];
  // One json_extract_string call with every path parses each row's JSON once.
  const all = `json_extract_string(${c}, [${TAG_PATHS.map(lit).join(', ')}])`;
  const fromList = (ks: string[]) =>
    `(list_filter(from_json(${c}, '[{"key":"VARCHAR","value":"VARCHAR"}]'), x -> x.key IN (${ks.map(lit).join(', ')})))[1].value`;
  const blank = `${c} IS NULL OR trim(${c}) = ''`;
  const isList = `starts_with(ltrim(${c}), '[')`;
  return keys.map((ks, i) => {
    const fromObject = `coalesce(${all}[${2 * i + 1}], ${all}[${2 * i + 2}])`;
    return `CASE WHEN ${blank} THEN NULL WHEN ${isList} THEN ${fromList(ks)} ELSE ${fromObject} END`;
  }) as [string, string, string];
}

/**
 * The SELECT that maps one file's columns onto the store's: known FOCUS columns by name,
 * missing ones as NULL, tags as JSON with the three mcml tags pulled out, and every `x_`
 * column kept in `extra` as a JSON object.
 */
export function projectionSql(columns: readonly FileColumn[], importId: number): string {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const out = new Map<string, string>();
  out.set('import_id', String(importId));
  out.set('origin', `'export'`);
  const provider = ['ServiceProviderName', 'ProviderName']
    .filter((n) => byName.has(n))
    .map((n) => `nullif(trim(${ident(n)}), '')`);
  out.set('cloud', `mcml_cloud(coalesce(${provider.join(', ')}))`);
  for (const [focus, target] of Object.entries(TIMESTAMP_TARGET)) {
    out.set(target, byName.has(focus) ? `CAST(${ident(focus)} AS TIMESTAMPTZ)::TIMESTAMP` : 'NULL');
  }
  out.set('day', `CAST(CAST(${ident('ChargePeriodStart')} AS TIMESTAMPTZ)::TIMESTAMP AS DATE)`);
  for (const [focus, target] of Object.entries(NUMERIC_TARGET)) {
    out.set(target, byName.has(focus) ? `CAST(${ident(focus)} AS DOUBLE)` : 'NULL');
  }
  for (const [focus, target] of Object.entries(TEXT_COLUMNS)) {
    out.set(target, byName.has(focus) ? `nullif(CAST(${ident(focus)} AS VARCHAR), '')` : 'NULL');
  }
  for (const [focus, target] of Object.entries(JSON_COLUMNS)) {
    const column = byName.get(focus);
    out.set(target, column ? tagsJson(column) : 'NULL');
  }
  const tags = byName.get('Tags');
  const [service, target, cloud] = tags ? tagValues(tags) : ['NULL', 'NULL', 'NULL'];
  out.set('tag_service', service);
  out.set('tag_target', target);
  out.set('tag_cloud', cloud);
  const extensions = columns.filter((c) => isExtensionColumn(c.name));
  out.set(
    'extra',
    extensions.length === 0
      ? 'NULL'
      : `json_object(${extensions.map((c) => `${lit(c.name)}, ${ident(c.name)}`).join(', ')})::VARCHAR`,
  );
  return CHARGE_COLUMNS.map(([name]) => `${out.get(name) ?? 'NULL'} AS ${name}`).join(',\n  ');
}
