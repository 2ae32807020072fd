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

/** The mcml tag keys in the order `mcml_tags` holds them: each as written, then `user:`. */
const TAG_SPELLINGS = Object.values(MCML_TAG_KEYS).flatMap((k) => tagKeySpellings(k));

/**
 * The six values of the mcml tags (each key as written and with AWS's `user:` prefix), as a
 * list computed once per row from a JSON object, a JSON [{key, value}] list, a MAP or a list
 * of structs: the JSON is parsed once, not once per tag.
 */
function tagListSql(column: FileColumn): string {
  const c = ident(column.name);
  const byKey = (list: string) =>
    `[${TAG_SPELLINGS.map((k) => `(list_filter(${list}, x -> x.key = ${lit(k)}))[1].value`).join(', ')}]`;
  if (column.type.startsWith('MAP('))
    return `[${TAG_SPELLINGS.map((k) => `${c}[${lit(k)}]`).join(', ')}]`;
  if (column.type.startsWith('STRUCT(') && column.type.endsWith('[]')) return byKey(c);
  if (!column.type.startsWith('VARCHAR')) return 'NULL';
  const paths = TAG_SPELLINGS.map((k) => lit(`$."${k}"`)).join(', ');
  const list = `from_json(${c}, '[{"key":"VARCHAR","value":"VARCHAR"}]')`;
  return `CASE WHEN ${c} IS NULL OR trim(${c}) = '' THEN NULL
    WHEN starts_with(ltrim(${c}), '[') THEN list_transform([${list}], l -> ${byKey('l')})[1]
    ELSE json_extract_string(${c}, [${paths}]) END`;
}

/** The table the projection reads: the file, with the mcml tags pulled out once per row. */
export function sourceSql(
  path: string,
  format: FileFormat,
  columns: readonly FileColumn[],
): string {
  const reader = readerSql(
    path,
    format,
    columns.map((c) => c.name),
  );
  const tags = columns.find((c) => c.name === 'Tags');
  return tags ? `(SELECT *, ${tagListSql(tags)} AS mcml_tags FROM ${reader})` : reader;
}

/**
 * The SELECT list (over `sourceSql`) that maps one file's columns onto the store's: known FOCUS columns by name,
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
  // mcml_tags (from sourceSql) holds each key twice: as written, then with `user:`.
  const tag = (i: number) =>
    byName.has('Tags') ? `coalesce(mcml_tags[${2 * i + 1}], mcml_tags[${2 * i + 2}])` : 'NULL';
  out.set('tag_service', tag(0));
  out.set('tag_target', tag(1));
  out.set('tag_cloud', tag(2));
  const extensions = columns.filter((c) => isExtensionColumn(c.name));
  out.set(
    'extra',
    extensions.length === 0
      ? 'NULL'
      : `json_object(${extensions.map((c) => `${lit(c.name)}, ${ident(c.name)}`).join(', ')})::VARCHAR`,
  );
  return CHARGE_COLUMNS.map(([name]) => `${out.get(name) ?? 'NULL'} AS ${name}`).join(',\n  ');
}
