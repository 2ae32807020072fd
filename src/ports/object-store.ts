/**
 * Object storage as a port: S3, GCS, Azure Blob and local files implement it
 * (src/adapters/<provider>/), and one contract suite (test/contracts/object-store.ts) runs
 * against every adapter. Keys are relative to the store's root prefix and use "/".
 */
import type { Readable } from 'node:stream';

/** What a listing or a stat tells about one object. */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified?: Date;
  /** Hex sha256 of the content, from the metadata mcml writes with every object. */
  sha256?: string;
  /** Hex MD5 of the content, when the store knows it (S3 single-part ETag, GCS, Azure). */
  md5?: string;
  /** Base64 CRC32C, when the store knows it (GCS). */
  crc32c?: string;
  etag?: string;
  /** On a write's result: bytes reused from an interrupted earlier write of the same source. */
  resumedBytes?: number;
}

export interface WriteOptions {
  /** Size in bytes when known; lets adapters pick single-shot vs multipart. */
  size?: number;
  /** Hex sha256 to store as metadata; adapters that hash while writing may compute it. */
  sha256?: string;
  /**
   * The caller hashes the body itself as it streams it (the sync engine's end-to-end digest):
   * called once the body has ended, it returns the hex sha256 of every byte the body gave, so
   * the adapter does not hash them a second time. Adapters still count the bytes themselves,
   * and still check what the store verifies per part (Content-MD5, transactional MD5).
   */
  bodySha256?: () => string | undefined;
  /**
   * Hex MD5 of the content when the source already knows it (from the listing that gave
   * `sha256`): recorded as the object's content MD5 where the store would otherwise need a
   * pass of its own over every byte (Azure block blobs). Never used as proof of the bytes.
   */
  md5?: string;
  contentType?: string;
  signal?: AbortSignal;
  /** Called with the bytes of parts an interrupted earlier write had stored and this one reuses. */
  onResumed?: (bytes: number) => void;
}

export interface ListOptions {
  signal?: AbortSignal;
  /**
   * Fill sha256/md5 even when the store's listing does not carry them but the adapter can
   * compute them without a request per object (local files: hashed while listing). Remote
   * adapters ignore it: they never add a per-object request to a listing.
   */
  hashes?: boolean;
  /**
   * The root must be there: a missing directory throws NOT_FOUND and a file in its place
   * INVALID_ARGUMENT, instead of listing nothing (a sync source). Buckets always must exist.
   */
  mustExist?: boolean;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; to the end when omitted. */
  end?: number;
}

/** An object store rooted at a URI such as s3://bucket/prefix. */
export interface ObjectStore {
  /** The normalised root URI, e.g. "s3://bucket/prefix/". Never carries credentials. */
  readonly uri: string;
  readonly scheme: 'file' | 's3' | 'gs' | 'az';
  /** Pages of objects under `prefix` (relative to the root), in key order. */
  list(prefix?: string, options?: ListOptions): AsyncIterable<ObjectInfo[]>;
  /** One object's info, or undefined when it does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** A stream of the object's bytes (or a range). Throws NOT_FOUND when missing. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /**
   * Writes an object atomically: readers see the old object or the complete new one, never
   * a partial one. Returns the stored object's info (with sha256).
   */
  write(key: string, body: Readable, options?: WriteOptions): Promise<ObjectInfo>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Copies within this store without moving bytes through the client where possible. */
  copy(fromKey: string, toKey: string): Promise<ObjectInfo>;
  /** A URL anyone can GET for `expiresInSeconds`, for server-side cross-cloud copies. */
  presign(key: string, expiresInSeconds: number): Promise<string>;
  /** The bucket's location (cloud region) when the store can tell; for residency checks. */
  location(): Promise<string | undefined>;
  /**
   * Optional: the store fetches the object itself from `url` (e.g. a presigned GET of another
   * cloud), so the bytes never pass through this process. Azure implements it with Put Block
   * From URL. Atomic like `write`; `sha256` is recorded as metadata.
   */
  writeFromUrl?(key: string, url: string, options: WriteFromUrlOptions): Promise<ObjectInfo>;
  /**
   * Optional: what interrupted writes of earlier runs left behind and nobody will finish (temp
   * files of dead processes, multipart uploads mcml started and abandoned). Never lists a
   * write still in progress.
   */
  abandoned?(): Promise<AbandonedWrite[]>;
  /** Optional: removes what `abandoned()` lists; returns what it removed. */
  cleanAbandoned?(): Promise<AbandonedWrite[]>;
}

/** A leftover of an interrupted write: invisible to listings, but it takes space (or money). */
export interface AbandonedWrite {
  /** The object key the write was for, or the leftover's own path relative to the root. */
  key: string;
  /** Bytes it holds, when known. */
  size?: number;
  started?: Date;
}

export interface WriteFromUrlOptions {
  size: number;
  sha256?: string;
  /** Hex MD5 of the source, when known, recorded as the object's content MD5. */
  md5?: string;
  signal?: AbortSignal;
}
