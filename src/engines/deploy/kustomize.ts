/**
 * The objects of one target, built from the files `mcml render` writes (k8s/base and
 * k8s/overlays/<target>) the way `kubectl kustomize` builds them: resources, ConfigMap
 * generators with kustomize's content-hash suffix, strategic-merge patches, namespace, labels,
 * annotations and image transformers. Deploy applies exactly what `kubectl apply -k` would;
 * test/deploy/kustomize.test.ts compares the two. A kustomization field this build does not
 * know is refused by name, never skipped.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { McmlError } from '../../core/errors.js';
import { renderedDocuments } from '../../core/render/yaml-documents.js';
import type { ClusterObject } from '../../ports/cluster.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** A JSON value as text (strings as they are). */
const asText = (v: Json | undefined): string =>
  typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'patches',
  'patchesStrategicMerge',
  'labels',
  'commonLabels',
  'commonAnnotations',
  'images',
  'configMapGenerator',
]);

/** Kinds that live outside namespaces. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService',
  'Node',
  'CSIDriver',
]);

/** Strategic-merge keys of the lists the Kubernetes API merges by key (patchMergeKey). */
const MERGE_KEYS: Record<string, (items: JsonObject[]) => string | undefined> = {
  containers: () => 'name',
  initContainers: () => 'name',
  ephemeralContainers: () => 'name',
  env: () => 'name',
  volumes: () => 'name',
  volumeMounts: () => 'mountPath',
  imagePullSecrets: () => 'name',
  topologySpreadConstraints: () => 'topologyKey',
  hostAliases: () => 'ip',
  ports: (items) =>
    items.every((i) => 'containerPort' in i)
      ? 'containerPort'
      : items.every((i) => 'port' in i)
        ? 'port'
        : undefined,
};

/** Where pod templates sit, by kind. */
const TEMPLATE_PATHS: Record<string, string[][]> = {
  Deployment: [['spec', 'template']],
  StatefulSet: [['spec', 'template']],
  DaemonSet: [['spec', 'template']],
  ReplicaSet: [['spec', 'template']],
  Job: [['spec', 'template']],
  CronJob: [['spec', 'jobTemplate', 'spec', 'template']],
};

interface Item {
  object: JsonObject;
  /** A generated ConfigMap's name before its hash suffix. */
  generatedName?: string;
}

const bad = (dir: string, message: string, hint?: string) =>
  new McmlError('UNSUPPORTED', `${dir}/kustomization.yaml: ${message}`, {
    hint:
      hint ??
      'mcml deploy builds what mcml render writes; build other kustomizations with kubectl kustomize',
  });

function read(files: Record<string, string>, path: string, from: string): string {
  const text = files[path];
  if (text === undefined) throw bad(from, `${path} is not among the rendered files`);
  return text;
}

function meta(o: JsonObject): JsonObject {
  if (!isObject(o.metadata)) o.metadata = {};
  return o.metadata;
}

function at(o: JsonObject, path: string[], create: boolean): JsonObject | undefined {
  let node: JsonObject = o;
  for (const key of path) {
    const next = node[key];
    if (!isObject(next)) {
      if (!create) return undefined;
      node[key] = {};
    }
    node = node[key] as JsonObject;
  }
  return node;
}

/** A strategic merge patch: maps merge, keyed lists merge by key, other lists are replaced. */
export function strategicMerge(base: Json | undefined, patch: Json, field = ''): Json | undefined {
  if (isObject(patch)) {
    if (patch.$patch === 'delete') return undefined;
    if (patch.$patch === 'replace') {
      const { $patch: _p, ...rest } = patch;
      return structuredClone(rest);
    }
    const out: JsonObject = isObject(base) ? structuredClone(base) : {};
    for (const [k, v] of Object.entries(patch)) {
      if (k.startsWith('$')) throw new Error(`the patch directive ${k} is not supported`);
      if (v === null) {
        delete out[k];
        continue;
      }
      const merged = strategicMerge(out[k], v, k);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
    return out;
  }
  if (
    Array.isArray(patch) &&
    Array.isArray(base) &&
    patch.every(isObject) &&
    base.every(isObject)
  ) {
    const key = MERGE_KEYS[field]?.([...base, ...patch] as JsonObject[]);
    if (key) {
      const baseItems = base;
      const patchItems = patch;
      const patched = new Set(patchItems.map((p) => JSON.stringify(p[key])));
      const merged: Json[] = [];
      for (const p of patchItems) {
        const match = baseItems.find((b) => JSON.stringify(b[key]) === JSON.stringify(p[key]));
        const value = strategicMerge(match, p, field);
        if (value !== undefined) merged.push(value);
      }
      return [...merged, ...baseItems.filter((b) => !patched.has(JSON.stringify(b[key])))];
    }
  }
  return structuredClone(patch);
}

/** Go's encoding/json escapes these in strings; kustomize hashes Go's encoding. */
function goJson(value: Json): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k]!)]),
    );
  }
  return value;
}

