/**
 * Storage URIs: where an object store is rooted. Pure parsing, no I/O.
 *
 *   s3://bucket/prefix            gs://bucket/prefix
 *   az://account/container/prefix https://account.blob.core.windows.net/container/prefix
 *   file:///abs/path              ./relative/or/absolute/path
 */
import { McmlError } from './errors.js';

export type StorageScheme = 'file' | 's3' | 'gs' | 'az';

export interface FileLocation {
  scheme: 'file';
  /** Absolute path when the input was absolute or a baseDir was given; otherwise as given. */
  path: string;
}
export interface BucketLocation {
  scheme: 's3' | 'gs';
  bucket: string;
  /** Key prefix, "" or ending with "/". */
  prefix: string;
}
export interface AzureLocation {
  scheme: 'az';
  account: string;
  container: string;
  prefix: string;
  /** Blob service URL when the input was an https:// URL (keeps custom hosts). */
  serviceUrl?: string;
}
export type StorageLocation = FileLocation | BucketLocation | AzureLocation;

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const GCS_BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const AZ_ACCOUNT = /^[a-z0-9]{3,24}$/;
const AZ_CONTAINER = /^(?:\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;

function bad(uri: string, why: string, hint?: string): McmlError {
  return new McmlError('INVALID_ARGUMENT', `invalid storage URI "${redactUri(uri)}": ${why}`, {
    hint:
      hint ??
      'use s3://bucket/prefix, gs://bucket/prefix, az://account/container/prefix, file:///path or a path',
  });
}

/** Normalises a key prefix: no leading "/", a trailing "/" unless empty, no "." or ".." parts. */
export function normalisePrefix(prefix: string, uri = prefix): string {
  const why = prefixProblem(prefix);
  if (why) throw bad(uri, why);
  const parts = prefix.split('/').filter((p) => p !== '');
  return parts.length === 0 ? '' : parts.join('/') + '/';
}

/**
 * Why a key prefix could leave the location it is joined to ("." and ".." segments) or is no
 * valid name (NUL), or undefined when it is fine.
 */
export function prefixProblem(prefix: string): string | undefined {
  if (prefix.split('/').some((p) => p === '.' || p === '..'))
    return 'the prefix contains "." or ".." segments';
  if (prefix.includes('\0')) return 'the prefix contains a NUL character';
  return undefined;
}

/**
 * A location below `loc`: its prefix (or directory) extended by `prefix`. Throws
 * INVALID_ARGUMENT when the prefix could lead outside `loc`; the result is checked to lie
 * inside `loc` after a round trip through its URI, so no encoding can smuggle a ".." in.
 */
export function joinPrefix(loc: StorageLocation, prefix: string): StorageLocation {
  const why = prefixProblem(prefix);
  if (why)
    throw new McmlError(
      'INVALID_ARGUMENT',
      `prefix "${prefix}" would leave ${formatStorageUri(loc)}: ${why}`,
      {
        hint: 'use a relative prefix such as data/name/ (no "." or ".." segments)',
      },
    );
  const rel = normalisePrefix(prefix);
  const joined: StorageLocation =
    loc.scheme === 'file'
      ? {
          scheme: 'file',
          path: rel === '' ? loc.path : `${loc.path.replace(/\/+$/, '')}/${rel.slice(0, -1)}`,
        }
      : { ...loc, prefix: loc.prefix + rel };
  const again = parseStorageUri(formatStorageUri(joined));
  if (!isInside(again, loc))
    throw new McmlError(
      'INVALID_ARGUMENT',
      `prefix "${prefix}" would leave ${formatStorageUri(loc)}`,
      {
        hint: 'use a relative prefix such as data/name/ (no "." or ".." segments)',
      },
    );
  return again;
}

/** Removes query strings (SAS tokens, signatures) and user info from a URI for messages. */
export function redactUri(uri: string): string {
  return uri.replace(/\?.*$/s, '?<redacted>').replace(/\/\/[^/@]*@/, '//<redacted>@');
}

function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p);
}

/** Joins a relative path onto a base directory (POSIX-style; pure). */
export function resolvePath(baseDir: string, path: string): string {
  if (isAbsolutePath(path)) return normalisePath(path);
  return normalisePath(`${baseDir.replace(/\/+$/, '')}/${path}`);
}

function normalisePath(p: string): string {
  const absolute = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return absolute ? `/${joined}` : joined === '' ? '.' : joined;
}

/**
 * Parses a storage URI. Relative paths resolve against `baseDir` when given (e.g. the spec
 * file's directory). Throws INVALID_ARGUMENT (exit 2) with a hint for anything malformed.
 */
export function parseStorageUri(uri: string, options: { baseDir?: string } = {}): StorageLocation {
  const input = uri.trim();
  if (input === '') throw bad(uri, 'it is empty');
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(input);
  const scheme = schemeMatch?.[1]?.toLowerCase();
  // "C:\..." is a Windows path, not a scheme.
  if (scheme === undefined || /^[A-Za-z]:[\\/]/.test(input)) {
    const path = options.baseDir !== undefined ? resolvePath(options.baseDir, input) : input;
    return { scheme: 'file', path };
  }
  switch (scheme) {
    case 'file':
      return parseFileUri(uri, input, options.baseDir);
    case 's3':
    case 'gs':
      return parseBucketUri(uri, input, scheme);
    case 'az':
      return parseAzUri(uri, input);
    case 'https':
    case 'http':
      return parseBlobUrl(uri, input);
    default:
      throw bad(
        uri,
        `unknown scheme "${scheme}:"`,
        'supported: s3://, gs://, az://, https://ACCOUNT.blob.core.windows.net/, file:// and paths',
      );
  }
}

