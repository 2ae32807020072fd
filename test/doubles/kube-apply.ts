/**
 * Server-side apply as the Kubernetes API server does it (structured-merge-diff, simplified):
 * every manager owns a set of fields; an apply by manager M merges M's configuration into the
 * live object, removes the fields M applied before and no longer applies (unless another
 * manager owns them), and refuses with per-field conflicts when it would change a field
 * another manager owns — unless forced, which moves the ownership to M. An update (create,
 * PUT, merge patch, a controller writing status) takes the fields it changes from everyone.
 *
 * Field paths use the FieldsV1 element encoding: `f:<field>`, `k:<json key>` for an item of
 * an associative list (containers by name, ports by port, …), and `.` for the item itself.
 * Lists that are not associative are atomic: the whole list is one field.
 */
import { isDeepStrictEqual } from 'node:util';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** One field path, elements as FieldsV1 spells them. */
export type FieldPath = string[];

/** Merge keys of the associative lists of the kinds the double serves, by field name. */
const LIST_KEYS: Record<string, (items: JsonObject[]) => string[] | undefined> = {
  containers: () => ['name'],
  initContainers: () => ['name'],
  ephemeralContainers: () => ['name'],
  env: () => ['name'],
  volumes: () => ['name'],
  volumeMounts: () => ['mountPath'],
  imagePullSecrets: () => ['name'],
  conditions: () => ['type'],
  topologySpreadConstraints: () => ['topologyKey', 'whenUnsatisfiable'],
  ports: (items) =>
    items.every((i) => 'containerPort' in i)
      ? ['containerPort', 'protocol']
      : items.every((i) => 'port' in i)
        ? ['port', 'protocol']
        : undefined,
};

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listKeys(field: string, list: Json[]): string[] | undefined {
  if (!list.every(isObject)) return undefined;
  return LIST_KEYS[field]?.(list);
}

/** Key fields the API server defaults, so an item written without them still matches. */
const KEY_DEFAULTS: JsonObject = { protocol: 'TCP' };

function itemKey(keys: string[], item: JsonObject): string {
  const key: JsonObject = {};
  for (const k of keys) {
    const value = item[k] ?? KEY_DEFAULTS[k];
    if (value !== undefined) key[k] = value;
  }
  return `k:${JSON.stringify(key)}`;
}

const pathId = (path: FieldPath) => path.join('\u0000');
/** A list item's path without its trailing "." element. */
const itemPrefix = (id: string) => (id.endsWith('\u0000.') ? id.slice(0, -2) : id);
const fromId = (id: string): FieldPath => (id === '' ? [] : id.split('\u0000'));

/** The leaf fields a value sets, under `prefix`. */
export function fieldsOf(value: Json, prefix: FieldPath = [], field = ''): Set<string> {
  const out = new Set<string>();
  // Ids are built as they are walked (pathId of the path so far), not joined per leaf.
  const under = (id: string, el: string) => (id === '' ? el : `${id}\u0000${el}`);
  const walk = (v: Json, id: string, depth: number, name: string) => {
    if (isObject(v)) {
      const keys = Object.keys(v);
      if (keys.length === 0 && depth > 0) out.add(id);
      for (const k of keys) walk(v[k]!, under(id, `f:${k}`), depth + 1, k);
      return;
    }
    if (Array.isArray(v)) {
      const keys = listKeys(name, v);
      if (keys && v.length > 0) {
        for (const item of v as JsonObject[]) {
          const itemId = under(id, itemKey(keys, item));
          out.add(under(itemId, '.'));
          for (const k of Object.keys(item)) walk(item[k]!, under(itemId, `f:${k}`), depth + 2, k);
        }
        return;
      }
    }
    out.add(id);
  };
  walk(value, pathId(prefix), prefix.length, field);
  return out;
}

/** The value at a field path, or undefined. */
export function valueAt(root: Json, path: FieldPath): Json | undefined {
  let node: Json | undefined = root;
  let field = '';
  for (const el of path) {
    if (node === undefined) return undefined;
    if (el === '.') return node;
    if (el.startsWith('f:')) {
      if (!isObject(node)) return undefined;
      field = el.slice(2);
      node = node[field];
    } else if (el.startsWith('k:')) {
      if (!Array.isArray(node)) return undefined;
      const keys = listKeys(field, node);
      if (!keys) return undefined;
      node = (node as JsonObject[]).find((item) => itemKey(keys, item) === el);
    } else {
      return undefined;
    }
  }
  return node;
}

