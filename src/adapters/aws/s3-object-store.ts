/**
 * ObjectStore on Amazon S3 (AWS SDK v3). Small objects go in one PutObject with Content-MD5
 * (S3 rejects a corrupted body); large ones in a multipart upload (lib-storage) that becomes
 * visible only on CompleteMultipartUpload and is aborted on failure. Memory per write is
 * partSize × (queueSize + 1), whatever the object size.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { McmlError } from '../../core/errors.js';
import type {
  ByteRange,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  WriteOptions,
} from '../../ports/object-store.js';
import {
  checkExpected,
  checkKey,
  HashingStream,
  hexToBase64,
  multipartEtag,
  readUpTo,
  SHA256_METADATA_KEY,
  statCopied,
  statusOf,
  storeError,
} from '../object-store-common.js';

export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, "" or ending with "/". */
  prefix: string;
  /** Multipart part size in bytes (default 8 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts in flight per object (default 2). */
  queueSize?: number;
}

const MIB = 1024 * 1024;
const MAX_SINGLE_COPY = 5 * 1024 * MIB;

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^"|"$/g, '');
}

/** MD5 from an ETag when it is one (single-part, not SSE-KMS: 32 hex digits). */
function md5FromEtag(etag: string | undefined): string | undefined {
  const e = unquote(etag);
  return e && /^[0-9a-f]{32}$/.test(e) ? e : undefined;
}

