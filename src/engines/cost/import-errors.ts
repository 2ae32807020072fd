/**
 * Turning DuckDB's read errors into messages that name the file and the row: CSV errors
 * carry the line; other failures (a Parquet value that is not a number, malformed JSON tags)
 * are located by asking DuckDB for the first row whose value does not convert.
 */
import { McmlError } from '../../core/errors.js';
import { JSON_COLUMNS, NUMERIC_COLUMNS, TIMESTAMP_COLUMNS } from '../../core/cost/focus.js';
import type { CostStore } from './store.js';
import { ident, lit, type FileColumn } from './sql.js';
import type { FocusFile } from './import.js';

/** The first lines of DuckDB's message, without its list of reader settings and fixes. */
function essence(message: string): string {
  const lines = message.split('\n').map((l) => l.trim());
  const keep: string[] = [];
  for (const l of lines) {
    if (
      l === '' ||
      /^(Possible fixes|Column \S+ is being converted|This type was|\* |file =)/.test(l)
    ) {
      if (keep.length > 0) break;
      continue;
    }
    if (/^Original Line:/.test(l)) continue;
    keep.push(l.replace(/^(Conversion|Invalid Input) Error: /, ''));
  }
  return keep.join('; ');
}

/** A failure to read a file's header. */
export function describeFailure(source: string, error: unknown): McmlError {
  const message = error instanceof Error ? error.message : String(error);
  return new McmlError(
    'INVALID_ARGUMENT',
    `${source}: cannot read it as ${/parquet/i.test(source) ? 'Parquet' : 'CSV'}: ${essence(message)}`,
  );
}

function corrupt(source: string, where: string, what: string): McmlError {
  return new McmlError('INVALID_ARGUMENT', `${source}: ${where}: ${what}; nothing was imported`, {
    details: { file: source, where },
    hint: 'fix or re-export the file, then import again',
  });
}

/** A file's rows failed to import; located once the transaction has rolled back. */
export class ImportFailure extends Error {
  constructor(
    readonly file: FocusFile,
    readonly columns: FileColumn[],
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/**
 * The failure of an import, named by file and row when DuckDB can tell. Runs queries, so
 * call it outside the failed transaction.
 */
export async function locateBadRow(
  store: CostStore,
  file: FocusFile,
  columns: FileColumn[],
  error: unknown,
): Promise<McmlError> {
  if (error instanceof McmlError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const line = /CSV Error on Line: (\d+)/.exec(message);
  if (line) {
    const n = Number(line[1]);
    return corrupt(
      file.source,
      `line ${n} (row ${n - 1})`,
      essence(message).replace(/^CSV Error on Line: \d+;?\s*/, ''),
    );
  }
  const found = await firstBadValue(store, file, columns).catch(() => undefined);
  if (found)
    return corrupt(
      file.source,
      `row ${found.row}`,
      `column ${found.column}: ${found.why} (${JSON.stringify(found.value)})`,
    );
  return corrupt(file.source, 'while reading', essence(message));
}

async function firstBadValue(
  store: CostStore,
  file: FocusFile,
  columns: FileColumn[],
): Promise<{ row: number; column: string; why: string; value: string } | undefined> {
  const has = new Set(columns.map((c) => c.name));
  const checks: { column: string; bad: string; why: string }[] = [];
  for (const c of NUMERIC_COLUMNS)
    if (has.has(c))
      checks.push({
        column: c,
        bad: `${ident(c)} IS NOT NULL AND TRY_CAST(${ident(c)} AS DOUBLE) IS NULL`,
        why: 'not a number',
      });
  for (const c of TIMESTAMP_COLUMNS)
    if (has.has(c))
      checks.push({
        column: c,
        bad: `${ident(c)} IS NOT NULL AND TRY_CAST(${ident(c)} AS TIMESTAMPTZ) IS NULL`,
        why: 'not a date and time',
      });
  for (const col of columns) {
    if (!(col.name in JSON_COLUMNS) || !col.type.startsWith('VARCHAR')) continue;
    const c = ident(col.name);
    checks.push({
      column: col.name,
      bad: `nullif(trim(${c}), '') IS NOT NULL AND NOT json_valid(${c})`,
      why: 'not valid JSON',
    });
  }
  if (checks.length === 0) return undefined;
  const reader =
    file.format === 'parquet'
      ? `(SELECT *, file_row_number + 1 AS mcml_row FROM read_parquet(${lit(file.path)}, file_row_number = true))`
      : `(SELECT *, row_number() OVER () AS mcml_row FROM read_csv(${lit(file.path)}, header = true, all_varchar = true))`;
  const cases = checks.map((k, i) => `WHEN ${k.bad} THEN ${i}`).join(' ');
  const [hit] = await store.query<{ row: string | number; check: number }>(
    `SELECT mcml_row AS row, CASE ${cases} END AS check FROM ${reader}
     WHERE ${checks.map((k) => `(${k.bad})`).join(' OR ')} ORDER BY mcml_row LIMIT 1`,
  );
  if (!hit) return undefined;
  const check = checks[hit.check]!;
  const [value] = await store.query<{ v: string }>(
    `SELECT CAST(${ident(check.column)} AS VARCHAR) AS v FROM ${reader} WHERE mcml_row = ${Number(hit.row)}`,
  );
  return { row: Number(hit.row), column: check.column, why: check.why, value: value?.v ?? '' };
}
