/**
 * ObjectStore on Google Cloud Storage (@google-cloud/storage). Small objects go in one
 * multipart (simple) upload carrying their MD5, which GCS checks; large ones in a resumable
 * upload that streams (memory bounded by stream buffers) and becomes visible only when
 * finished. GCS listings carry md5Hash, crc32c and custom metadata, so a sync needs no stat.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Bucket, File, Storage } from '@google-cloud/storage';
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
}

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

  constructor(options: GcsObjectStoreOptions) {
    this.bucket = options.storage.bucket(options.bucket);
    this.prefix = options.prefix;
    this.simpleLimit = options.simpleUploadLimit ?? 8 * 1024 * 1024;
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
    const hashing = new HashingStream();
    body.on('error', (e) => hashing.destroy(e));
    body.pipe(hashing);
    let written: GcsObjectMetadata;
    try {
      const head = await readUpTo(hashing, this.simpleLimit + 1);
      if (head.ended) {
        const d = hashing.digests();
        checkExpected(key, d, options);
        await file.save(head.buffer, {
          resumable: false,
          validation: 'md5',
          metadata: {
            md5Hash: hexToBase64(d.md5),
            metadata: { [SHA256_METADATA_KEY]: d.sha256 },
            ...(options.contentType ? { contentType: options.contentType } : {}),
          },
        });
      } else {
        const { Readable } = await import('node:stream');
        const source = Readable.from(
          (async function* () {
            yield head.buffer;
            for await (const chunk of hashing) yield chunk as Buffer;
          })(),
        );
        await pipeline(
          source,
          file.createWriteStream({
            resumable: true,
            validation: 'md5',
            metadata: {
              ...(options.sha256 ? { metadata: { [SHA256_METADATA_KEY]: options.sha256 } } : {}),
              ...(options.contentType ? { contentType: options.contentType } : {}),
            },
          }),
          ...(options.signal ? [{ signal: options.signal }] : []),
        );
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
    const serverMd5 = base64ToHex(written.md5Hash);
    if (serverMd5 && serverMd5 !== d.md5) {
      await file.delete({ ignoreNotFound: true }).catch(() => undefined);
      throw new McmlError(
        'INTEGRITY',
        `${this.uri}${key}: GCS stored MD5 ${serverMd5}, sent ${d.md5}`,
      );
    }
    return { ...this.info(key, written), sha256: d.sha256, md5: d.md5 };
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
