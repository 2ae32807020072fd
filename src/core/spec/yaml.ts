/**
 * Reads spec YAML into plain data, refusing what would exhaust time or memory or crash the
 * reader: oversized text, nesting deeper than any spec needs, undefined or self-referencing
 * aliases and alias bombs. Every refusal is a SPEC_INVALID error with `file:line:column`.
 * `<<` merge keys (common in Kubernetes YAML) are supported.
 */
import {
  Lexer,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Alias,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';
import { McmlError, type Issue } from '../errors.js';
import { printable, quote } from '../quote.js';

/** Largest spec text mcml reads. Specs are a few kilobytes; this bounds time and memory. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/** Deepest nesting of mappings and lists. The deepest spec field is 4 levels down. */
export const MAX_SPEC_DEPTH = 32;
/** Alias expansions allowed (the `yaml` library's guard against alias bombs). */
export const MAX_ALIAS_EXPANSIONS = 100;

/** A 1-based position in the text. */
export interface Position {
  line: number;
  column: number;
}

/** YAML text read into plain data, with a way back to positions. */
export interface YamlSource {
  doc: Document;
  data: unknown;
  position(offset: number): Position;
  /** The node an alias repeats. */
  resolve(alias: Alias): Node | undefined;
}

/**
 * Parses `text` into plain data.
 * @throws McmlError SPEC_INVALID for text that is not YAML or that the checks above refuse.
 */
export function readYaml(text: string, file: string): YamlSource {
  checkSize(text, file);
  const lineCounter = new LineCounter();
  checkFlowDepth(text, file);
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    // The library's duplicate-key check compares every key with every other (minutes for a
    // mapping of 80,000 keys): structureProblems does it with a set.
    uniqueKeys: false,
    merge: true,
  });
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const at = (offset: number | undefined, message: string, hint?: string): Issue => {
    const pos = position(offset ?? 0);
    return {
      path: `${file}:${pos.line}:${pos.column}`,
      message,
      ...(hint === undefined ? {} : { hint }),
      ...pos,
    };
  };
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => syntaxIssue(e, at));
    throw new McmlError('SPEC_INVALID', `${file} is not valid YAML`, {
      issues,
      ...(issues.every((i) => i.hint !== undefined)
        ? {}
        : { hint: 'check the indentation and quoting at the position shown' }),
    });
  }
  const aliases = new Map<Alias, Node>();
  const problems = structureProblems(doc, at, aliases);
  if (problems.length > 0) {
    problems.sort((a, b) => a.line! - b.line! || a.column! - b.column!);
    const n = problems.length;
    throw new McmlError('SPEC_INVALID', `${file}: ${n} problem${n === 1 ? '' : 's'} in the YAML`, {
      issues: problems,
    });
  }
  return { doc, data: toData(doc, file), position, resolve: (alias) => aliases.get(alias) };
}

function checkSize(text: string, file: string): void {
  if (text.length <= MAX_SPEC_BYTES) return;
  throw new McmlError(
    'SPEC_INVALID',
    `${file} is too large: ${text.length.toLocaleString('en-US')} characters, and a spec may hold at most ${MAX_SPEC_BYTES / 1024 / 1024} MiB`,
    {
      hint: 'a spec describes one service and its targets in a few kilobytes: is this the right file?',
    },
  );
}

type At = (offset: number | undefined, message: string, hint?: string) => Issue;

/** The lexer's own tokens, which stand for no source text. */
const CONTROL_TOKENS = new Set(['\x02', '\x18', '\x1f']);

/**
 * Refuses flow collections (`[`, `{`) nested deeper than any spec needs before the parser
 * sees them: the parser's time grows with the square of the depth (100,000 brackets took
 * 24 s, the 1 MiB limit allows 500,000). The lexer is linear and stops at the first bracket
 * too deep.
 */
