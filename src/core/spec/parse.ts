/**
 * Parse and validate `mcml.yaml` text. Pure: the caller reads the file.
 * Every problem becomes an `Issue` with the field path, `line:column` and, where one is
 * close, a did-you-mean suggestion.
 */
import { isAlias, isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { z } from 'zod';
import { McmlError, type Issue } from '../errors.js';
import { quote } from '../quote.js';
import { didYouMean, nearest } from '../suggest.js';
import { specSchema, type Spec } from './schema.js';
import { ADMIN_TOKEN_ENV_HINT, adminTokenEnvProblem } from '../failover/secrets.js';
import { readYaml, type Position, type YamlSource } from './yaml.js';

export { durationMs, MAX_TIMER_MS } from './duration.js';
export { MAX_SPEC_BYTES } from './yaml.js';

/** A parsed spec with a way back from field paths to positions in the source. */
export interface SpecDocument {
  spec: Spec;
  file: string;
  /** 1-based position of the node at `path` (or of its nearest existing parent). */
  locate(path: readonly (string | number)[]): { line: number; column: number } | undefined;
}

type PathKey = string | number;

/** Renders a path as `targets[1].region`. */
export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out === '' ? '(top level)' : out;
}

function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const v = key.value;
  return v === '<<' || (typeof v === 'symbol' && v.description === '<<');
}

/** The pair for `key` in a map, looking into `<<` merged maps when the map lacks it. */
function pairIn(
  src: YamlSource,
  map: Node,
  key: string,
  seen = new Set<Node>(),
): Pair<unknown, unknown> | undefined {
  if (!isMap(map) || seen.has(map)) return undefined;
  seen.add(map);
  const own = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  if (own) return own;
  for (const p of map.items) {
    if (!isMergeKey(p.key)) continue;
    const sources = isSeq(p.value) ? p.value.items : [p.value];
    for (const source of sources) {
      const target = isAlias(source) ? src.resolve(source) : source;
      const found: Pair<unknown, unknown> | undefined = target
        ? pairIn(src, target as Node, key, seen)
        : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

function nodeAt(src: YamlSource, path: readonly PathKey[], wantKey: boolean): Node | undefined {
  let node: unknown = src.doc.contents;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    if (isAlias(node)) node = src.resolve(node);
    if (isMap(node)) {
      const pair = pairIn(src, node, String(key));
      if (!pair) return node;
      if (wantKey && i === path.length - 1) return pair.key as Node;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key];
      if (item === undefined) return node;
      node = item;
    } else {
      return (node as Node | undefined) ?? undefined;
    }
  }
  return node as Node | undefined;
}

/** The keys an object schema accepts at `path` in `data`, for did-you-mean on unknown keys. */
function knownKeysAt(schema: z.ZodType, data: unknown, path: readonly PathKey[]): string[] {
  let current: z.ZodType | undefined = schema;
  let value: unknown = data;
  const unwrap = (s: z.ZodType): z.ZodType => {
    let t: z.ZodType = s;
    for (;;) {
      if (t instanceof z.ZodOptional || t instanceof z.ZodDefault || t instanceof z.ZodNullable) {
        t = t.unwrap() as z.ZodType;
      } else if (t instanceof z.ZodPrefault) {
        t = t.unwrap() as z.ZodType;
      } else if (t instanceof z.ZodDiscriminatedUnion) {
        const options = t.options as z.ZodType[];
        const disc = t.def.discriminator;
        const actual =
          value !== null && typeof value === 'object'
            ? (value as Record<string, unknown>)[disc]
            : undefined;
        const match = options.find(
          (o) => o instanceof z.ZodObject && (o.shape[disc] as z.ZodLiteral).value === actual,
        );
        if (!match) return t;
        t = match;
      } else return t;
    }
  };
  for (const key of path) {
    if (current === undefined) return [];
    current = unwrap(current);
    if (current instanceof z.ZodObject && typeof key === 'string') {
      current = current.shape[key] as z.ZodType | undefined;
    } else if (current instanceof z.ZodArray && typeof key === 'number') {
      current = current.element as z.ZodType;
    } else return [];
    value =
      value !== null && typeof value === 'object'
        ? (value as Record<PathKey, unknown>)[key]
        : undefined;
  }
  if (current === undefined) return [];
  current = unwrap(current);
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown): { message: string; hint?: string } {
  const actual = valueAt(data, issue.path as PathKey[]);
  switch (issue.code) {
    case 'invalid_value': {
      const options = issue.values.map((v) => String(v));
      const hint = typeof actual === 'string' ? didYouMean(actual, options) : '';
      const message =
        options.length === 1
          ? `must be ${JSON.stringify(issue.values[0])}`
          : `must be one of ${options.map((o) => `"${o}"`).join(', ')}` +
            (actual === undefined ? '' : `, got ${show(actual)}`);
      return hint ? { message, hint } : { message };
    }
    case 'invalid_type': {
      if (actual === undefined) return { message: `is required (${issue.expected})` };
      if (typeof actual === 'number' && issue.expected === 'number') {
        return { message: `must be a finite number, got ${show(actual)}` };
      }
      return { message: `must be ${article(issue.expected)}, got ${describeValue(actual)}` };
    }
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (Array.isArray(options)) {
        const names = options.map((o) => String(o));
        const hint = typeof actual === 'string' ? didYouMean(actual, names) : '';
        const message =
          `must be one of ${names.map((o) => `"${o}"`).join(', ')}` +
          (actual === undefined ? '' : `, got ${show(actual)}`);
        return hint ? { message, hint } : { message };
      }
      // Our other unions are "string with a format, or a number": the string branch says why.
      const inner = issue.errors
        .flat()
        .find((e) => e.code !== 'invalid_type' || e.expected === typeof actual);
      if (inner?.code === 'invalid_type' && typeof actual === 'number') {
        return { message: `must be a finite number, got ${show(actual)}` };
      }
      return { message: inner?.message ?? issue.message };
    }
    case 'too_big':
    case 'too_small':
      return describeBound(issue, actual);
    default:
      return { message: issue.message };
  }
}

