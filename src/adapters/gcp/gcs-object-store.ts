/**
 * ObjectStore on Google Cloud Storage (@google-cloud/storage). Small objects go in one
 * multipart (simple) upload carrying their MD5, which GCS checks; large ones in a resumable
 * upload session sent in chunks (memory: one chunk), visible only when finished. A session
 * of a known source version (size + sha256) is journaled, so a rerun after a kill asks GCS
 * how many bytes it holds (a status query, answered 308 with a `Range` header) and sends only
 * the rest. GCS listings carry md5Hash, crc32c and custom metadata, so a sync needs no stat.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Bucket, CreateResumableUploadOptions, File, Storage } from '@google-cloud/storage';
import type { AbandonedWrite } from '../../ports/object-store.js';
import {
  abandonedWrite,
  continues,
  partSizeFor,
  type SourceVersion,
  type UploadJournal,
} from '../upload-journal.js';
import { McmlError } from '../../core/errors.js';
import type {
  ByteRange,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  WriteOptions,
} from '../../ports/object-store.js';
import {
  base64ToHex,
  checkExpected,
  checkKey,
  copyError,
  HashingStream,
  hashingFor,
  hexToBase64,
  readUpTo,
  SHA256_METADATA_KEY,
  statCopied,
  statusOf,
  storeError,
} from '../object-store-common.js';

export interface GcsObjectStoreOptions {
  storage: Storage;
  bucket: string;
  prefix: string;
  /** Objects up to this size use a single simple upload (default 8 MiB). */
  simpleUploadLimit?: number;
  /** Resumable chunk size (default 8 MiB; a multiple of 256 KiB, grown for huge objects). */
  chunkSize?: number;
  /** Where interrupted resumable sessions are remembered for resuming (none: no resume). */
  journal?: UploadJournal;
}

const MIB = 1024 * 1024;
/** GCS wants chunks in multiples of 256 KiB; this many chunks keeps requests per object sane. */
const MAX_CHUNKS = 10_000;
/** A journaled session nobody resumed for this long is abandoned (GCS expires them at 7 days). */

/** What GCS says about a resumable session. */
type SessionState = { state: 'open'; persisted: number } | { state: 'gone' };

/** What a resumable session is created with: the final size, the sha256, the content type. */
type SessionMetadata = NonNullable<CreateResumableUploadOptions['metadata']>;

interface GcsObjectMetadata {
  name?: string;
  size?: string | number;
  updated?: string;
  md5Hash?: string;
  crc32c?: string;
  etag?: string;
  metadata?: Record<string, string | number | boolean | null> | null;
}

export class GcsObjectStore implements ObjectStore {
  readonly scheme = 'gs' as const;
  readonly uri: string;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  private readonly simpleLimit: number;
  private readonly chunkSize: number;
  private readonly journal: UploadJournal | undefined;
  private readonly storage: Storage;

  constructor(options: GcsObjectStoreOptions) {
    this.storage = options.storage;
    this.bucket = options.storage.bucket(options.bucket);
    this.prefix = options.prefix;
    this.simpleLimit = options.simpleUploadLimit ?? 8 * MIB;
    this.chunkSize = Math.max(256 * 1024, options.chunkSize ?? 8 * MIB);
    this.journal = options.journal;
    this.uri = `gs://${options.bucket}/${options.prefix}`;
  }

  private file(key: string): File {
    return this.bucket.file(this.prefix + checkKey(key));
  }

