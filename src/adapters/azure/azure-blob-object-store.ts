/**
 * ObjectStore on Azure Blob Storage (@azure/storage-blob). Writes stage blocks in parallel (each
 * with a transactional MD5 the service checks) and commit the block list at the end with the
 * sha256 metadata and content MD5: the blob appears only at commit. Block IDs of a known source
 * version name that version, so a rerun after a kill reuses the blocks already staged. Memory per write is
 * blockSize × (concurrency + 1), whatever the blob size.
 *
 * location(): a storage account's region is not in the Blob data plane (it is an ARM property),
 * so this returns undefined and residency uses the region from the spec.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  BlobSASPermissions,
  StorageSharedKeyCredential,
  type BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
} from '@azure/storage-blob';
import { McmlError } from '../../core/errors.js';
import type {
  ByteRange,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  WriteFromUrlOptions,
  WriteOptions,
} from '../../ports/object-store.js';
import {
  checkExpected,
  checkKey,
  copyError,
  HashingStream,
  readUpTo,
  SHA256_METADATA_KEY,
  statCopied,
  statusOf,
  storeError,
} from '../object-store-common.js';
import { partSizeFor } from '../upload-journal.js';
import { createHash } from 'node:crypto';

export interface AzureBlobObjectStoreOptions {
  service: BlobServiceClient;
  account: string;
  container: string;
  prefix: string;
  /** Block size in bytes (default 8 MiB). */
  blockSize?: number;
  /** Blocks in flight per blob (default 4). */
  concurrency?: number;
}

const MIB = 1024 * 1024;
const FROM_URL_BLOCK = 100 * MIB;
/** Azure's limit on blocks per blob. */
const MAX_BLOCKS = 50_000;

function toBuffer(u: Uint8Array | undefined): Buffer | undefined {
  return u && u.length > 0 ? Buffer.from(u) : undefined;
}

export class AzureBlobObjectStore implements ObjectStore {
  readonly scheme = 'az' as const;
  readonly uri: string;
  private readonly service: BlobServiceClient;
  private readonly container: ContainerClient;
  private readonly prefix: string;
  private readonly blockSize: number;
  private readonly concurrency: number;

  constructor(options: AzureBlobObjectStoreOptions) {
    this.service = options.service;
    this.container = options.service.getContainerClient(options.container);
    this.prefix = options.prefix;
    this.blockSize = options.blockSize ?? 8 * MIB;
    this.concurrency = options.concurrency ?? 4;
    this.uri = `az://${options.account}/${options.container}/${options.prefix}`;
  }