/** Removes the field at `path` (a leaf, or a list item when the path ends with "."). */
export function removeAt(root: JsonObject, path: FieldPath): void {
  const itemEnd = path[path.length - 1] === '.';
  const target = itemEnd ? path.slice(0, -1) : path;
  const parentPath = target.slice(0, -1);
  const last = target[target.length - 1];
  if (last === undefined) return;
  const parent = valueAt(root, parentPath);
  if (last.startsWith('f:') && isObject(parent)) {
    delete parent[last.slice(2)];
  } else if (last.startsWith('k:')) {
    const listField = parentPath[parentPath.length - 1]?.slice(2) ?? '';
    const list = parent;
    if (!Array.isArray(list)) return;
    const keys = listKeys(listField, list);
    if (!keys) return;
    const index = (list as JsonObject[]).findIndex((i) => itemKey(keys, i) === last);
    if (index >= 0) list.splice(index, 1);
  }
  // Drop maps and lists the removal left empty, up to the top-level fields.
  for (let depth = parentPath.length; depth > 1; depth--) {
    const p = parentPath.slice(0, depth);
    const v = valueAt(root, p);
    const empty =
      (isObject(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0);
    if (!empty) break;
    removeAt(root, p);
    break;
  }
}

/** Merges an applied configuration into a live value: maps by key, associative lists by key. */
export function mergeApplied(live: Json | undefined, applied: Json, field = ''): Json {
  if (isObject(live) && isObject(applied)) {
    const out: JsonObject = { ...live };
    for (const [k, v] of Object.entries(applied)) out[k] = mergeApplied(live[k], v, k);
    return out;
  }
  if (Array.isArray(live) && Array.isArray(applied)) {
    const keys = listKeys(field, applied.length > 0 ? applied : live);
    if (keys && live.every(isObject)) {
      const liveItems = live;
      const appliedKeys = new Set((applied as JsonObject[]).map((i) => itemKey(keys, i)));
      const merged = (applied as JsonObject[]).map((item) => {
        const match = liveItems.find((l) => itemKey(keys, l) === itemKey(keys, item));
        return mergeApplied(match, item, field) as JsonObject;
      });
      return [...merged, ...liveItems.filter((l) => !appliedKeys.has(itemKey(keys, l)))];
    }
  }
  return structuredClone(applied);
}

/** The managed-fields bookkeeping of one object. */
export interface Manager {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time: string;
  fields: Set<string>;
}

export interface FieldConflict {
  manager: string;
  field: string;
}

/** ".spec.template.spec.containers[name=\"server\"].image", as the API server names fields. */
export function fieldName(id: string): string {
  return fromId(id)
    .filter((el) => el !== '.')
    .map((el) => {
      if (el.startsWith('f:')) return `.${el.slice(2)}`;
      const key = JSON.parse(el.slice(2)) as JsonObject;
      return `[${Object.entries(key)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    })
    .join('');
}

/** FieldsV1 JSON of a field set. */
export function fieldsV1(fields: Set<string>): JsonObject {
  const root: JsonObject = {};
  for (const id of [...fields].sort()) {
    let node = root;
    for (const el of fromId(id)) {
      node[el] ??= {};
      node = node[el] as JsonObject;
    }
  }
  return root;
}

const IGNORED_PREFIXES = [
  ['f:status'],
  ['f:metadata', 'f:managedFields'],
  ['f:metadata', 'f:resourceVersion'],
  ['f:metadata', 'f:generation'],
  ['f:metadata', 'f:uid'],
  ['f:metadata', 'f:creationTimestamp'],
  ['f:metadata', 'f:namespace'],
  ['f:metadata', 'f:name'],
  ['f:apiVersion'],
  ['f:kind'],
].map(pathId);

const IGNORED_UNDER = IGNORED_PREFIXES.map((p) => p + '\u0000');

function owned(fields: Set<string>, keepStatus = false): Set<string> {
  const out = new Set<string>();
  for (const id of fields) {
    const ignored = IGNORED_PREFIXES.some(
      (p, i) => (id === p || id.startsWith(IGNORED_UNDER[i]!)) && !(keepStatus && p === 'f:status'),
    );
    if (!ignored) out.add(id);
  }
  return out;
}

export interface ApplyOutcome {
  object: JsonObject;
  managers: Manager[];
  conflicts: FieldConflict[];
}

/**
 * Applies `config` as `manager` onto `live` (undefined: create). Returns the conflicts instead
 * of a result when there are any and `force` is off.
 */
export function applyConfig(args: {
  live: JsonObject | undefined;
  managers: Manager[];
  config: JsonObject;
  manager: string;
  force: boolean;
  now: string;
}): ApplyOutcome {
  const { config, manager, force, now } = args;
  const live: JsonObject = structuredClone(args.live ?? {});
  const applied = owned(fieldsOf(config));
  const mine = args.managers.find((m) => m.manager === manager && m.operation === 'Apply');
  const others = args.managers.filter((m) => m !== mine && m.subresource === undefined);
  const conflicts: FieldConflict[] = [];
  for (const id of applied) {
    // Only a field another manager owns can conflict: ask that first, it is the cheap question.
    const owners = others.filter((other) => other.fields.has(id));
    if (owners.length === 0) continue;
    const path = fromId(id);
    if (path[path.length - 1] === '.') continue;
    const current = valueAt(live, path);
    if (current === undefined || isDeepStrictEqual(current, valueAt(config, path))) continue;
    for (const other of owners) conflicts.push({ manager: other.manager, field: id });
  }
  if (conflicts.length > 0 && !force) return { object: live, managers: args.managers, conflicts };
  const managers = args.managers.map((m) => ({ ...m, fields: new Set(m.fields) }));
  if (force) {
    for (const c of conflicts) {
      for (const m of managers) if (m.manager === c.manager) m.fields.delete(c.field);
    }
  }
  // Fields this manager applied before and applies no more, and nobody else owns, go.
  const stillOwned = (id: string) =>
    managers.some(
      (m) =>
        !(m.manager === manager && m.operation === 'Apply') &&
        [...m.fields].some((f) => f === id || f.startsWith(itemPrefix(id) + '\u0000')),
    );
  const dropped = [...(mine?.fields ?? [])].filter((id) => !applied.has(id) && !stillOwned(id));
  // Items before their own fields would be wasted work; leaves first, then whole items.
  dropped.sort((a, b) => Number(a.endsWith('\u0000.')) - Number(b.endsWith('\u0000.')));
  for (const id of dropped) removeAt(live, fromId(id));
  const { metadata: _ignored, ...rest } = config;
  const metadata = isObject(config.metadata) ? config.metadata : {};
  const object = mergeApplied(live, rest) as JsonObject;
  const liveMeta = isObject(live.metadata) ? live.metadata : {};
  object.metadata = mergeApplied(
    liveMeta,
    Object.fromEntries(
      Object.entries(metadata).filter(([k]) => k === 'labels' || k === 'annotations'),
    ),
  );
  const entry: Manager = {
    manager,
    operation: 'Apply',
    apiVersion: typeof config.apiVersion === 'string' ? config.apiVersion : 'v1',
    time: now,
    fields: applied,
  };
  const at = managers.findIndex((m) => m.manager === manager && m.operation === 'Apply');
  if (at >= 0) managers[at] = entry;
  else managers.push(entry);
  return { object, managers: managers.filter((m) => m.fields.size > 0), conflicts: [] };
}

/** Records an update by `manager`: it takes the fields it changed from everyone else. */
export function recordUpdate(args: {
  before: JsonObject | undefined;
  after: JsonObject;
  managers: Manager[];
  manager: string;
  apiVersion: string;
  subresource?: string;
  now: string;
}): Manager[] {
  const { before, after, manager, now } = args;
  const keep = args.subresource === 'status';
  // A status write can only take status fields: walk only the status.
  const fields = (o: JsonObject) =>
    !keep ? fieldsOf(o) : o.status === undefined ? [] : fieldsOf(o.status, ['f:status'], 'status');
  const ids = new Set([
    ...owned(new Set(fields(after)), keep),
    ...(before ? owned(new Set(fields(before)), keep) : []),
  ]);
  const changed = [...ids].filter(
    (id) => !before || !isDeepStrictEqual(valueAt(before, fromId(id)), valueAt(after, fromId(id))),
  );
  const statusOnly = args.subresource === 'status';
  const relevant = changed.filter((id) => id.startsWith('f:status') === statusOnly);
  if (relevant.length === 0) return args.managers;
  const managers = args.managers.map((m) => ({ ...m, fields: new Set(m.fields) }));
  for (const m of managers) for (const id of relevant) m.fields.delete(id);
  let mine = managers.find(
    (m) => m.manager === manager && m.operation === 'Update' && m.subresource === args.subresource,
  );
  if (!mine) {
    mine = {
      manager,
      operation: 'Update',
      apiVersion: args.apiVersion,
      time: now,
      fields: new Set(),
      ...(args.subresource ? { subresource: args.subresource } : {}),
    };
    managers.push(mine);
  }
  mine.time = now;
  for (const id of relevant) if (valueAt(after, fromId(id)) !== undefined) mine.fields.add(id);
  return managers.filter((m) => m.fields.size > 0);
}

/** Whether two manager lists say the same (order, managers, fields), whatever their times. */
export function sameManagers(a: Manager[], b: Manager[]): boolean {
  return (
    a.length === b.length &&
    a.every((m, i) => {
      const n = b[i]!;
      return (
        m.manager === n.manager &&
        m.operation === n.operation &&
        m.apiVersion === n.apiVersion &&
        m.subresource === n.subresource &&
        m.fields.size === n.fields.size &&
        [...m.fields].every((f) => n.fields.has(f))
      );
    })
  );
}

/** managedFields as the API returns them. */
export function managedFieldsJson(managers: Manager[]): Json[] {
  return managers.map((m) => ({
    manager: m.manager,
    operation: m.operation,
    apiVersion: m.apiVersion,
    time: m.time,
    fieldsType: 'FieldsV1',
    fieldsV1: fieldsV1(m.fields),
    ...(m.subresource ? { subresource: m.subresource } : {}),
  }));
}

/** A JSON value as text: strings as they are, other values as JSON, nothing as "". */
export function str(value: Json | undefined): string {
  if (typeof value === 'string') return value;
  return value === undefined || value === null ? '' : JSON.stringify(value);
}
