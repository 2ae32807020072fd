/**
 * Where models come from: `name=URI` specs (`--model`) and `MODEL_PATH`, local paths and
 * file:// URIs read in place, s3:// gs:// az:// fetched through an injected ObjectStore into a
 * local cache, and an optional sha256 (`URI#sha256=HEX`) checked before the model is loaded.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McmlError } from '../../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';
import { downloadToFile, type DownloadProgress } from './download.js';
import {
  fetchExternalData,
  objectVersion,
  type ExternalFetchOptions,
} from './external-data-fetch.js';
import { modelSha256, type ModelHashOptions, type Sha256Source } from './model-hash.js';

/** Opens the object store rooted at a URI such as s3://bucket/prefix/. */
export type ResolveStore = (uri: string) => Promise<ObjectStore>;

/** One model to serve, as the user named it. */
export interface ModelSpec {
  name: string;
  /** The URI without the #sha256 fragment. */
  uri: string;
  /** Expected hex sha256, lower case, when given. */
  sha256?: string;
}

/** A model file on local disk, verified. */
export interface LocalModel {
  name: string;
  uri: string;
  path: string;
  sha256: string;
  /** True when the file came from the cache rather than a download or a local path. */
  cached: boolean;
  /**
   * Where the sha256 came from: the file's bytes, the hash index (the file's stamp unchanged
   * since they were last read), or the bytes as they were downloaded.
   */
  sha256From: Sha256Source | 'download';
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const REMOTE_SCHEMES = ['s3:', 'gs:', 'az:'];

/** Model name from a URI: the file name without its extension. */
export function nameFromUri(uri: string): string {
  const path = uri.replace(/[?#].*$/, '').replace(/\/+$/, '');
  return basename(path, extname(path));
}

/**
 * Parses `name=URI`, or a bare `URI` whose file stem becomes the name. A `#sha256=HEX` suffix
 * on the URI sets the expected checksum.
 */
export function parseModelSpec(text: string, defaultName?: string): ModelSpec {
  const trimmed = text.trim();
  if (trimmed === '') throw new McmlError('USAGE', 'empty model: expected name=URI or a path');
  // "name=" only counts when what precedes "=" is a valid name and no URI scheme/path.
  const eq = trimmed.indexOf('=');
  let name: string | undefined;
  let rest = trimmed;
  if (eq > 0 && NAME_RE.test(trimmed.slice(0, eq)) && !trimmed.slice(0, eq).includes('/')) {
    const before = trimmed.slice(0, eq);
    if (!before.includes('#')) {
      name = before;
      rest = trimmed.slice(eq + 1);
    }
  }
  let sha256: string | undefined;
  const hash = rest.lastIndexOf('#sha256=');
  let uri = rest;
  if (hash >= 0) {
    sha256 = rest.slice(hash + '#sha256='.length).toLowerCase();
    uri = rest.slice(0, hash);
    if (!/^[0-9a-f]{64}$/.test(sha256)) {
      throw new McmlError(
        'USAGE',
        `bad checksum in "${text}": expected #sha256= and 64 hex digits`,
      );
    }
  }
  if (uri === '') throw new McmlError('USAGE', `no model path or URI in "${text}"`);
  name ??= defaultName ?? nameFromUri(uri);
  if (!NAME_RE.test(name)) {
    throw new McmlError(
      'USAGE',
      `invalid model name "${name}": use letters, digits, "_", "." and "-" (from "${text}")`,
      { hint: 'give it one explicitly: --model NAME=URI' },
    );
  }
  return sha256 === undefined ? { name, uri } : { name, uri, sha256 };
}

/** The models named by MODEL_PATH (MODEL_NAME, MODEL_SHA256) in an environment, if any. */
export function modelFromEnv(env: Record<string, string | undefined>): ModelSpec | undefined {
  const path = env.MODEL_PATH;
  if (path === undefined || path === '') return undefined;
  const spec = parseModelSpec(path, env.MODEL_NAME || undefined);
  const sum = env.MODEL_SHA256?.trim().toLowerCase();
  if (sum) {
    if (!/^[0-9a-f]{64}$/.test(sum)) {
      throw new McmlError('USAGE', 'MODEL_SHA256 must be 64 hex digits');
    }
    return { ...spec, sha256: sum };
  }
  return spec;
}

function schemeOf(uri: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(uri);
  return m?.[1]?.toLowerCase();
}

function checkSum(spec: ModelSpec, actual: string, where: string): void {
  if (spec.sha256 !== undefined && spec.sha256 !== actual) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `model "${spec.name}": sha256 mismatch for ${where}: expected ${spec.sha256}, got ${actual}`,
      {
        hint: 'the file is not the one you pinned: fix the #sha256= value or the model URI',
        details: { expected: spec.sha256, actual },
      },
    );
  }
}

export interface FetchOptions {
  /** Opens a store for s3://, gs://, az:// URIs; absent means remote schemes are refused. */
  resolveStore?: ResolveStore | undefined;
  /** Directory for downloaded models. */
  cacheDir: string;
  /**
   * Where the sha256 of model files is remembered across starts (model-hash.ts); undefined
   * reads every model file at every start.
   */
  hashIndexDir?: string | undefined;
  /**
   * Ranged GETs in flight per large model object (default 1: one stream). 4 suits the real
   * clouds; emulators such as moto read the whole object for every range.
   */
  downloadStreams?: number | undefined;
  /** Hears how far each download (the model, its external data files) is. */
  onDownload?: ((p: DownloadProgress) => void) | undefined;
  /** The clock of the hash index's racy-clean rule (tests); default Date.now. */
  now?: (() => number) | undefined;
}

function hashOptions(options: FetchOptions): ModelHashOptions {
  return { indexDir: options.hashIndexDir, now: options.now };
}

function externalOptions(options: FetchOptions): ExternalFetchOptions {
  return {
    hashing: hashOptions(options),
    downloadStreams: options.downloadStreams ?? 1,
    ...(options.onDownload ? { onDownload: options.onDownload } : {}),
  };
}

/** Makes a model available as a local file, downloading and caching remote ones; verifies sha256. */
export async function fetchModel(spec: ModelSpec, options: FetchOptions): Promise<LocalModel> {
  const scheme = schemeOf(spec.uri);
  if (scheme === undefined || scheme === 'file:') {
    const path = scheme === 'file:' ? fileURLToPath(spec.uri) : resolve(spec.uri);
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new McmlError('NOT_FOUND', `model "${spec.name}": no such file ${path}`, {
        hint: 'check --model / MODEL_PATH; "npm run models" builds the sample models in models/',
      });
    }
    if (!info.isFile()) {
      throw new McmlError('INVALID_ARGUMENT', `model "${spec.name}": ${path} is not a file`);
    }
    const { sha256, from } = await modelSha256(path, info, hashOptions(options));
    checkSum(spec, sha256, path);
    return { name: spec.name, uri: spec.uri, path, sha256, cached: false, sha256From: from };
  }
  if (!REMOTE_SCHEMES.includes(scheme)) {
    throw new McmlError(
      'UNSUPPORTED',
      `model "${spec.name}": unsupported URI scheme ${scheme}// in ${spec.uri}`,
      { hint: 'use a path, file://, s3://, gs:// or az://' },
    );
  }
  if (!options.resolveStore) {
    throw new McmlError(
      'UNSUPPORTED',
      `model "${spec.name}": ${scheme}// model URIs are not supported by this build yet`,
      { hint: 'download the model with "mcml data sync" and pass a local path' },
    );
  }
  return fetchRemote(spec, options.resolveStore, options);
}