  private blob(key: string): BlockBlobClient {
    return this.container.getBlockBlobClient(this.prefix + checkKey(key));
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    try {
      const pages = this.container
        .listBlobsFlat({
          prefix: this.prefix + prefix,
          includeMetadata: true,
          ...(options.signal ? { abortSignal: options.signal } : {}),
        })
        .byPage({ maxPageSize: 5000 });
      for await (const page of pages) {
        const out: ObjectInfo[] = [];
        for (const b of page.segment.blobItems) {
          const md5 = toBuffer(b.properties.contentMD5)?.toString('hex');
          const sha256 = b.metadata?.[SHA256_METADATA_KEY];
          out.push({
            key: b.name.slice(this.prefix.length),
            size: b.properties.contentLength ?? 0,
            lastModified: b.properties.lastModified,
            ...(md5 ? { md5 } : {}),
            ...(sha256 ? { sha256 } : {}),
            ...(b.properties.etag ? { etag: b.properties.etag.replace(/"/g, '') } : {}),
          });
        }
        yield out;
      }
    } catch (error) {
      throw storeError(error, 'listing', this.uri);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const p = await this.blob(key).getProperties();
      const md5 = toBuffer(p.contentMD5)?.toString('hex');
      const sha256 = p.metadata?.[SHA256_METADATA_KEY];
      return {
        key,
        size: p.contentLength ?? 0,
        ...(p.lastModified ? { lastModified: p.lastModified } : {}),
        ...(md5 ? { md5 } : {}),
        ...(sha256 ? { sha256 } : {}),
        ...(p.etag ? { etag: p.etag.replace(/"/g, '') } : {}),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw storeError(error, `stat ${key}`, this.uri);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const offset = range?.start ?? 0;
      const count = range?.end !== undefined ? range.end - offset + 1 : undefined;
      const r = await this.blob(key).download(offset, count);
      return r.readableStreamBody as Readable;
    } catch (error) {
      if (statusOf(error) === 404)
        throw new McmlError('NOT_FOUND', `${this.uri}${key} does not exist`);
      if (statusOf(error) === 416) {
        const { Readable } = await import('node:stream');
        return Readable.from([]);
      }
      throw storeError(error, `reading ${key}`, this.uri);
    }
  }

  /**
   * Blocks an interrupted earlier write of the same source version left uncommitted: block IDs
   * carry the source's sha256 and the block size, so only blocks of these very bytes match.
   */
  private async staged(blob: BlockBlobClient, resumable: boolean): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (!resumable) return out;
    try {
      const list = await blob.getBlockList('uncommitted');
      for (const b of list.uncommittedBlocks ?? []) out.set(b.name, b.size);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    return out;
  }

  async write(key: string, body: Readable, options: WriteOptions = {}): Promise<ObjectInfo> {
    const blob = this.blob(key);
    const hashing = new HashingStream();
    body.on('error', (e) => hashing.destroy(e));
    body.pipe(hashing);
    const blockSize = partSizeFor(options.size, this.blockSize, MAX_BLOCKS);
    const resumable =
      options.sha256 !== undefined && options.size !== undefined && options.size > blockSize;
    // Every block ID of a blob has the same length: 32 hex of version (or random), size, index.
    const run = resumable ? options.sha256!.slice(0, 32) : randomBytes(16).toString('hex');
    const blockId = (index: number) =>
      Buffer.from(
        `${run}-${blockSize.toString(16).padStart(8, '0')}-${String(index).padStart(6, '0')}`,
      ).toString('base64');
    const ids: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let resumedBytes = 0;
    try {
      const staged = await this.staged(blob, resumable);
      for (let index = 0; ; index++) {
        options.signal?.throwIfAborted();
        const { buffer, ended } = await readUpTo(hashing, blockSize);
        if (buffer.length > 0 || index === 0) {
          if (ended && index === 0) {
            // Small blob: a single Put Blob, verified by its transactional MD5.
            await waitEnd(hashing);
            const d = hashing.digests();
            checkExpected(key, d, options);
            await blob.upload(buffer, buffer.length, {
              metadata: { [SHA256_METADATA_KEY]: d.sha256 },
              blobHTTPHeaders: {
                blobContentMD5: Buffer.from(d.md5, 'hex'),
                ...(options.contentType ? { blobContentType: options.contentType } : {}),
              },
              ...(options.signal ? { abortSignal: options.signal } : {}),
            });
            return this.written(key, d);
          }
          const id = blockId(index);
          ids.push(id);
          if (staged.get(id) === buffer.length) {
            resumedBytes += buffer.length;
            options.onResumed?.(buffer.length);
            if (ended) break;
            continue;
          }
          const md5 = createHash('md5').update(buffer).digest();
          const p = blob
            .stageBlock(id, buffer, buffer.length, {
              transactionalContentMD5: md5,
              ...(options.signal ? { abortSignal: options.signal } : {}),
            })
            .then(
              () => undefined,
              (e: unknown) => {
                failure ??= e;
              },
            );
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
          if (inFlight.size >= this.concurrency) await Promise.race(inFlight);
          if (failure) throw toError(failure);
        }
        if (ended) break;
      }
      await Promise.all(inFlight);
      if (failure) throw toError(failure);
      await waitEnd(hashing);
      const d = hashing.digests();
      checkExpected(key, d, options);
      await blob.commitBlockList(ids, {
        metadata: { [SHA256_METADATA_KEY]: d.sha256 },
        blobHTTPHeaders: {
          blobContentMD5: Buffer.from(d.md5, 'hex'),
          ...(options.contentType ? { blobContentType: options.contentType } : {}),
        },
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
      return { ...this.written(key, d), ...(resumedBytes > 0 ? { resumedBytes } : {}) };
    } catch (error) {
      await Promise.allSettled(inFlight);
      hashing.destroy();
      // Staged but uncommitted blocks are invisible: a rerun of the same source version reuses
      // them, a commit of other blocks discards them, and Azure drops them after 7 days.
      throw storeError(error, `writing ${key}`, this.uri);
    }
  }

  private written(key: string, d: { sha256: string; md5: string; size: number }): ObjectInfo {
    return { key, size: d.size, sha256: d.sha256, md5: d.md5 };
  }

  async writeFromUrl(key: string, url: string, options: WriteFromUrlOptions): Promise<ObjectInfo> {
    const blob = this.blob(key);
    const run = randomBytes(8).toString('hex');
    const ids: string[] = [];
    try {
      const ranges: [number, number][] = [];
      for (let start = 0; start < options.size; start += FROM_URL_BLOCK)
        ranges.push([start, Math.min(FROM_URL_BLOCK, options.size - start)]);
      let next = 0;
      ranges.forEach((_, i) =>
        ids.push(Buffer.from(`${run}-${String(i).padStart(6, '0')}`).toString('base64')),
      );
      const worker = async () => {
        while (next < ranges.length) {
          const i = next++;
          const [start, count] = ranges[i]!;
          await blob.stageBlockFromURL(ids[i]!, url, start, count, {
            ...(options.signal ? { abortSignal: options.signal } : {}),
          });
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, this.concurrency * 2) }, worker));
      await blob.commitBlockList(ids, {
        ...(options.sha256 ? { metadata: { [SHA256_METADATA_KEY]: options.sha256 } } : {}),
        ...(options.md5
          ? { blobHTTPHeaders: { blobContentMD5: Buffer.from(options.md5, 'hex') } }
          : {}),
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
    } catch (error) {
      throw storeError(error, `server-side copy of ${key} from URL`, this.uri);
    }
    const info = await this.stat(key);
    if (!info) throw new McmlError('INTERNAL', `server-side copy of ${key} vanished`);
    if (info.size !== options.size) {
      await this.delete(key).catch(() => undefined);
      throw new McmlError(
        'INTEGRITY',
        `${this.uri}${key}: ${info.size} bytes arrived, expected ${options.size}`,
      );
    }
    return info;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.blob(key).deleteIfExists();
    } catch (error) {
      throw storeError(error, `deleting ${key}`, this.uri);
    }
  }

  async copy(fromKey: string, toKey: string): Promise<ObjectInfo> {
    const from = this.blob(fromKey);
    const to = this.blob(toKey);
    try {
      const poller = await to.beginCopyFromURL(from.url);
      await poller.pollUntilDone();
    } catch (error) {
      throw copyError(error, this.uri, fromKey, toKey);
    }
    return statCopied(this, fromKey, toKey);
  }

  async presign(key: string, expiresInSeconds: number): Promise<string> {
    const blob = this.blob(key);
    const expiresOn = new Date(Date.now() + expiresInSeconds * 1000);
    const permissions = BlobSASPermissions.parse('r');
    try {
      if (blob.credential instanceof StorageSharedKeyCredential)
        return await blob.generateSasUrl({ permissions, expiresOn });
      // Entra ID credentials sign with a user delegation key.
      const startsOn = new Date(Date.now() - 60_000);
      const key2 = await this.service.getUserDelegationKey(startsOn, expiresOn);
      return await blob.generateUserDelegationSasUrl({ permissions, expiresOn, startsOn }, key2);
    } catch (error) {
      throw storeError(error, `presigning ${key}`, this.uri);
    }
  }

  location(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
}

async function waitEnd(stream: HashingStream): Promise<void> {
  if (stream.readableEnded) return;
  stream.resume();
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
