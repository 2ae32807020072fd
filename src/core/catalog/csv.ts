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
  let line = 1;
  let column = 1;
  let i = 0;
  const n = text.length;
  // A leading byte-order mark is not part of the first header.
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const rowLine = line;
    const fields: CsvField[] = [];
    let endOfRow = false;
    while (!endOfRow) {
      const field: CsvField = { value: '', line, column };
      if (text[i] === '"') {
        i++;
        column++;
        let value = '';
        for (;;) {
          if (i >= n) {
            throw new CsvSyntaxError('unterminated quoted field', field.line, field.column);
          }
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              column += 2;
              continue;
            }
            i++;
            column++;
            break;
          }
          value += ch;
          i++;
          if (ch === '\n') {
            line++;
            column = 1;
          } else column++;
        }
        field.value = value;
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') i++;
        field.value = text.slice(start, i);
        column += i - start;
      }
      fields.push(field);
      const ch = text[i];
      if (ch === ',') {
        i++;
        column++;
      } else if (ch === '\r' || ch === '\n' || ch === undefined) {
        if (ch === '\r') i++;
        if (text[i] === '\n') i++;
        line++;
        column = 1;
        endOfRow = true;
      } else {
        throw new CsvSyntaxError(
          `unexpected character ${JSON.stringify(ch)} after a quoted field`,
          line,
          column,
        );
      }
    }
    const blank = fields.length === 1 && fields[0]!.value.trim() === '';
    if (!blank) rows.push({ line: rowLine, fields });
  }
  return rows;
}