/** kustomize's ConfigMap name suffix (as kubectl kustomize 5.5 computes it: data, no name). */
export function configMapHash(data: JsonObject): string {
  const encoded = goJson(sortKeys({ data, kind: 'ConfigMap', name: '' }));
  const hex = createHash('sha256').update(encoded).digest('hex');
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => swap[c] ?? c).join('');
}

function generateConfigMaps(files: Record<string, string>, dir: string, k: JsonObject): Item[] {
  const generators = (k.configMapGenerator ?? []) as JsonObject[];
  return generators.map((g) => {
    const name = asText(g.name);
    const known = new Set(['name', 'files', 'literals']);
    for (const key of Object.keys(g))
      if (!known.has(key)) throw bad(dir, `configMapGenerator.${key} is not supported`);
    const data: JsonObject = {};
    for (const entry of (g.files ?? []) as string[]) {
      const [key, path] = entry.includes('=')
        ? entry.split('=', 2)
        : [posix.basename(entry), entry];
      data[key!] = read(files, posix.join(dir, path!), dir);
    }
    for (const entry of (g.literals ?? []) as string[]) {
      const cut = entry.indexOf('=');
      data[entry.slice(0, cut)] = entry.slice(cut + 1);
    }
    return {
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data },
      generatedName: name,
    };
  });
}

/**
 * The documents of a YAML text, parsed once per process and copied for each caller (the build
 * edits objects in place): every target of a deploy reads the same base files, and parsing
 * them is most of building a target's objects.
 */
function documents(text: string): (JsonObject | null)[] {
  let docs = parsedDocuments.get(text);
  if (!docs) {
    // Rendered by this process: the documents it came from, without parsing it back.
    docs =
      (renderedDocuments(text) as (JsonObject | null)[] | undefined) ??
      parseAllDocuments(text).map((d) => d.toJS() as JsonObject | null);
    if (parsedDocuments.size >= 256) parsedDocuments.clear();
    parsedDocuments.set(text, docs);
  }
  return structuredClone(docs);
}
const parsedDocuments = new Map<string, (JsonObject | null)[]>();

function patchDocuments(files: Record<string, string>, dir: string, k: JsonObject): JsonObject[] {
  const out: JsonObject[] = [];
  for (const p of (k.patches ?? []) as JsonObject[]) {
    if (p.target !== undefined) throw bad(dir, 'patches[].target is not supported');
    const text =
      typeof p.path === 'string' ? read(files, posix.join(dir, p.path), dir) : asText(p.patch);
    for (const doc of documents(text)) out.push(doc as JsonObject);
  }
  for (const path of (k.patchesStrategicMerge ?? []) as string[]) {
    for (const doc of documents(read(files, posix.join(dir, path), dir))) {
      out.push(doc as JsonObject);
    }
  }
  return out;
}

function applyPatches(dir: string, items: Item[], patches: JsonObject[]): void {
  for (const patch of patches) {
    const pm = isObject(patch.metadata) ? patch.metadata : {};
    const target = items.find(
      (i) =>
        i.object.kind === patch.kind &&
        meta(i.object).name === pm.name &&
        (pm.namespace === undefined || meta(i.object).namespace === pm.namespace),
    );
    if (!target)
      throw bad(
        dir,
        `a patch targets ${asText(patch.kind)} ${asText(pm.name)}, which no resource is`,
      );
    try {
      target.object = strategicMerge(target.object, patch) as JsonObject;
    } catch (error) {
      throw bad(dir, (error as Error).message);
    }
  }
}

function setNamespace(items: Item[], namespace: string): void {
  for (const { object } of items) {
    if (object.kind === 'Namespace') meta(object).name = namespace;
    else if (!CLUSTER_SCOPED.has(asText(object.kind))) meta(object).namespace = namespace;
    if (object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding') {
      for (const s of (object.subjects ?? []) as JsonObject[]) {
        if (s.kind === 'ServiceAccount' && (s.namespace === undefined || s.namespace === 'default'))
          s.namespace = namespace;
      }
    }
  }
}

function addLabels(
  items: Item[],
  pairs: Record<string, string>,
  templates: boolean,
  selectors: boolean,
): void {
  for (const { object } of items) {
    const m = meta(object);
    m.labels = { ...(isObject(m.labels) ? m.labels : {}), ...pairs };
    for (const path of TEMPLATE_PATHS[asText(object.kind)] ?? []) {
      if (templates || selectors) {
        const tm = at(object, [...path, 'metadata'], true)!;
        tm.labels = { ...(isObject(tm.labels) ? tm.labels : {}), ...pairs };
      }
      if (selectors) {
        const sel = at(object, [...path.slice(0, -1), 'selector', 'matchLabels'], true)!;
        Object.assign(sel, pairs);
      }
    }
    if (selectors && object.kind === 'Service') {
      const spec = at(object, ['spec'], true)!;
      spec.selector = { ...(isObject(spec.selector) ? spec.selector : {}), ...pairs };
    }
  }
}

