/**
 * ObjectStore on Amazon S3 (AWS SDK v3). Small objects go in one PutObject with Content-MD5
 * (S3 rejects a corrupted body); large ones in a multipart upload with parts in parallel that
 * becomes visible only on CompleteMultipartUpload. Memory per write is partSize × (queueSize
 * + 1), whatever the object size; the part size grows with the object to stay within S3's
 * 10,000 parts. An interrupted upload of a known source version is resumed by a rerun.
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
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { McmlError, isMcmlError } from '../../core/errors.js';
import { Window } from '../../core/pool.js';
import type {
  AbandonedWrite,
  ByteRange,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  WriteOptions,
} from '../../ports/object-store.js';
import {
  bufferDigests,
  checkExpected,
  checkKey,
  feed,
  HashingStream,
  hashingFor,
  hexToBase64,
  multipartEtag,
  PartBuffers,
  readInto,
  readUpTo,
  SHA256_METADATA_KEY,
  statCopied,
  statusOf,
  storeError,
  waitEnd,
} from '../object-store-common.js';
import {
  abandonedWrite,
  continues,
  partSizeFor,
  type SourceVersion,
  type UploadJournal,
} from '../upload-journal.js';
import { readListingOf } from './s3-listing.js';

export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, "" or ending with "/". */
  prefix: string;
  /** Multipart part size in bytes (default 8 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts in flight per object (default 4). */
  queueSize?: number;
  /** Where interrupted multipart uploads are remembered for resuming (none: no resume). */
  journal?: UploadJournal;
  /** Keys per listing page (default and most: 1,000). */
  listPageSize?: number;
}

const MIB = 1024 * 1024;
const MAX_SINGLE_COPY = 5 * 1024 * MIB;
/** S3's limit on parts per upload. */
const MAX_PARTS = 10_000;
/** A journaled upload nobody resumed for this long is abandoned. */

