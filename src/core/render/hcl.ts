/**
 * A tiny HCL writer for the root module: blocks, attributes and object literals, laid out the
 * way `terraform fmt` lays them out (two-space indent, `=` aligned across runs of one-line
 * attributes), so rendered files pass `terraform fmt -check`.
 */

/** An HCL expression, written as-is. */
export interface Expr {
  readonly kind: 'expr';
  readonly text: string;
}

export interface Attr {
  readonly kind: 'attr';
  readonly name: string;
  readonly value: HclValue;
}

export interface Block {
  readonly kind: 'block';
  readonly type: string;
  readonly labels: readonly string[];
  readonly body: readonly BodyItem[];
}

/** A blank line or a `#` comment inside a body. */
export interface Trivia {
  readonly kind: 'blank' | 'comment';
  readonly text: string;
}

export type BodyItem = Attr | Block | Trivia;

/** Values: expressions, strings (quoted), numbers, booleans, lists and objects. */
export type HclValue =
  Expr | string | number | boolean | readonly HclValue[] | { readonly [key: string]: HclValue };

/** A raw expression such as `var.gcp_project` or `module.x.name`. */
export function expr(text: string): Expr {
  return { kind: 'expr', text };
}

export function attr(name: string, value: HclValue): Attr {
  return { kind: 'attr', name, value };
}

export function block(type: string, labels: readonly string[], body: readonly BodyItem[]): Block {
  return { kind: 'block', type, labels, body };
}

export const blank: Trivia = { kind: 'blank', text: '' };

export function comment(text: string): Trivia {
  return { kind: 'comment', text };
}

function isExpr(value: HclValue): value is Expr {
  return typeof value === 'object' && !Array.isArray(value) && (value as Expr).kind === 'expr';
}

/** A quoted HCL string; `${` and `%{` are escaped so text is never interpolated. */
export function quote(text: string): string {
  return JSON.stringify(text)
    .replace(/\$\{/g, () => '$${')
    .replace(/%\{/g, () => '%%{');
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function objectKey(key: string): string {
  return IDENTIFIER.test(key) ? key : quote(key);
}

/** Renders a value; multi-line for non-empty objects, and for lists holding objects. */
function renderValue(value: HclValue, indent: string): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (isExpr(value)) return value.text;
  if (Array.isArray(value)) {
    const items = value as readonly HclValue[];
    if (items.length === 0) return '[]';
    const multi = items.some((v) => renderValue(v, '').includes('\n') || isObject(v));
    if (!multi) return `[${items.map((v) => renderValue(v, indent)).join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${items.map((v) => `${inner}${renderValue(v, inner)},`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as { [key: string]: HclValue });
  if (entries.length === 0) return '{}';
  const inner = indent + '  ';
  return `{\n${renderAttrs(
    entries.map(([k, v]) => ({ name: objectKey(k), value: v })),
    inner,
  )}\n${indent}}`;
}

function isObject(value: HclValue): boolean {
  return typeof value === 'object' && !Array.isArray(value) && !isExpr(value);
}

/** Attribute lines with `=` aligned across each run of one-line values, as terraform fmt does. */
function renderAttrs(attrs: readonly { name: string; value: HclValue }[], indent: string): string {
  const lines: string[] = [];
  let run: { name: string; text: string }[] = [];
  const flush = () => {
    const width = Math.max(0, ...run.map((r) => r.name.length));
    for (const r of run) lines.push(`${indent}${r.name.padEnd(width)} = ${r.text}`);
    run = [];
  };
  for (const a of attrs) {
    const text = renderValue(a.value, indent);
    if (text.includes('\n')) {
      // A multi-line value ends the run above it and is aligned with nothing.
      flush();
      lines.push(`${indent}${a.name} = ${text}`);
    } else run.push({ name: a.name, text });
  }
  flush();
  return lines.join('\n');
}

function renderBody(body: readonly BodyItem[], indent: string): string {
  const out: string[] = [];
  let attrs: { name: string; value: HclValue }[] = [];
  const flush = () => {
    if (attrs.length > 0) out.push(renderAttrs(attrs, indent));
    attrs = [];
  };
  for (const item of body) {
    if (item.kind === 'attr') {
      attrs.push({ name: item.name, value: item.value });
      continue;
    }
    flush();
    if (item.kind === 'block') out.push(renderBlock(item, indent));
    else if (item.kind === 'comment') out.push(`${indent}# ${item.text}`.trimEnd());
    else out.push('');
  }
  flush();
  return out.join('\n');
}

function renderBlock(b: Block, indent: string): string {
  const head = [b.type, ...b.labels.map(quote)].join(' ');
  if (b.body.length === 0) return `${indent}${head} {}`;
  return `${indent}${head} {\n${renderBody(b.body, indent + '  ')}\n${indent}}`;
}

/** Renders top-level blocks separated by blank lines, with a trailing newline. */
export function renderFile(items: readonly (Block | Trivia)[]): string {
  const parts: string[] = [];
  for (const item of items) {
    if (item.kind === 'block') parts.push(renderBlock(item, ''), '');
    else if (item.kind === 'comment') parts.push(`# ${item.text}`.trimEnd());
    else parts.push('');
  }
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('\n') + '\n';
}
