/**
 * Deterministic names for what render creates: clusters, buckets, identities, Terraform
 * identifiers. Same spec and plan → same names, within each cloud's length and charset limits.
 */
import { McmlError } from '../errors.js';
import type { Cloud, Placement } from '../plan/types.js';

/** 32-bit FNV-1a as 6 hex digits: a short, stable suffix for names that must be truncated. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0').slice(0, 6);
}

/** `base` if it fits in `max` characters, else a prefix plus a hash of the whole. */
export function fit(base: string, max: number): string {
  if (base.length <= max) return base;
  const hash = shortHash(base);
  return `${base.slice(0, max - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

/** Terraform identifier for a target: `aws-primary` → `aws_primary`. */
export function tfId(target: string): string {
  return target.replace(/-/g, '_');
}

/** Cluster name: `<service>-<target>`, at most 40 characters (GKE's limit, the tightest). */
export function clusterName(service: string, target: string): string {
  return fit(`${service}-${target}`, 40);
}

/** Kubernetes namespace and service account of the service: its name. */
export function namespaceName(service: string): string {
  return service;
}

/** The bucket a target reads its model from. */
export interface BucketRef {
  cloud: Cloud | 'local';
  /** S3/GCS bucket name, Azure storage account name, or the directory for file://. */
  bucket: string;
  /** Azure only: the blob container. */
  container?: string;
  /** Key prefix inside the bucket, "" or ending in "/". */
  prefix: string;
  /** The bucket URI as mcml writes it: s3://b/p/, gs://b/p/, az://account/container/p/. */
  uri: string;
  /** True when the spec named it; false when render chose the name. */
  given: boolean;
}

function normalisePrefix(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** Parses a bucket URI (s3://, gs://, az://, https://account.blob.core.windows.net/, file://). */
export function parseBucketUri(uri: string): BucketRef {
  const blob = /^https:\/\/([a-z0-9]{3,24})\.blob\.core\.windows\.net\/([^/]+)\/?(.*)$/.exec(uri);
  if (blob) {
    const [, account, container, rest] = blob as unknown as [string, string, string, string];
    return azureRef(account, container, rest, true);
  }
  const m = /^(s3|gs|az|file):\/\/(.*)$/.exec(uri);
  if (!m) {
    throw new McmlError('INVALID_ARGUMENT', `bucket "${uri}" is not a bucket URI`, {
      hint: 'use s3://bucket/prefix, gs://bucket/prefix, az://account/container/prefix or file:///dir',
    });
  }
  const [, scheme, rest] = m as unknown as [string, string, string];
  if (scheme === 'file') {
    return { cloud: 'local', bucket: `/${rest.replace(/^\/+/, '')}`, prefix: '', uri, given: true };
  }
  const [first = '', ...more] = rest.split('/');
  if (scheme === 'az') {
    const [container = '', ...keys] = more;
    if (first === '' || container === '') {
      throw new McmlError('INVALID_ARGUMENT', `bucket "${uri}" needs az://account/container`);
    }
    return azureRef(first, container, keys.join('/'), true);
  }
  if (first === '') throw new McmlError('INVALID_ARGUMENT', `bucket "${uri}" has no bucket name`);
  const prefix = normalisePrefix(more.join('/'));
  const cloud = scheme === 's3' ? 'aws' : 'gcp';
  return { cloud, bucket: first, prefix, uri: `${scheme}://${first}/${prefix}`, given: true };
}

function azureRef(account: string, container: string, rest: string, given: boolean): BucketRef {
  const prefix = normalisePrefix(rest);
  return {
    cloud: 'azure',
    bucket: account,
    container,
    prefix,
    uri: `az://${account}/${container}/${prefix}`,
    given,
  };
}

/** The target's bucket: the one the plan names, or `<service>-<target>` in its cloud. */
export function targetBucket(service: string, placement: Placement): BucketRef {
  if (placement.bucket !== undefined) return parseBucketUri(placement.bucket);
  if (placement.provider === 'local') {
    return { cloud: 'local', bucket: '', prefix: '', uri: '', given: false };
  }
  if (placement.cloud === 'azure') {
    // Storage account names: 3-24 lower-case letters and digits, globally unique.
    const account = fit(`mcml${service}${placement.target}`.replace(/[^a-z0-9]/g, ''), 24).replace(
      /-/g,
      '',
    );
    return { ...azureRef(account, 'mcml', '', false), given: false };
  }
  const name = fit(`mcml-${service}-${placement.target}`, 63);
  const scheme = placement.cloud === 'aws' ? 's3' : 'gs';
  return {
    cloud: placement.cloud,
    bucket: name,
    prefix: '',
    uri: `${scheme}://${name}/`,
    given: false,
  };
}

/** Basename of a model URI or path: `s3://b/models/iris.onnx` → `iris.onnx`. */
export function modelFileName(uri: string): string {
  const path = uri.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === '' ? 'model.onnx' : base;
}

/**
 * Where a target's pods load the model from: the spec's model URI when it already lives in the
 * target's bucket, else `<bucket>/models/<file>` (where `mcml data sync` puts it).
 */
export function modelPath(modelUri: string, bucket: BucketRef): string {
  if (bucket.uri === '') return modelUri;
  if (modelUri.startsWith(bucket.uri)) return modelUri;
  return `${bucket.uri}models/${modelFileName(modelUri)}`;
}