/** "must be at most 63 characters, got 70", with the schema's reason as the hint. */
function describeBound(
  issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall,
  actual: unknown,
): { message: string; hint?: string } {
  const big = issue.code === 'too_big';
  const limit = issue.code === 'too_big' ? issue.maximum : issue.minimum;
  const custom = /^Too (big|small)/.test(issue.message) ? undefined : issue.message;
  const bound = big
    ? issue.inclusive === false
      ? 'less than'
      : 'at most'
    : issue.inclusive === false
      ? 'greater than'
      : 'at least';
  if (issue.origin === 'string' && typeof actual === 'string') {
    const message =
      !big && Number(limit) === 1
        ? 'must not be empty'
        : `must be ${bound} ${String(limit)} characters, got ${actual.length}`;
    return custom && big ? { message, hint: custom } : { message };
  }
  if (issue.origin === 'array' && Array.isArray(actual)) {
    return {
      message: `${custom ?? `needs ${bound} ${String(limit)} items`}, got ${actual.length}`,
    };
  }
  return {
    message:
      `${custom ?? `must be ${bound} ${String(limit)}`}` +
      (actual === undefined ? '' : `, got ${show(actual)}`),
  };
}

function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** A value as a message shows it: strings quoted and cut short, YAML's names for non-numbers. */
function show(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '.nan (not a number)';
    if (!Number.isFinite(value)) return value > 0 ? '.inf (infinity)' : '-.inf (infinity)';
    return String(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : typeof value;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return `${typeof value} ${show(value)}`;
  }
  return show(value);
}

function valueAt(data: unknown, path: readonly PathKey[]): unknown {
  let v: unknown = data;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<PathKey, unknown>)[key];
  }
  return v;
}

/** "a, b, c" — or the first ten and how many more. */
function listed(items: readonly string[], max = 10): string {
  const head = items.slice(0, max).join(', ');
  return items.length > max ? `${head}, … (${items.length - max} more)` : head;
}

type SemanticIssue = { path: PathKey[]; message: string; hint?: string };

/** Spec problems that the schema alone cannot see (cross-references, ranges). */
function semanticIssues(spec: Spec): SemanticIssue[] {
  const names = firstIndexes(spec.targets.map((t) => t.name));
  return [
    ...targetIssues(spec, names),
    ...serviceReplicaIssues(spec),
    ...tierIssues(spec),
    ...dataIssues(spec, names),
    ...failoverIssues(spec),
  ];
}

/** Each value's first index, in first-seen order. */
function firstIndexes<T>(values: readonly (T | undefined)[]): Map<T, number> {
  const first = new Map<T, number>();
  values.forEach((v, i) => {
    if (v !== undefined && !first.has(v)) first.set(v, i);
  });
  return first;
}