async function fetchRemote(
  spec: ModelSpec,
  resolveStore: ResolveStore,
  options: FetchOptions,
): Promise<LocalModel> {
  const cut = spec.uri.lastIndexOf('/');
  const root = spec.uri.slice(0, cut + 1);
  const key = spec.uri.slice(cut + 1);
  if (key === '') {
    throw new McmlError('USAGE', `model "${spec.name}": ${spec.uri} names a folder, not a file`);
  }
  const store = await resolveStore(root);
  const info = await store.stat(key);
  if (!info) throw new McmlError('NOT_FOUND', `model "${spec.name}": ${spec.uri} does not exist`);
  // The cache key changes whenever the object does: same URI with a new etag is a new entry.
  const entry = createHash('sha256')
    .update(`${spec.uri}\n${objectVersion(info)}`)
    .digest('hex')
    .slice(0, 32);
  const path = join(options.cacheDir, entry, key);
  const model =
    (await cachedModel(spec, info, path, options)) ??
    (await downloadModel(spec, store, info, path, options));
  await fetchExternalData({ ...spec, root }, store, path, externalOptions(options));
  return model;
}

/** The cache entry when it holds this version of the object, intact; else undefined. */
async function cachedModel(
  spec: ModelSpec,
  info: ObjectInfo,
  path: string,
  options: FetchOptions,
): Promise<LocalModel | undefined> {
  const existing = await stat(path).catch(() => undefined);
  if (!existing?.isFile() || existing.size !== info.size) return undefined;
  const { sha256, from } = await modelSha256(path, existing, hashOptions(options));
  if (spec.sha256 !== undefined && spec.sha256 !== sha256) return undefined;
  // A damaged or stale cache entry is fetched again.
  if (info.sha256 !== undefined && info.sha256 !== sha256) return undefined;
  return { name: spec.name, uri: spec.uri, path, sha256, cached: true, sha256From: from };
}

/** Downloads the object into the cache, checked against the store's and the pinned sha256. */
async function downloadModel(
  spec: ModelSpec,
  store: ObjectStore,
  info: ObjectInfo,
  path: string,
  options: FetchOptions,
): Promise<LocalModel> {
  const check = (actual: string) => {
    if (info.sha256 !== undefined && info.sha256 !== actual) {
      throw new McmlError(
        'INTEGRITY',
        `model "${spec.name}": downloaded ${spec.uri} has sha256 ${actual}, but the store says ${info.sha256}`,
      );
    }
    checkSum(spec, actual, spec.uri);
  };
  const progress = options.onDownload && { uri: spec.uri, report: options.onDownload };
  const streams = options.downloadStreams ?? 1;
  const sha256 = await downloadToFile(store, info, path, streams, check, progress);
  return { name: spec.name, uri: spec.uri, path, sha256, cached: false, sha256From: 'download' };
}
