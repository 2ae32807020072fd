/** Terminal output helpers: error formatting, tables, colour. Only the CLI prints. */
import { styleText } from 'node:util';
import { isMcmlError } from '../core/errors.js';

type Style = Parameters<typeof styleText>[0];

/** Whether to colour output written to `stream`. Honours NO_COLOR and FORCE_COLOR. */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/** Styles text when colour is on. */
export function paint(style: Style, text: string, color: boolean): string {
  return color ? styleText(style, text) : text;
}

/**
 * Renders an error for a person: the message, one line per issue with its hint, and the
 * cause chain. Stack traces only for unexpected errors, or with MCML_DEBUG=1.
 */
export function formatError(error: unknown, color: boolean): string {
  const lines: string[] = [];
  const debug = process.env.MCML_DEBUG === '1';
  if (isMcmlError(error)) {
    lines.push(`${paint(['red', 'bold'], 'error', color)}: ${error.message}`);
    for (const issue of error.issues) {
      const where = paint('bold', issue.path, color);
      lines.push(`  ${where}: ${issue.message}`);
      if (issue.hint) lines.push(`    ${paint('cyan', `hint: ${issue.hint}`, color)}`);
    }
    if (error.hint) lines.push(`${paint('cyan', 'hint', color)}: ${error.hint}`);
    let cause: unknown = error.cause;
    while (cause instanceof Error) {
      lines.push(`  caused by: ${cause.message}`);
      cause = cause.cause;
    }
    if (debug && error.stack) lines.push(error.stack);
  } else if (error instanceof Error) {
    lines.push(`${paint(['red', 'bold'], 'internal error', color)}: ${error.message}`);
    lines.push('This is a bug in mcml; please report it with the output below.');
    if (error.stack) lines.push(error.stack);
  } else {
    lines.push(`${paint(['red', 'bold'], 'internal error', color)}: ${String(error)}`);
  }
  return lines.join('\n');
}

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  align?: 'left' | 'right';
}

/** A plain aligned table (no borders), as kubectl prints. */
export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) =>
    Math.max(visibleLength(c.header), ...cells.map((r) => visibleLength(r[i] ?? ''))),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const pad = ' '.repeat(Math.max(0, widths[i]! - visibleLength(v)));
        return columns[i]!.align === 'right' ? pad + v : v + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/** "$1,234.56" */
export function usd(amount: number, digits = 2): string {
  return `$${amount.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}