/** Per target, in order: a duplicate name, "emulates" off local, overridden replicas min > max. */
function targetIssues(spec: Spec, names: Map<string, number>): SemanticIssue[] {
  const out: SemanticIssue[] = [];
  spec.targets.forEach((t, i) => {
    const seen = names.get(t.name);
    if (seen !== i) {
      out.push({
        path: ['targets', i, 'name'],
        message: `duplicate target name "${t.name}" (also targets[${seen}])`,
        hint: 'give every target a unique name',
      });
    }
    if (t.emulates !== undefined && t.provider !== 'local') {
      out.push({
        path: ['targets', i, 'emulates'],
        message: 'only local targets can emulate a cloud',
        hint: `remove "emulates" or set provider: local`,
      });
    }
    // Without overrides the service's own replicas apply: that is checked once, below.
    if (t.overrides?.replicas === undefined) return;
    const min = t.overrides.replicas.min ?? spec.service.replicas.min;
    const max = t.overrides.replicas.max ?? spec.service.replicas.max;
    if (min > max) {
      out.push({
        path: ['targets', i, 'overrides', 'replicas'],
        message: `replicas.min (${min}) is greater than replicas.max (${max})`,
      });
    }
  });
  return out;
}

function serviceReplicaIssues(spec: Spec): SemanticIssue[] {
  const { min, max } = spec.service.replicas;
  if (min <= max) return [];
  return [
    {
      path: ['service', 'replicas'],
      message: `replicas.min (${min}) is greater than replicas.max (${max})`,
    },
  ];
}

/** A tier used by an earlier target. */
function tierIssues(spec: Spec): SemanticIssue[] {
  const tiers = firstIndexes(spec.targets.map((t) => t.tier));
  const out: SemanticIssue[] = [];
  spec.targets.forEach((t, i) => {
    if (t.tier === undefined) return;
    const seen = tiers.get(t.tier)!;
    if (seen !== i) {
      out.push({
        path: ['targets', i, 'tier'],
        message: `tier ${t.tier} is already used by targets[${seen}] ("${spec.targets[seen]!.name}")`,
        hint: 'tiers order failover: give each target its own tier',
      });
    }
  });
  return out;
}

/** Per data set, in order: a duplicate name, then each target it names that does not exist. */
function dataIssues(spec: Spec, names: Map<string, number>): SemanticIssue[] {
  const out: SemanticIssue[] = [];
  const dataNames = new Set<string>();
  spec.data.forEach((d, i) => {
    if (dataNames.has(d.name)) {
      out.push({ path: ['data', i, 'name'], message: `duplicate data set name "${d.name}"` });
    }
    dataNames.add(d.name);
    d.targets?.forEach((name, j) => {
      if (!names.has(name)) {
        const hint = didYouMean(name, names.keys());
        out.push({
          path: ['data', i, 'targets', j],
          message: `unknown target ${quote(name)}`,
          ...(hint ? { hint } : { hint: `targets are: ${listed([...names.keys()])}` }),
        });
      }
    });
  });
  return out;
}

/** DNS mode without a dns section, an admin token variable that holds a credential, rfc2136 gaps. */
function failoverIssues(spec: Spec): SemanticIssue[] {
  const out: SemanticIssue[] = [];
  const dns = spec.failover.dns;
  if ((spec.failover.mode === 'dns' || spec.failover.mode === 'both') && dns === undefined) {
    out.push({
      path: ['failover', 'dns'],
      message: `failover.mode "${spec.failover.mode}" needs a failover.dns section`,
      hint: 'add failover.dns with provider, zone and record, or use mode: front-door',
    });
  }
  const tokenProblem = adminTokenEnvProblem(
    spec.failover.frontDoor.adminTokenEnv,
    dns?.provider === 'rfc2136' ? dns.tsigSecretEnv : undefined,
  );
  if (tokenProblem !== undefined) {
    out.push({
      path: ['failover', 'frontDoor', 'adminTokenEnv'],
      message: tokenProblem,
      hint: ADMIN_TOKEN_ENV_HINT,
    });
  }
  if (dns?.provider === 'rfc2136' && (dns.server === undefined || dns.tsigKeyName === undefined)) {
    out.push({
      path: ['failover', 'dns'],
      message: 'rfc2136 needs "server" (host:port) and "tsigKeyName"',
    });
  }
  return out;
}

/**
 * Parses `mcml.yaml` text into a validated spec.
 * @throws McmlError SPEC_INVALID with one issue per problem, each with line and column.
 */
export function parseSpec(text: string, file = 'mcml.yaml'): SpecDocument {
  try {
    return parseSpecText(text, file);
  } catch (error) {
    // A last guard: whatever nesting slipped past the depth check is still bad input.
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      throw new McmlError('SPEC_INVALID', `${file} nests too deeply to read`, {
        hint: 'spec fields nest at most 4 levels: look for unclosed brackets or runaway indentation',
      });
    }
    throw error;
  }
}

