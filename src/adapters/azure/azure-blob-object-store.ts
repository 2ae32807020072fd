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
import { Readable } from 'node:stream';
import {
  BlobSASPermissions,
  StorageSharedKeyCredential,
  type BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
} from '@azure/storage-blob';
import { McmlError } from '../../core/errors.js';
import { pool, Window } from '../../core/pool.js';
import type {
  ByteRange,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  WriteFromUrlOptions,
  WriteOptions,
} from '../../ports/object-store.js';
import {
  bufferDigests,
  checkExpected,
  checkKey,
  feed,
  copyError,
  HashingStream,
  hashingFor,
  readChunks,
  SHA256_METADATA_KEY,
  statCopied,
  statusOf,
  storeError,
} from '../object-store-common.js';
import { partSizeFor } from '../upload-journal.js';
import { listBlobsPage, MAX_PAGE, pipelineOf } from './blob-listing.js';
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
  /** Blobs per listing page (default and most: 5,000). */
  listPageSize?: number;
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
  private readonly listPageSize: number;

  constructor(options: AzureBlobObjectStoreOptions) {
    this.service = options.service;
    this.container = options.service.getContainerClient(options.container);
    this.prefix = options.prefix;
    this.blockSize = options.blockSize ?? 8 * MIB;
    this.concurrency = options.concurrency ?? 4;
    this.listPageSize = Math.min(options.listPageSize ?? MAX_PAGE, MAX_PAGE);
    this.uri = `az://${options.account}/${options.container}/${options.prefix}`;
  }

  private blob(key: string): BlockBlobClient {
    return this.container.getBlockBlobClient(this.prefix + checkKey(key));
  }

  /**
   * Pages of up to 5,000 blobs, read with the lean List Blobs reader through the client's own
   * pipeline (see blob-listing.ts); through the SDK's models only if that is not reachable.
   */
  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    const send = pipelineOf(this.container);
    if (!send) {
      yield* this.listThroughModels(prefix, options);
      return;
    }
    let marker: string | undefined;
    do {
      let page;
      try {
        page = await listBlobsPage(send, this.container.url, {
          prefix: this.prefix + prefix,
          maxResults: this.listPageSize,
          ...(marker ? { marker } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        throw storeError(error, 'listing', this.uri);
      }
      yield page.blobs.map((b) => {
        const sha256 = b.metadata[SHA256_METADATA_KEY];
        return {
          key: b.name.slice(this.prefix.length),
          size: b.size,
          ...(b.lastModified ? { lastModified: b.lastModified } : {}),
          ...(b.md5 ? { md5: b.md5 } : {}),
          ...(sha256 ? { sha256 } : {}),
          ...(b.etag ? { etag: b.etag } : {}),
        };
      });
      marker = page.nextMarker;
    } while (marker);
  }

  /** The SDK's own listing (its XML-to-model layer): the fallback of list(). */
  async *listThroughModels(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    try {
      const pages = this.container
        .listBlobsFlat({
          prefix: this.prefix + prefix,
          includeMetadata: true,
          ...(options.signal ? { abortSignal: options.signal } : {}),
        })
        .byPage({ maxPageSize: this.listPageSize });
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
    const blockSize = partSizeFor(options.size, this.blockSize, MAX_BLOCKS);
    // Read the first block: if the body ends within it, one Put Blob does it all.
    const head = await readChunks(body, blockSize + 1);
    if (head.ended) return this.putSingle(key, blob, Buffer.concat(head.chunks), options);
    for (let i = head.chunks.length - 1; i >= 0; i--) body.unshift(head.chunks[i]);
    return this.putBlocks(key, blob, body, blockSize, options);
  }

  /** A small blob: one Put Blob with its MD5 (Azure checks it and keeps it as content MD5). */
  private async putSingle(
    key: string,
    blob: BlockBlobClient,
    buffer: Buffer,
    options: WriteOptions,
  ): Promise<ObjectInfo> {
    const d = bufferDigests(buffer, options);
    try {
      checkExpected(key, d, options);
      await blob.upload(buffer, buffer.length, {
        metadata: { [SHA256_METADATA_KEY]: d.sha256 },
        blobHTTPHeaders: {
          blobContentMD5: Buffer.from(d.md5, 'hex'),
          ...(options.contentType ? { blobContentType: options.contentType } : {}),
        },
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
    } catch (error) {
      throw storeError(error, `writing ${key}`, this.uri);
    }
    return { key, size: d.size, sha256: d.sha256, md5: d.md5 };
  }

  /**
   * Blocks staged `concurrency` at a time from reused buffers, then one commit. Each byte is
   * hashed once per algorithm: the sha256 comes from the caller when it hashes the stream (the
   * sync engine), and each block's MD5 is its transactional MD5, which Azure checks. The
   * blob's content MD5 (not checked by Azure on a commit) is recorded when the source knows
   * it (options.md5), not computed in a second MD5 pass over every byte.
   */
  private async putBlocks(
    key: string,
    blob: BlockBlobClient,
    body: Readable,
    blockSize: number,
    options: WriteOptions,
  ): Promise<ObjectInfo> {
    const hashing = new HashingStream(hashingFor(options));
    feed(body, hashing);
    const window = new Window(this.concurrency);
    try {
      const { ids, resumedBytes } = await this.stageBlocks(
        blob,
        hashing,
        blockSize,
        window,
        options,
      );
      await waitEnd(hashing);
      const d = hashing.digests();
      checkExpected(key, d, options);
      await blob.commitBlockList(ids, {
        metadata: { [SHA256_METADATA_KEY]: d.sha256 },
        blobHTTPHeaders: {
          ...(options.md5 ? { blobContentMD5: Buffer.from(options.md5, 'hex') } : {}),
          ...(options.contentType ? { blobContentType: options.contentType } : {}),
        },
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
      return {
        key,
        size: d.size,
        sha256: d.sha256,
        ...(options.md5 ? { md5: options.md5 } : {}),
        ...(resumedBytes > 0 ? { resumedBytes } : {}),
      };
    } catch (error) {
      await window.settle();
      hashing.destroy();
      // Staged but uncommitted blocks are invisible: a rerun of the same source version reuses
      // them, a commit of other blocks discards them, and Azure drops them after 7 days.
      throw storeError(error, `writing ${key}`, this.uri);
    }
  }

  /**
   * Stages the body's blocks, skipping those a rerun of the same source version finds staged
   * already. Returns the block IDs in order and the bytes not sent again.
   */
  private async stageBlocks(
    blob: BlockBlobClient,
    hashing: HashingStream,
    blockSize: number,
    window: Window,
    options: WriteOptions,
  ): Promise<{ ids: string[]; resumedBytes: number }> {
    const resumable = options.sha256 !== undefined && options.size !== undefined;
    const blockId = blockIds(resumable ? options.sha256!.slice(0, 32) : undefined, blockSize);
    const staged = await this.staged(blob, resumable);
    const ids: string[] = [];
    let resumedBytes = 0;
    for (let index = 0; ; index++) {
      options.signal?.throwIfAborted();
      // The block is the chunks as they came: hashed one by one and sent from a stream over
      // them (made again for a retry), never copied into one buffer.
      const { chunks, length, ended } = await readChunks(hashing, blockSize);
      if (length === 0) break;
      const id = blockId(index);
      ids.push(id);
      if (staged.get(id) === length) {
        resumedBytes += length;
        options.onResumed?.(length);
      } else {
        const md5 = createHash('md5');
        for (const c of chunks) md5.update(c);
        await window.add(
          blob.stageBlock(id, () => Readable.from(chunks), length, {
            transactionalContentMD5: md5.digest(),
            ...(options.signal ? { abortSignal: options.signal } : {}),
          }),
        );
      }
      if (ended) break;
    }
    await window.drain();
    return { ids, resumedBytes };
  }

  async writeFromUrl(key: string, url: string, options: WriteFromUrlOptions): Promise<ObjectInfo> {
    const blob = this.blob(key);
    const run = randomBytes(8).toString('hex');
    const ids: string[] = [];
    try {
      const ranges: [number, number][] = [];
      for (let start = 0; start < options.size; start += FROM_URL_BLOCK)
        ranges.push([start, Math.min(FROM_URL_BLOCK, options.size - start)]);
      ranges.forEach((_, i) =>
        ids.push(Buffer.from(`${run}-${String(i).padStart(6, '0')}`).toString('base64')),
      );
      await pool(ranges, this.concurrency * 2, ([start, count], i) =>
        blob
          .stageBlockFromURL(ids[i]!, url, start, count, {
            ...(options.signal ? { abortSignal: options.signal } : {}),
          })
          .then(() => undefined),
      );
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

/**
 * Block IDs of one blob, all of the same length: 32 hex of the source version (random when
 * the version is unknown, so nothing is reused), the block size, the index.
 */
function blockIds(version: string | undefined, blockSize: number): (index: number) => string {
  const run = version ?? randomBytes(16).toString('hex');
  const size = blockSize.toString(16).padStart(8, '0');
  return (index) =>
    Buffer.from(`${run}-${size}-${String(index).padStart(6, '0')}`).toString('base64');
}