/** The parts of a multipart upload in order, each part's MD5, and the bytes S3 already held. */
interface SentParts {
  parts: { ETag: string; PartNumber: number }[];
  md5s: Buffer[];
  reused: number;
}

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
  private readonly journal: UploadJournal | undefined;
  private readonly listPageSize: number | undefined;

  constructor(options: S3ObjectStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.partSize = Math.max(options.partSize ?? 8 * MIB, 5 * MIB);
    this.queueSize = options.queueSize ?? 4;
    this.journal = options.journal;
    this.listPageSize = options.listPageSize;
    this.uri = `s3://${this.bucket}/${this.prefix}`;
  }

  private full(key: string): string {
    return this.prefix + checkKey(key);
  }

  /** Pages of up to 1,000 keys, read by the lean reader (s3-listing.ts). */
  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    let token: string | undefined;
    do {
      const command = new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.prefix + prefix,
        ...(this.listPageSize ? { MaxKeys: this.listPageSize } : {}),
        ...(token ? { ContinuationToken: token } : {}),
      });
      const lean = readListingOf(command);
      let sdk;
      try {
        sdk = await this.client.send(
          command,
          options.signal ? { abortSignal: options.signal } : {},
        );
      } catch (error) {
        throw storeError(error, 'listing', this.uri);
      }
      const page = lean() ?? {
        objects: (sdk.Contents ?? []).map((o) => ({
          key: o.Key ?? '',
          size: o.Size ?? 0,
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
          ...(o.ETag ? { etag: o.ETag } : {}),
        })),
        nextToken: sdk.IsTruncated ? sdk.NextContinuationToken : undefined,
      };
      const out: ObjectInfo[] = [];
      for (const o of page.objects) {
        if (!o.key || o.key.endsWith('/')) continue;
        const md5 = md5FromEtag(o.etag);
        const etag = unquote(o.etag);
        out.push({
          key: o.key.slice(this.prefix.length),
          size: o.size,
          ...(o.lastModified ? { lastModified: o.lastModified } : {}),
          ...(md5 ? { md5 } : {}),
          ...(etag ? { etag } : {}),
        });
      }
      yield out;
      token = page.nextToken;
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
    const partSize = partSizeFor(options.size, this.partSize, MAX_PARTS);
    // Read the first part: if the body ends within it, one verified PutObject does it all.
    const head = await readUpTo(body, partSize + 1);
    if (head.ended) return this.putSingle(key, fullKey, head.buffer, options);
    return this.putMultipart(key, fullKey, head.buffer, body, partSize, options);
  }

  private async putSingle(
    key: string,
    fullKey: string,
    buffer: Buffer,
    options: WriteOptions,
  ): Promise<ObjectInfo> {
    const d = bufferDigests(buffer, options);
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

  /**
   * The upload to continue: the journaled one for this key when it belongs to the same source
   * version (size + sha256) and part size and S3 still has it, with the parts S3 holds. A
   * journaled upload for another version is aborted (restart, never splice).
   */
  private async resumable(
    key: string,
    fullKey: string,
    version: SourceVersion | undefined,
    partSize: number,
  ): Promise<{ uploadId: string; parts: Map<number, { etag: string; size: number }> } | undefined> {
    if (!this.journal) return undefined;
    const record = await this.journal.get(this.uri, key);
    if (!record) return undefined;
    const same = continues(record, version, partSize);
    if (!same) {
      await this.abort(fullKey, record.id);
      await this.journal.delete(this.uri, key);
      return undefined;
    }
    const parts = new Map<number, { etag: string; size: number }>();
    try {
      let marker: string | undefined;
      do {
        const r = await this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: fullKey,
            UploadId: record.id,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
        );
        for (const p of r.Parts ?? [])
          if (p.PartNumber && p.ETag)
            parts.set(p.PartNumber, { etag: unquote(p.ETag)!, size: p.Size ?? 0 });
        marker = r.IsTruncated ? r.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (error) {
      if (statusOf(error) === 404) {
        await this.journal.delete(this.uri, key);
        return undefined; // completed or aborted meanwhile
      }
      throw storeError(error, `listing the stored parts of ${key}`, this.uri);
    }
    return { uploadId: record.id, parts };
  }

  private async abort(fullKey: string, uploadId: string): Promise<void> {
    await this.client
      .send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }),
      )
      .catch(() => undefined);
  }

  /**
   * Multipart upload with `queueSize` parts in flight (memory: partSize × (queueSize + 1)).
   * Each part carries its Content-MD5. When the source version is known the upload is
   * journaled, so a rerun after a kill sends only the parts S3 does not hold: a stored part is
   * reused only when its MD5 equals the MD5 of the bytes read for it now.
   */
  private async putMultipart(
    key: string,
    fullKey: string,
    head: Buffer,
    rest: Readable,
    partSize: number,
    options: WriteOptions,
  ): Promise<ObjectInfo> {
    const version =
      options.sha256 !== undefined && options.size !== undefined
        ? { size: options.size, sha256: options.sha256 }
        : undefined;
    const upload = await this.startUpload(key, fullKey, version, partSize, options);
    // One pass over the bytes: the sha256 comes from the caller when it hashes them (the sync
    // engine), each part's MD5 (its Content-MD5, which S3 checks, and the expected ETag) is
    // computed once, here. A multipart object has no whole-object MD5 on S3, so none is made.
    const hashing = new HashingStream(hashingFor(options));
    const window = new Window(this.queueSize);
    try {
      rest.unshift(head);
      feed(rest, hashing);
      const sent = await this.uploadParts(fullKey, upload, hashing, partSize, window, options);
      await waitEnd(hashing);
      const d = hashing.digests();
      if (
        (options.sha256 !== undefined && options.sha256 !== d.sha256) ||
        (options.size !== undefined && options.size !== d.size)
      ) {
        await this.abort(fullKey, upload.uploadId);
        await this.journal?.delete(this.uri, key);
        checkExpected(key, d, options);
      }
      let etag = await this.completeUpload(key, fullKey, upload.uploadId, sent);
      if (!options.sha256 && d.size <= MAX_SINGLE_COPY)
        etag = (await this.recordSha256(fullKey, d.sha256, options)) ?? etag;
      return {
        key,
        size: d.size,
        sha256: d.sha256,
        ...(etag ? { etag } : {}),
        ...(sent.reused > 0 ? { resumedBytes: sent.reused } : {}),
      };
    } catch (error) {
      await window.settle();
      hashing.destroy();
      // A journaled upload stays for a rerun to resume (it is aborted when the source changes
      // or after a day, see abandoned()); one nobody can resume is aborted now.
      if (!version || !this.journal || isMcmlError(error)) {
        await this.abort(fullKey, upload.uploadId);
        await this.journal?.delete(this.uri, key);
      }
      throw storeError(error, `writing ${key}`, this.uri);
    }
  }

  /** The upload to write into: the resumable one with the parts S3 holds, or a new one. */
  private async startUpload(
    key: string,
    fullKey: string,
    version: SourceVersion | undefined,
    partSize: number,
    options: WriteOptions,
  ): Promise<{ uploadId: string; stored: Map<number, { etag: string; size: number }> }> {
    const resumed = await this.resumable(key, fullKey, version, partSize);
    if (resumed) return { uploadId: resumed.uploadId, stored: resumed.parts };
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: fullKey,
          ...(options.sha256 ? { Metadata: { [SHA256_METADATA_KEY]: options.sha256 } } : {}),
          ...(options.contentType ? { ContentType: options.contentType } : {}),
        }),
      );
      const uploadId = created.UploadId!;
      if (version && this.journal)
        await this.journal.put({
          store: this.uri,
          key,
          id: uploadId,
          version,
          partSize,
          startedAt: new Date().toISOString(),
        });
      return { uploadId, stored: new Map() };
    } catch (error) {
      throw storeError(error, `writing ${key}`, this.uri);
    }
  }

  /**
   * Reads the body part by part into reused buffers and sends each part S3 does not already
   * hold, `queueSize` at a time (in `window`, so a failure elsewhere can wait for them).
   * Returns the parts in order and each part's MD5.
   */
  private async uploadParts(
    fullKey: string,
    upload: { uploadId: string; stored: Map<number, { etag: string; size: number }> },
    body: Readable,
    partSize: number,
    window: Window,
    options: WriteOptions,
  ): Promise<SentParts> {
    const buffers = new PartBuffers(partSize, this.queueSize + 1);
    const sent: SentParts = { parts: [], md5s: [], reused: 0 };
    for (let n = 1; ; n++) {
      options.signal?.throwIfAborted();
      const target = await buffers.take();
      const { length, ended } = await readInto(body, target);
      if (length === 0 && n > 1) {
        buffers.give(target);
        break;
      }
      const buffer = target.subarray(0, length);
      const md5Bytes = createHash('md5').update(buffer).digest();
      const md5 = md5Bytes.toString('hex');
      sent.md5s.push(md5Bytes);
      const have = upload.stored.get(n);
      if (have && have.etag === md5 && have.size === buffer.length) {
        sent.parts.push({ ETag: `"${md5}"`, PartNumber: n });
        sent.reused += buffer.length;
        options.onResumed?.(buffer.length);
        buffers.give(target);
      } else {
        const part = { ETag: '', PartNumber: n };
        sent.parts.push(part);
        const p = this.client
          .send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: fullKey,
              UploadId: upload.uploadId,
              PartNumber: n,
              Body: buffer,
              ContentLength: buffer.length,
              ContentMD5: md5Bytes.toString('base64'),
            }),
            options.signal ? { abortSignal: options.signal } : {},
          )
          .then((r) => {
            part.ETag = r.ETag ?? `"${md5}"`;
          })
          .finally(() => buffers.give(target));
        await window.add(p);
      }
      window.check();
      if (ended) break;
    }
    await window.drain();
    return sent;
  }

  /**
   * CompleteMultipartUpload, then the check that S3 assembled the parts sent: its ETag must
   * be the MD5 of the parts' MD5s. Returns the ETag.
   */
  private async completeUpload(
    key: string,
    fullKey: string,
    uploadId: string,
    sent: SentParts,
  ): Promise<string | undefined> {
    const done = await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: fullKey,
        UploadId: uploadId,
        MultipartUpload: { Parts: sent.parts },
      }),
    );
    await this.journal?.delete(this.uri, key);
    const etag = unquote(done.ETag);
    const expectedEtag = multipartEtag(sent.md5s);
    if (etag !== undefined && etag.includes('-') && etag !== expectedEtag) {
      await this.delete(key).catch(() => undefined);
      throw new McmlError(
        'INTEGRITY',
        `${this.uri}${key}: the uploaded object does not match the bytes sent (ETag ${etag}, expected ${expectedEtag})`,
      );
    }
    return etag;
  }

  /**
   * The hash was unknown when the upload started: record it with a metadata-only copy.
   * Returns the copy's ETag.
   */
  private async recordSha256(
    fullKey: string,
    sha256: string,
    options: WriteOptions,
  ): Promise<string | undefined> {
    const c = await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: fullKey,
        CopySource: copySource(this.bucket, fullKey),
        MetadataDirective: 'REPLACE',
        Metadata: { [SHA256_METADATA_KEY]: sha256 },
        ...(options.contentType ? { ContentType: options.contentType } : {}),
      }),
    );
    return unquote(c.CopyObjectResult?.ETag);
  }

  /** Journaled uploads of this store older than a day: nobody resumed them. */
  async abandoned(): Promise<AbandonedWrite[]> {
    return this.journal ? (await this.journal.abandoned(this.uri)).map(abandonedWrite) : [];
  }

  /** Aborts what `abandoned()` lists (S3 bills stored parts until then). */
  async cleanAbandoned(): Promise<AbandonedWrite[]> {
    return this.journal
      ? this.journal.cleanAbandoned(this.uri, (r) => this.abort(this.full(r.key), r.id))
      : [];
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

/**
 * Over TLS, object bytes are not hashed a second time for the request signature: PutObject
 * and UploadPart carry Content-MD5 (S3 checks it) and TLS authenticates the body, so they sign
 * `UNSIGNED-PAYLOAD` (as S3 allows) instead of a sha256 of every byte; mcml's own sha256 is
 * computed once, upstream. Plain-HTTP endpoints (emulators) keep the signed payload, the
 * only thing that authenticates a body there.
 */
export function unsignedPayloadOverTls(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as { protocol?: string; headers?: Record<string, string> };
      if (
        request.protocol === 'https:' &&
        request.headers &&
        (context.commandName === 'UploadPartCommand' || context.commandName === 'PutObjectCommand')
      )
        request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'mcmlUnsignedPayloadOverTls' },
  );
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