function parseSpecText(text: string, file: string): SpecDocument {
  const src = readYaml(text, file);
  const data = withoutExtensions(topLevelMapping(src.data, file));
  const locate = (path: readonly PathKey[], wantKey = false) => {
    const node = nodeAt(src, path, wantKey);
    return node?.range ? src.position(node.range[0]) : undefined;
  };
  const toIssue = (path: PathKey[], message: string, hint?: string): Issue => ({
    path: formatPath(path),
    message,
    ...(hint ? { hint } : {}),
    ...(locate(path) ?? { line: 1, column: 1 }),
  });
  const result = specSchema.safeParse(data);
  if (!result.success) throw specError(file, schemaIssues(result.error, data, locate, toIssue));
  const spec = result.data;
  const semantic = semanticIssues(spec);
  if (semantic.length > 0) {
    throw specError(
      file,
      semantic.map((s) => toIssue(s.path, s.message, s.hint)),
    );
  }
  return { spec, file, locate: (path) => locate(path) };
}

function topLevelMapping(data: unknown, file: string): Record<string, unknown> {
  if (data === null || data === undefined) {
    throw new McmlError('SPEC_INVALID', `${file} is empty`, {
      hint: 'run "mcml init" to write a starter spec',
    });
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new McmlError('SPEC_INVALID', `${file} must be a mapping with service and targets`, {
      hint: 'run "mcml init" to write a starter spec',
    });
  }
  return data as Record<string, unknown>;
}

/**
 * The spec without its top-level `x-` keys: extension fields, as in Compose files, that hold
 * YAML anchors for `<<` merge keys and are otherwise ignored.
 */
function withoutExtensions(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (!key.startsWith('x-')) out[key] = value;
  }
  return out;
}

type Locate = (path: readonly PathKey[], wantKey?: boolean) => Position | undefined;

/** The schema's complaints as issues: unknown keys with did-you-mean, then the rest. */
function schemaIssues(
  error: z.ZodError,
  data: unknown,
  locate: Locate,
  toIssue: (path: PathKey[], message: string, hint?: string) => Issue,
): Issue[] {
  const issues: Issue[] = [];
  // A misspelt key also makes the real key "required": report the typo, not both.
  const misspelt = new Set<string>();
  for (const issue of error.issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const path = issue.path as PathKey[];
    const known = knownKeysAt(specSchema, data, path);
    for (const key of issue.keys) {
      const suggestion = nearest(key, known);
      if (suggestion !== undefined) misspelt.add(formatPath([...path, suggestion]));
      const pos = locate([...path, key], true) ?? { line: 1, column: 1 };
      issues.push({
        path: formatPath([...path, key]),
        message: `unknown key ${quote(key)}`,
        hint:
          suggestion !== undefined
            ? `did you mean "${suggestion}"?`
            : known.length
              ? `valid keys here: ${known.join(', ')}`
              : '',
        ...pos,
      });
    }
  }
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') continue;
    const path = issue.path as PathKey[];
    if (
      issue.code === 'invalid_type' &&
      valueAt(data, path) === undefined &&
      misspelt.has(formatPath(path))
    ) {
      continue;
    }
    const { message, hint } = describeIssue(issue, data);
    issues.push(toIssue(path, message, hint));
  }
  return issues;
}

function specError(file: string, issues: Issue[]): McmlError {
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  const n = issues.length;
  return new McmlError('SPEC_INVALID', `${file}: ${n} problem${n === 1 ? '' : 's'} in the spec`, {
    issues: issues.map((i) => ({ ...i, path: `${file}:${i.line}:${i.column} ${i.path}` })),
  });
}

/** Builds a SPEC_INVALID error for issues found after parsing (e.g. against the catalog). */
export function specIssuesError(
  doc: SpecDocument,
  found: { path: PathKey[]; message: string; hint?: string }[],
): McmlError {
  return specError(
    doc.file,
    found.map((f) => ({
      path: formatPath(f.path),
      message: f.message,
      ...(f.hint ? { hint: f.hint } : {}),
      ...(doc.locate(f.path) ?? { line: 1, column: 1 }),
    })),
  );
}

/** Memory in GiB from the spec's quantity form ("16Gi", "512Mi", 4). */
export function memoryGiB(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(value);
  if (!m) throw new McmlError('SPEC_INVALID', `not a memory quantity: ${quote(value)}`);
  const n = Number(m[1]);
  const factor: Record<string, number> = {
    Ki: 1 / 1024 ** 2,
    Mi: 1 / 1024,
    Gi: 1,
    Ti: 1024,
    K: 1e3 / 1024 ** 3,
    M: 1e6 / 1024 ** 3,
    G: 1e9 / 1024 ** 3,
    T: 1e12 / 1024 ** 3,
  };
  return n * (m[2] === undefined ? 1 / 1024 ** 3 : factor[m[2]]!);
}