export class S3ObjectStore implements ObjectStore {
  readonly scheme = 's3' as const;
  readonly uri: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.partSize = Math.max(options.partSize ?? 8 * MIB, 5 * MIB);
    this.queueSize = options.queueSize ?? 2;
    this.uri = `s3://${this.bucket}/${this.prefix}`;
  }

  private full(key: string): string {
    return this.prefix + checkKey(key);
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
          options.signal ? { abortSignal: options.signal } : {},
        );
      } catch (error) {
        throw storeError(error, 'listing', this.uri);
      }
      const out: ObjectInfo[] = [];
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        const md5 = md5FromEtag(o.ETag);
        const etag = unquote(o.ETag);
        out.push({
          key: o.Key.slice(this.prefix.length),
          size: o.Size ?? 0,
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
          ...(md5 ? { md5 } : {}),
          ...(etag ? { etag } : {}),
        });
      }
      yield out;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const h = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }),
      );
      const sha256 = h.Metadata?.[SHA256_METADATA_KEY];
      const md5 = md5FromEtag(h.ETag) ?? h.Metadata?.md5;
      const etag = unquote(h.ETag);
      return {
        key,
        size: h.ContentLength ?? 0,
        ...(h.LastModified ? { lastModified: h.LastModified } : {}),
        ...(sha256 ? { sha256 } : {}),
        ...(md5 ? { md5 } : {}),
        ...(etag ? { etag } : {}),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw storeError(error, `stat ${key}`, this.uri);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      );
      return r.Body as Readable;
    } catch (error) {
      if (statusOf(error) === 404 || (error as Error).name === 'NoSuchKey')
        throw new McmlError('NOT_FOUND', `${this.uri}${key} does not exist`);
      if (statusOf(error) === 416) return Readable.from([]);
      throw storeError(error, `reading ${key}`, this.uri);
    }
  }

  async write(key: string, body: Readable, options: WriteOptions = {}): Promise<ObjectInfo> {
    const fullKey = this.full(key);
    // Read the first part: if the body ends within it, one verified PutObject does it all.
    const head = await readUpTo(body, this.partSize + 1);
    if (head.ended) return this.putSingle(key, fullKey, head.buffer, options);
    return this.putMultipart(key, fullKey, head.buffer, body, options);
  }

  private async putSingle(
    key: string,
    fullKey: string,
    buffer: Buffer,
    options: WriteOptions,
  ): Promise<ObjectInfo> {
    const hashing = new HashingStream();
    hashing.end(buffer);
    hashing.resume();
    await new Promise((r) => hashing.once('end', r));
    const d = hashing.digests();
    checkExpected(key, d, options);
    try {
      const r = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          Body: buffer,
          ContentLength: buffer.length,
          ContentMD5: hexToBase64(d.md5),
          Metadata: { [SHA256_METADATA_KEY]: d.sha256 },
          ...(options.contentType ? { ContentType: options.contentType } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const etag = unquote(r.ETag);
      if (etag && md5FromEtag(etag) && etag !== d.md5) {
        await this.delete(key).catch(() => undefined);
        throw new McmlError('INTEGRITY', `${this.uri}${key}: S3 stored MD5 ${etag}, sent ${d.md5}`);
      }
      return { key, size: d.size, sha256: d.sha256, md5: d.md5, ...(etag ? { etag } : {}) };
    } catch (error) {
      throw storeError(error, `writing ${key}`, this.uri);
    }
  }

  private async putMultipart(
    key: string,
    fullKey: string,
    head: Buffer,
    rest: Readable,
    options: WriteOptions,
  ): Promise<ObjectInfo> {
    const hashing = new HashingStream(this.partSize);
    const source = Readable.from(
      (async function* () {
        yield head;
        for await (const chunk of rest) yield chunk as Buffer;
      })(),
    );
    source.on('error', (e) => hashing.destroy(e));
    source.pipe(hashing);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: fullKey,
        Body: hashing,
        ...(options.sha256 ? { Metadata: { [SHA256_METADATA_KEY]: options.sha256 } } : {}),
        ...(options.contentType ? { ContentType: options.contentType } : {}),
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let etag: string | undefined;
    try {
      const r = await upload.done();
      etag = unquote(r.ETag);
    } catch (error) {
      throw storeError(error, `writing ${key}`, this.uri);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    const d = hashing.digests();
    const expectedEtag = multipartEtag(d.partMd5s);
    const bad =
      (etag !== undefined && etag.includes('-') && etag !== expectedEtag) ||
      (options.sha256 !== undefined && options.sha256 !== d.sha256) ||
      (options.size !== undefined && options.size !== d.size);
    if (bad) {
      await this.delete(key).catch(() => undefined);
      throw new McmlError(
        'INTEGRITY',
        `${this.uri}${key}: the uploaded object does not match the bytes sent (ETag ${etag}, expected ${expectedEtag})`,
      );
    }
    if (!options.sha256 && d.size <= MAX_SINGLE_COPY) {
      // The hash was unknown when the upload started: record it with a metadata-only copy.
      try {
        const c = await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: fullKey,
            CopySource: copySource(this.bucket, fullKey),
            MetadataDirective: 'REPLACE',
            Metadata: { [SHA256_METADATA_KEY]: d.sha256 },
            ...(options.contentType ? { ContentType: options.contentType } : {}),
          }),
        );
        etag = unquote(c.CopyObjectResult?.ETag) ?? etag;
      } catch (error) {
        throw storeError(error, `recording the hash of ${key}`, this.uri);
      }
    }
    return { key, size: d.size, sha256: d.sha256, md5: d.md5, ...(etag ? { etag } : {}) };
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw storeError(error, `deleting ${key}`, this.uri);
    }
  }

  async copy(fromKey: string, toKey: string): Promise<ObjectInfo> {
    const from = this.full(fromKey);
    const to = this.full(toKey);
    const info = await this.stat(fromKey);
    if (!info) throw new McmlError('NOT_FOUND', `${this.uri}${fromKey} does not exist`);
    try {
      if (info.size <= MAX_SINGLE_COPY) {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: to,
            CopySource: copySource(this.bucket, from),
            MetadataDirective: 'COPY',
          }),
        );
      } else {
        await this.multipartCopy(from, to, info);
      }
    } catch (error) {
      throw storeError(error, `copying ${fromKey} to ${toKey}`, this.uri);
    }
    return statCopied(this, fromKey, toKey);
  }

  private async multipartCopy(from: string, to: string, info: ObjectInfo): Promise<void> {
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: to,
        ...(info.sha256 ? { Metadata: { [SHA256_METADATA_KEY]: info.sha256 } } : {}),
      }),
    );
    const uploadId = created.UploadId!;
    const part = 512 * MIB;
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < info.size; start += part, n++) {
        const end = Math.min(start + part, info.size) - 1;
        const r = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: to,
            UploadId: uploadId,
            PartNumber: n,
            CopySource: copySource(this.bucket, from),
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ ETag: r.CopyPartResult?.ETag ?? '', PartNumber: n });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: to,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  async presign(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }),
      { expiresIn: expiresInSeconds },
    );
  }

  async location(): Promise<string | undefined> {
    try {
      const r = await this.client.send(new GetBucketLocationCommand({ Bucket: this.bucket }));
      const c = r.LocationConstraint as string | undefined;
      // An empty constraint means us-east-1; "EU" is the legacy name of eu-west-1.
      if (!c) return 'us-east-1';
      return c === 'EU' ? 'eu-west-1' : c;
    } catch (error) {
      throw storeError(error, 'asking the bucket location', this.uri);
    }
  }
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