function addAnnotations(items: Item[], pairs: Record<string, string>): void {
  for (const { object } of items) {
    const m = meta(object);
    m.annotations = { ...(isObject(m.annotations) ? m.annotations : {}), ...pairs };
    for (const path of TEMPLATE_PATHS[asText(object.kind)] ?? []) {
      const tm = at(object, [...path, 'metadata'], true)!;
      tm.annotations = { ...(isObject(tm.annotations) ? tm.annotations : {}), ...pairs };
    }
  }
}

function containersOf(object: JsonObject): JsonObject[] {
  const specs = (TEMPLATE_PATHS[asText(object.kind)] ?? []).map((p) =>
    at(object, [...p, 'spec'], false),
  );
  if (object.kind === 'Pod') specs.push(at(object, ['spec'], false));
  return specs.flatMap((s) =>
    s
      ? [...((s.containers ?? []) as JsonObject[]), ...((s.initContainers ?? []) as JsonObject[])]
      : [],
  );
}

function setImages(items: Item[], images: JsonObject[]): void {
  for (const { object } of items) {
    for (const c of containersOf(object)) {
      if (typeof c.image !== 'string') continue;
      const at = c.image.indexOf('@');
      const slash = c.image.lastIndexOf('/');
      const colon = c.image.lastIndexOf(':');
      const name =
        at >= 0 ? c.image.slice(0, at) : colon > slash ? c.image.slice(0, colon) : c.image;
      const suffix = c.image.slice(name.length);
      const rule = images.find((i) => i.name === name);
      if (!rule) continue;
      const nextName = typeof rule.newName === 'string' ? rule.newName : name;
      const nextSuffix =
        typeof rule.digest === 'string'
          ? `@${rule.digest}`
          : typeof rule.newTag === 'string'
            ? `:${rule.newTag}`
            : suffix;
      c.image = nextName + nextSuffix;
    }
  }
}

/** Renames references to generated ConfigMaps in pod specs of the same namespace. */
function renameConfigMapReferences(items: Item[], renames: Map<string, string>): void {
  const visit = (node: Json | undefined, field: string): void => {
    if (Array.isArray(node)) node.forEach((n) => visit(n, field));
    if (!isObject(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'configMap' || k === 'configMapRef' || k === 'configMapKeyRef') && isObject(v)) {
        const to = typeof v.name === 'string' ? renames.get(v.name) : undefined;
        if (to) v.name = to;
      }
      visit(v, k);
    }
  };
  for (const { object } of items) if (object.kind !== 'ConfigMap') visit(object.spec, 'spec');
}

function build(files: Record<string, string>, dir: string, depth: number): Item[] {
  if (depth > 10) throw bad(dir, 'kustomizations nest more than 10 deep');
  const text = read(files, `${dir}/kustomization.yaml`, dir);
  const known = renderedDocuments(text)?.[0];
  const k = (known === undefined ? parse(text) : structuredClone(known)) as JsonObject;
  for (const key of Object.keys(k))
    if (!KNOWN_FIELDS.has(key)) throw bad(dir, `the field "${key}" is not supported`);
  const items: Item[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const path = posix.normalize(posix.join(dir, r));
    if (files[`${path}/kustomization.yaml`] !== undefined)
      items.push(...build(files, path, depth + 1));
    else {
      for (const object of documents(read(files, path, dir))) {
        if (object) items.push({ object });
      }
    }
  }
  items.push(...generateConfigMaps(files, dir, k));
  applyPatches(dir, items, patchDocuments(files, dir, k));
  if (typeof k.namespace === 'string') setNamespace(items, k.namespace);
  if (isObject(k.commonLabels))
    addLabels(items, k.commonLabels as Record<string, string>, true, true);
  for (const l of (k.labels ?? []) as JsonObject[]) {
    addLabels(
      items,
      (l.pairs ?? {}) as Record<string, string>,
      l.includeTemplates === true,
      l.includeSelectors === true,
    );
  }
  if (isObject(k.commonAnnotations))
    addAnnotations(items, k.commonAnnotations as Record<string, string>);
  setImages(items, (k.images ?? []) as JsonObject[]);
  return items;
}

/** Builds the kustomization in `dir` of `files` (relative path → content). */
export function buildKustomization(files: Record<string, string>, dir: string): ClusterObject[] {
  const items = build(files, dir.replace(/\/+$/, ''), 0);
  const renames = new Map<string, string>();
  for (const item of items) {
    if (item.generatedName === undefined) continue;
    const name = `${item.generatedName}-${configMapHash((item.object.data ?? {}) as JsonObject)}`;
    meta(item.object).name = name;
    renames.set(item.generatedName, name);
  }
  renameConfigMapReferences(items, renames);
  return items.map((i) => i.object as unknown as ClusterObject);
}

/** The objects `mcml render` produces for one target (what `kubectl apply -k` would apply). */
export function targetObjects(files: Record<string, string>, target: string): ClusterObject[] {
  const dir = `k8s/overlays/${target}`;
  if (files[`${dir}/kustomization.yaml`] === undefined) {
    throw new McmlError('NOT_FOUND', `the render has no manifests for target "${target}"`, {
      hint: 'local targets are run by "mcml up"; deploy renders aws, gcp and azure targets',
    });
  }
  return buildKustomization(files, dir);
}