  private info(key: string, m: GcsObjectMetadata): ObjectInfo {
    const md5 = base64ToHex(m.md5Hash);
    const sha = m.metadata?.[SHA256_METADATA_KEY];
    return {
      key,
      size: Number(m.size ?? 0),
      ...(m.updated ? { lastModified: new Date(m.updated) } : {}),
      ...(md5 ? { md5 } : {}),
      ...(m.crc32c ? { crc32c: m.crc32c } : {}),
      ...(typeof sha === 'string' ? { sha256: sha } : {}),
      ...(m.etag ? { etag: m.etag } : {}),
    };
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    let pageToken: string | undefined;
    do {
      options.signal?.throwIfAborted();
      let response;
      try {
        response = await this.bucket.getFiles({
          prefix: this.prefix + prefix,
          autoPaginate: false,
          maxResults: 1000,
          ...(pageToken ? { pageToken } : {}),
        });
      } catch (error) {
        throw storeError(error, 'listing', this.uri);
      }
      const [files, next] = response;
      const out: ObjectInfo[] = [];
      for (const f of files) {
        if (f.name.endsWith('/')) continue;
        out.push(this.info(f.name.slice(this.prefix.length), f.metadata));
      }
      yield out;
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [m] = await this.file(key).getMetadata();
      return this.info(key, m);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw storeError(error, `stat ${key}`, this.uri);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.file(key);
    // createReadStream reports a missing object only once read; stat first for a clean error.
    const info = await this.stat(key);
    if (!info) throw new McmlError('NOT_FOUND', `${this.uri}${key} does not exist`);
    if (range && range.start >= info.size) {
      const { Readable } = await import('node:stream');
      return Readable.from([]);
    }
    return file.createReadStream({
      ...(range
        ? {
            start: range.start,
            ...(range.end !== undefined ? { end: range.end } : {}),
            validation: false as const,
          }
        : {}),
    });
  }

  async write(key: string, body: Readable, options: WriteOptions = {}): Promise<ObjectInfo> {
    const file = this.file(key);
    const hashing = new HashingStream(hashingFor(options, true));
    body.on('error', (e) => hashing.destroy(e));
    body.pipe(hashing);
    let written: GcsObjectMetadata;
    let resumedBytes = 0;
    try {
      const head = await readUpTo(hashing, this.simpleLimit + 1);
      if (head.ended) {
        const d = hashing.digests();
        checkExpected(key, d, options);
        await file.save(head.buffer, {
          resumable: false,
          validation: 'md5',
          metadata: {
            md5Hash: hexToBase64(d.md5!),
            metadata: { [SHA256_METADATA_KEY]: d.sha256 },
            ...(options.contentType ? { contentType: options.contentType } : {}),
          },
        });
      } else {
        resumedBytes = await this.writeResumable(key, file, head.buffer, hashing, options);
        const d = hashing.digests();
        if (
          (options.sha256 !== undefined && options.sha256 !== d.sha256) ||
          (options.size !== undefined && options.size !== d.size)
        ) {
          await file.delete({ ignoreNotFound: true });
          checkExpected(key, d, options);
        }
        if (!options.sha256)
          await file.setMetadata({ metadata: { [SHA256_METADATA_KEY]: d.sha256 } });
      }
      [written] = (await file.getMetadata()) as [GcsObjectMetadata, unknown];
    } catch (error) {
      hashing.destroy();
      throw storeError(error, `writing ${key}`, this.uri);
    }
    const d = hashing.digests();
    // The server's MD5 covers every byte, those of an earlier run included: a splice of two
    // source versions cannot pass.
    const serverMd5 = base64ToHex(written.md5Hash);
    if (serverMd5 && serverMd5 !== d.md5) {
      await file.delete({ ignoreNotFound: true }).catch(() => undefined);
      throw new McmlError(
        'INTEGRITY',
        `${this.uri}${key}: GCS stored MD5 ${serverMd5}, sent ${d.md5}`,
      );
    }
    return {
      ...this.info(key, written),
      sha256: d.sha256,
      md5: d.md5!,
      ...(resumedBytes > 0 ? { resumedBytes } : {}),
    };
  }

  /**
   * Streams `head` + the rest of `hashing` into a resumable session in chunks, continuing a
   * journaled session of the same source version from the bytes GCS holds. Returns the bytes
   * not sent again. The session is journaled before the first chunk and forgotten when done.
   */
  private async writeResumable(
    key: string,
    file: File,
    head: Buffer,
    hashing: HashingStream,
    options: WriteOptions,
  ): Promise<number> {
    const chunkSize = partSizeFor(options.size, this.chunkSize, MAX_CHUNKS);
    const version =
      options.sha256 !== undefined && options.size !== undefined
        ? { size: options.size, sha256: options.sha256 }
        : undefined;
    const metadata: SessionMetadata = {
      ...(options.size !== undefined ? { contentLength: options.size } : {}),
      ...(options.sha256 ? { metadata: { [SHA256_METADATA_KEY]: options.sha256 } } : {}),
      ...(options.contentType ? { contentType: options.contentType } : {}),
    };
    const resumed = await this.resumable(key, version, chunkSize);
    const uri = resumed?.uri ?? (await this.startSession(key, file, metadata, version, chunkSize));
    const persisted = resumed?.persisted ?? 0;
    const source = await unsentBytes(head, hashing, persisted);
    if (persisted > 0) options.onResumed?.(persisted);
    try {
      await pipeline(
        source,
        file.createWriteStream({
          resumable: true,
          uri,
          chunkSize,
          // The SDK cannot hash bytes it skips; mcml checks the stored MD5 against its own.
          validation: false,
          metadata,
          // Always given (0 too): the SDK would otherwise ask GCS again what we just asked.
          offset: persisted,
        }),
        ...(options.signal ? [{ signal: options.signal }] : []),
      );
    } catch (error) {
      // A journaled session stays for a rerun to resume (cancelled when the source changes or
      // after a day, see abandoned()); one nobody can resume is cancelled now.
      if (!version || !this.journal) await this.cancel(uri);
      throw error;
    }
    await this.journal?.delete(this.uri, key);
    return persisted;
  }

  /** Opens a new resumable session and journals it when a rerun could resume it. */
  private async startSession(
    key: string,
    file: File,
    metadata: SessionMetadata,
    version: SourceVersion | undefined,
    chunkSize: number,
  ): Promise<string> {
    const [uri] = await file.createResumableUpload({ metadata });
    if (version && this.journal)
      await this.journal.put({
        store: this.uri,
        key,
        id: uri,
        version,
        partSize: chunkSize,
        startedAt: new Date().toISOString(),
      });
    return uri;
  }

  /**
   * The session to continue: the journaled one for this key when it belongs to the same
   * source version and chunk size and GCS still has it, with the bytes GCS holds. A journaled
   * session of another version is cancelled (restart, never splice).
   */
  private async resumable(
    key: string,
    version: SourceVersion | undefined,
    chunkSize: number,
  ): Promise<{ uri: string; persisted: number } | undefined> {
    if (!this.journal) return undefined;
    const record = await this.journal.get(this.uri, key);
    if (!record) return undefined;
    const same = continues(record, version, chunkSize);
    const status = same ? await this.sessionState(record.id, version.size) : undefined;
    if (!same || status?.state !== 'open') {
      if (!same) await this.cancel(record.id);
      await this.journal.delete(this.uri, key);
      return undefined;
    }
    return { uri: record.id, persisted: status.persisted };
  }

  /** Asks GCS how many bytes of a session it holds: PUT with `Content-Range: bytes` star/N. */
  private async sessionState(uri: string, size: number): Promise<SessionState> {
    const { status, headers } = await this.sessionRequest(uri, 'PUT', {
      'Content-Range': `bytes */${size}`,
    });
    if (status === 308) {
      const m = /bytes=0-(\d+)/.exec(headers.range ?? '');
      return { state: 'open', persisted: m ? Number(m[1]) + 1 : 0 };
    }
    if (status === 404 || status === 410 || (status >= 200 && status < 300))
      return { state: 'gone' }; // expired, cancelled, or finished by the run that was killed
    throw new McmlError('PROVIDER_UNAVAILABLE', `${this.uri}: resumable session status ${status}`, {
      details: { retryable: status >= 500 || status === 429 },
    });
  }

  /** Cancels a resumable session (GCS answers 499); nothing is billed for it afterwards. */
  private async cancel(uri: string): Promise<void> {
    await this.sessionRequest(uri, 'DELETE', {}).catch(() => undefined);
  }

  /** One authenticated request to a session URI (the SDK's auth, retries off). */
  private sessionRequest(
    uri: string,
    method: 'PUT' | 'DELETE',
    headers: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, string | undefined> }> {
    return new Promise((resolve, reject) => {
      this.storage.makeAuthenticatedRequest(
        { uri, method, headers: { 'Content-Length': '0', ...headers }, body: '' },
        (error, _body, response) => {
          const r = (response ?? (error as { response?: unknown } | null)?.response) as
            { statusCode?: number; headers?: Record<string, string | undefined> } | undefined;
          if (r?.statusCode !== undefined)
            return resolve({ status: r.statusCode, headers: r.headers ?? {} });
          const code = statusOf(error);
          if (code !== undefined) return resolve({ status: code, headers: {} });
          reject(error ?? new Error('no response'));
        },
      );
    });
  }

  /** Journaled sessions of this store older than a day: nobody resumed them. */
  async abandoned(): Promise<AbandonedWrite[]> {
    return this.journal ? (await this.journal.abandoned(this.uri)).map(abandonedWrite) : [];
  }

  /** Cancels what `abandoned()` lists. */
  async cleanAbandoned(): Promise<AbandonedWrite[]> {
    return this.journal ? this.journal.cleanAbandoned(this.uri, (r) => this.cancel(r.id)) : [];
  }

  async delete(key: string): Promise<void> {
    try {
      await this.file(key).delete({ ignoreNotFound: true });
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw storeError(error, `deleting ${key}`, this.uri);
    }
  }

  async copy(fromKey: string, toKey: string): Promise<ObjectInfo> {
    try {
      await this.file(fromKey).copy(this.file(toKey));
    } catch (error) {
      throw copyError(error, this.uri, fromKey, toKey);
    }
    return statCopied(this, fromKey, toKey);
  }

  async presign(key: string, expiresInSeconds: number): Promise<string> {
    try {
      const [url] = await this.file(key).getSignedUrl({
        version: 'v4',
        action: 'read',
        expires: Date.now() + expiresInSeconds * 1000,
      });
      return url;
    } catch (error) {
      throw storeError(error, `presigning ${key}`, this.uri);
    }
  }

  async location(): Promise<string | undefined> {
    try {
      const [m] = await this.bucket.getMetadata();
      return typeof m.location === 'string' ? m.location.toLowerCase() : undefined;
    } catch (error) {
      throw storeError(error, 'asking the bucket location', this.uri);
    }
  }
}

/**
 * `head` + the rest of `hashing` without the first `persisted` bytes. Every byte is read and
 * hashed (the end-to-end sha256 and MD5 cover the whole object); the first `persisted` are not
 * sent again.
 */
async function unsentBytes(
  head: Buffer,
  hashing: HashingStream,
  persisted: number,
): Promise<Readable> {
  const { Readable } = await import('node:stream');
  let skip = persisted;
  return Readable.from(
    (async function* () {
      yield head;
      for await (const chunk of hashing) yield chunk as Buffer;
    })(),
  ).map((chunk: Buffer) => {
    if (skip === 0) return chunk;
    const n = Math.min(skip, chunk.length);
    skip -= n;
    return chunk.subarray(n);
  });
}