function checkFlowDepth(text: string, file: string): void {
  // Fewer opening brackets than the limit cannot nest past it: most specs skip the lexer.
  if ((text.match(/[[{]/g)?.length ?? 0) <= MAX_SPEC_DEPTH) return;
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') depth++;
    else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
    if (depth > MAX_SPEC_DEPTH) {
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const col = offset - before.lastIndexOf('\n');
      const at: At = (_offset, message, hint) => ({
        path: `${file}:${line}:${col}`,
        message,
        ...(hint === undefined ? {} : { hint }),
        line,
        column: col,
      });
      throw new McmlError('SPEC_INVALID', `${file} is not valid YAML`, {
        issues: [tooDeep(at, offset)],
      });
    }
    if (!CONTROL_TOKENS.has(token)) offset += token.length;
  }
}

/** One parser error as an issue a person can act on. */
function syntaxIssue(e: YAMLError, at: At): Issue {
  if (e.code === 'MULTIPLE_DOCS') {
    return at(
      e.pos[0],
      'a second YAML document starts here: a spec file holds one document',
      'remove the "---" line (and what follows it), or put each document in its own file',
    );
  }
  if (/call stack/i.test(e.message)) return tooDeep(at, e.pos[0]);
  const first = e.message.split('\n')[0] ?? e.message;
  return at(e.pos[0], printable(first, 200));
}

function tooDeep(at: At, offset: number | undefined): Issue {
  return at(
    offset,
    `nests deeper than ${MAX_SPEC_DEPTH} levels`,
    'spec fields nest at most 4 levels (service.resources.gpu.model): look for unclosed brackets or runaway indentation',
  );
}

/** A node seen while walking the document, with its parent for cycle checks. */
interface Frame {
  node: unknown;
  depth: number;
  parent: Frame | undefined;
}

/**
 * Depth, undefined aliases and aliases inside their own anchor, found without recursion (a
 * recursive walk is what overflows the stack on deep input).
 */
function structureProblems(doc: Document, at: At, aliases: Map<Alias, Node>): Issue[] {
  const issues: Issue[] = [];
  const anchors = new Map<string, Node>();
  const stack: Frame[] = [{ node: doc.contents, depth: 1, parent: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { node } = frame;
    if (isPair(node)) {
      // Keys before values: the document order in which anchors are defined.
      stack.push({ ...frame, node: node.value }, { ...frame, node: node.key });
      continue;
    }
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const issue = aliasProblem(node.source, target, frame, node, at);
      if (issue) issues.push(issue);
      else aliases.set(node, target!);
      continue;
    }
    if (!isMap(node) && !isSeq(node) && !isScalar(node)) continue;
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
    if (isScalar(node)) continue;
    if (frame.depth > MAX_SPEC_DEPTH) {
      issues.push(tooDeep(at, node.range?.[0]));
      break;
    }
    if (isMap(node)) issues.push(...duplicateKeys(node.items, at));
    for (let i = node.items.length - 1; i >= 0; i--) {
      stack.push({ node: node.items[i], depth: frame.depth + 1, parent: frame });
    }
  }
  return issues;
}

/** One issue per key that repeats an earlier key of the same mapping (`<<` may repeat). */
function duplicateKeys(pairs: readonly unknown[], at: At): Issue[] {
  const seen = new Set<unknown>();
  const issues: Issue[] = [];
  for (const pair of pairs) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const key = pair.key.value;
    if (key === '<<' || typeof key === 'symbol') continue;
    if (seen.has(key)) {
      issues.push(
        at(
          pair.key.range?.[0],
          `duplicate key ${quote(String(key))}`,
          'a key appears once in a mapping: keep one of them',
        ),
      );
    } else seen.add(key);
  }
  return issues;
}

function aliasProblem(
  source: string,
  target: unknown,
  frame: Frame,
  alias: Node,
  at: At,
): Issue | undefined {
  const name = printable(source, 40);
  if (target === undefined) {
    return at(
      alias.range?.[0],
      `alias *${name} refers to no anchor`,
      `define &${name} on an earlier node (an anchor must come before its aliases)`,
    );
  }
  for (let f: Frame | undefined = frame.parent; f !== undefined; f = f.parent) {
    if (f.node === target) {
      return at(
        alias.range?.[0],
        `alias *${name} is inside the node anchored &${name}: it would repeat forever`,
        'an alias can only repeat a node defined before it, not one that contains it',
      );
    }
  }
  return undefined;
}

function toData(doc: Document, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/alias count/i.test(message)) {
      throw new McmlError(
        'SPEC_INVALID',
        `${file} expands YAML aliases more than ${MAX_ALIAS_EXPANSIONS} times`,
        {
          hint: 'aliases that repeat aliases multiply (an "alias bomb"): repeat the values themselves instead',
        },
      );
    }
    if (/call stack/i.test(message)) {
      throw new McmlError('SPEC_INVALID', `${file} nests too deeply to read`);
    }
    throw error;
  }
}
