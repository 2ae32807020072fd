/**
 * A small RFC 4180 CSV reader that keeps the position of every field, so a bad catalog cell
 * can be reported as `file:line:column`. Pure: it takes text.
 */

export interface CsvField {
  value: string;
  /** 1-based line and column where the field starts. */
  line: number;
  column: number;
}

export interface CsvRow {
  /** 1-based line where the row starts. */
  line: number;
  fields: CsvField[];
}

/** Thrown for text that is not CSV (an unterminated quote); carries the position. */
export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }
}

/** Splits CSV text into rows of positioned fields. Blank lines are skipped. */
export function readCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  // A leading byte-order mark is not part of the first header.
  const at: Cursor = { text, i: text.charCodeAt(0) === 0xfeff ? 1 : 0, line: 1, column: 1 };
  while (at.i < text.length) {
    const rowLine = at.line;
    const fields: CsvField[] = [];
    let endOfRow = false;
    while (!endOfRow) {
      const field: CsvField = { value: '', line: at.line, column: at.column };
      field.value = text[at.i] === '"' ? readQuoted(at, field) : readBare(at);
      fields.push(field);
      endOfRow = endField(at);
    }
    const blank = fields.length === 1 && fields[0]!.value.trim() === '';
    if (!blank) rows.push({ line: rowLine, fields });
  }
  return rows;
}

/** Where the reader is in the text: the index and its 1-based line and column. */
interface Cursor {
  readonly text: string;
  i: number;
  line: number;
  column: number;
}

/** A quoted field from its opening quote to its closing one; `""` is a quote. */
function readQuoted(at: Cursor, field: CsvField): string {
  const { text } = at;
  at.i++;
  at.column++;
  let value = '';
  for (;;) {
    if (at.i >= text.length) {
      throw new CsvSyntaxError('unterminated quoted field', field.line, field.column);
    }
    const ch = text[at.i]!;
    if (ch === '"') {
      if (text[at.i + 1] === '"') {
        value += '"';
        at.i += 2;
        at.column += 2;
        continue;
      }
      at.i++;
      at.column++;
      return value;
    }
    value += ch;
    at.i++;
    if (ch === '\n') {
      at.line++;
      at.column = 1;
    } else at.column++;
  }
}

/** An unquoted field, up to the next comma or line end. */
function readBare(at: Cursor): string {
  const { text } = at;
  const start = at.i;
  while (at.i < text.length && text[at.i] !== ',' && text[at.i] !== '\n' && text[at.i] !== '\r')
    at.i++;
  at.column += at.i - start;
  return text.slice(start, at.i);
}

/** Steps over the comma after a field (false) or the line end (true); anything else is an error. */
function endField(at: Cursor): boolean {
  const { text } = at;
  const ch = text[at.i];
  if (ch === ',') {
    at.i++;
    at.column++;
    return false;
  }
  if (ch === '\r' || ch === '\n' || ch === undefined) {
    if (ch === '\r') at.i++;
    if (text[at.i] === '\n') at.i++;
    at.line++;
    at.column = 1;
    return true;
  }
  throw new CsvSyntaxError(
    `unexpected character ${JSON.stringify(ch)} after a quoted field`,
    at.line,
    at.column,
  );
}