/** file:///abs/path (also file://localhost/…); file://relative only with a baseDir. */
function parseFileUri(uri: string, input: string, baseDir: string | undefined): FileLocation {
  if (!input.startsWith('file://')) throw bad(uri, 'file URIs look like file:///abs/path');
  let rest = input.slice('file://'.length);
  if (rest.startsWith('localhost/')) rest = rest.slice('localhost'.length);
  if (!rest.startsWith('/')) {
    // file://relative/dir is a common slip; accept it as relative to baseDir.
    if (baseDir === undefined) throw bad(uri, 'file URIs need an absolute path');
    return { scheme: 'file', path: resolvePath(baseDir, decode(uri, rest)) };
  }
  return { scheme: 'file', path: normalisePath(decode(uri, rest)) };
}

/** s3://bucket/prefix or gs://bucket/prefix, with the cloud's bucket naming rules. */
function parseBucketUri(uri: string, input: string, scheme: 's3' | 'gs'): BucketLocation {
  const m = /^[a-z0-9]+:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(input);
  if (!m) throw bad(uri, `expected ${scheme}://bucket/prefix`);
  const bucket = m[1] ?? '';
  if (bucket === '') throw bad(uri, 'the bucket name is missing');
  const valid = scheme === 's3' ? S3_BUCKET : GCS_BUCKET;
  if (!valid.test(bucket) || bucket.includes('..'))
    throw bad(
      uri,
      `"${bucket}" is not a valid bucket name`,
      'bucket names are 3–63 lower-case letters, digits, "-" and "."',
    );
  return { scheme, bucket, prefix: normalisePrefix(decode(uri, m[2] ?? ''), uri) };
}

/** az://account/container/prefix. */
function parseAzUri(uri: string, input: string): AzureLocation {
  const m = /^az:\/\/([^/?#]*)\/?([^/?#]*)(\/[^?#]*)?$/i.exec(input);
  if (!m) throw bad(uri, 'expected az://account/container/prefix');
  const account = m[1] ?? '';
  const container = m[2] ?? '';
  if (account === '') throw bad(uri, 'the storage account is missing');
  if (container === '') throw bad(uri, 'the container is missing');
  if (!AZ_ACCOUNT.test(account)) throw bad(uri, `"${account}" is not a valid storage account name`);
  if (!AZ_CONTAINER.test(container)) throw bad(uri, `"${container}" is not a valid container name`);
  return {
    scheme: 'az',
    account,
    container,
    prefix: normalisePrefix(decode(uri, m[3] ?? ''), uri),
  };
}

/** https://ACCOUNT.blob.core.windows.net/container/prefix: the only http(s) storage URLs. */
function parseBlobUrl(uri: string, input: string): AzureLocation {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw bad(uri, 'it is not a valid URL');
  }
  const host = /^([a-z0-9]{3,24})\.blob\.core\.windows\.net$/.exec(url.hostname);
  if (!host)
    throw bad(
      uri,
      'only Azure Blob URLs (https://ACCOUNT.blob.core.windows.net/container/prefix) are storage URLs',
    );
  const [, container = '', ...rest] = url.pathname.split('/');
  if (container === '') throw bad(uri, 'the container is missing');
  if (!AZ_CONTAINER.test(container)) throw bad(uri, `"${container}" is not a valid container name`);
  return {
    scheme: 'az',
    account: host[1] ?? '',
    container,
    prefix: normalisePrefix(decode(uri, rest.join('/')), uri),
    serviceUrl: `${url.protocol}//${url.host}`,
  };
}

/** Escapes what `parseStorageUri` decodes or cuts at ("%", "?", "#"), so URIs round-trip. */
function escapePath(p: string): string {
  return p.replace(/[%?#]/g, (c) => encodeURIComponent(c));
}

/** Decodes %-escapes; a malformed escape is an input error, not a crash. */
function decode(uri: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw bad(uri, 'it has a malformed %-escape', 'write "%" as %25');
  }
}

/** The canonical URI of a location, e.g. "s3://bucket/prefix/". Parses back to `loc`. */
export function formatStorageUri(loc: StorageLocation): string {
  switch (loc.scheme) {
    case 'file':
      return `file://${loc.path.startsWith('/') ? '' : '/'}${escapePath(loc.path)}`;
    case 's3':
    case 'gs':
      return `${loc.scheme}://${loc.bucket}/${escapePath(loc.prefix)}`;
    case 'az':
      return `az://${loc.account}/${loc.container}/${escapePath(loc.prefix)}`;
  }
}

/**
 * True when `inner` lies inside `outer` (same bucket/container/directory and a prefix below
 * it), e.g. syncing s3://b/data/ into s3://b/data/copy/ would copy its own output.
 */
export function isInside(inner: StorageLocation, outer: StorageLocation): boolean {
  if (inner.scheme !== outer.scheme) return false;
  if (inner.scheme === 'file' && outer.scheme === 'file') {
    const a = inner.path.replace(/\/*$/, '/');
    const b = outer.path.replace(/\/*$/, '/');
    return a.startsWith(b);
  }
  if ((inner.scheme === 's3' || inner.scheme === 'gs') && inner.scheme === outer.scheme) {
    const o = outer;
    return inner.bucket === o.bucket && inner.prefix.startsWith(o.prefix);
  }
  if (inner.scheme === 'az' && outer.scheme === 'az') {
    return (
      inner.account === outer.account &&
      inner.container === outer.container &&
      inner.prefix.startsWith(outer.prefix)
    );
  }
  return false;
}
