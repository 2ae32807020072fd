/** Terminal output helpers: error formatting, tables, colour. Only the CLI prints. */
import { styleText } from 'node:util';
import { isMcmlError } from '../core/errors.js';
import { printable } from '../core/quote.js';
import { formatDecimal } from '../core/decimal.js';

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

/** Issues shown per error; the rest are counted. */
const MAX_ISSUES_SHOWN = 50;
/** A run of characters without a space longer than this is a pasted value: cut it short. */
const MAX_RUN = 200;

/**
 * Text from an error made safe to print: control characters escaped (a value from a file
 * must not recolour or rewrite the terminal) and runs of a few hundred characters cut short.
 * Messages escape and shorten the values they quote; this is the guard for the ones that don't.
 */
export function terminalSafe(text: string): string {
  return text
    .split('\n')
    .map((line) =>
      printable(line, Infinity).replace(new RegExp(`\\S{${MAX_RUN + 1},}`, 'g'), (run) =>
        printable(run, MAX_RUN / 2),
      ),
    )
    .join('\n');
}

/**
 * Renders an error for a person: the message, one line per issue with its hint, and the
 * cause chain. Stack traces only for unexpected errors, or with MCML_DEBUG=1.
 */
export function formatError(error: unknown, color: boolean): string {
  const lines: string[] = [];
  const debug = process.env.MCML_DEBUG === '1';
  const safe = terminalSafe;
  if (isMcmlError(error)) {
    lines.push(`${paint(['red', 'bold'], 'error', color)}: ${safe(error.message)}`);
    for (const issue of error.issues.slice(0, MAX_ISSUES_SHOWN)) {
      const where = paint('bold', safe(issue.path), color);
      lines.push(`  ${where}: ${safe(issue.message)}`);
      if (issue.hint) lines.push(`    ${paint('cyan', `hint: ${safe(issue.hint)}`, color)}`);
    }
    const more = error.issues.length - MAX_ISSUES_SHOWN;
    if (more > 0) lines.push(`  … and ${more} more problem${more === 1 ? '' : 's'}`);
    if (error.hint) lines.push(`${paint('cyan', 'hint', color)}: ${safe(error.hint)}`);
    let cause: unknown = error.cause;
    while (cause instanceof Error) {
      lines.push(`  caused by: ${safe(cause.message)}`);
      cause = cause.cause;
    }
    if (debug && error.stack) lines.push(error.stack);
  } else if (error instanceof Error) {
    lines.push(`${paint(['red', 'bold'], 'internal error', color)}: ${safe(error.message)}`);
    lines.push('This is a bug in mcml; please report it with the output below.');
    if (error.stack) lines.push(safe(error.stack));
  } else {
    lines.push(`${paint(['red', 'bold'], 'internal error', color)}: ${safe(String(error))}`);
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
  // A loop, not Math.max(...cells): spreading a million rows overflows the call stack.
  const widths = columns.map((c, i) =>
    cells.reduce((w, r) => Math.max(w, visibleLength(r[i] ?? '')), visibleLength(c.header)),
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
  return `$${formatDecimal(amount, digits)}`;
}
