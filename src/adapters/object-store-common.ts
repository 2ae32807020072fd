/**
 * Helpers shared by the ObjectStore adapters (not an adapter itself): hashing while streaming,
 * key checks, error mapping and secret redaction.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { McmlError, isMcmlError, type ErrorCode } from '../core/errors.js';
import type { ObjectInfo, WriteOptions } from '../ports/object-store.js';

/** The metadata entry that carries the content's hex sha256 on every store. */
export const SHA256_METADATA_KEY = 'sha256';

/** Digests of a stream: sha256 of the whole, md5 of the whole when asked for, the size. */
export interface StreamDigests {
  sha256: string;
  /** Present when the stream was asked to compute it. */
  md5?: string;
  size: number;
}

export interface HashingOptions {
  /**
   * The caller already hashes these bytes as it streams them (WriteOptions.bodySha256): take
   * the sha256 from it once the stream ended instead of hashing every byte a second time.
   */
  upstreamSha256?: () => string | undefined;
  /** Also compute the MD5 of the whole (default false). */
  md5?: boolean;
}

/**
 * A pass-through that hashes what flows through it (sha256 unless the caller hashes upstream,
 * MD5 when asked) and always counts the bytes itself. `digests()` is valid after 'end'.
 */
export class HashingStream extends Transform {
  private readonly sha: Hash | undefined;
  private readonly md5: Hash | undefined;
  private bytes = 0;
  private result: StreamDigests | undefined;

  constructor(private readonly options: HashingOptions = {}) {
    super();
    this.sha = options.upstreamSha256 ? undefined : createHash('sha256');
    this.md5 = options.md5 ? createHash('md5') : undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.sha?.update(chunk);
    this.md5?.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const sha256 = this.sha ? this.sha.digest('hex') : this.options.upstreamSha256?.();
    if (sha256 === undefined) {
      done(new McmlError('INTERNAL', 'the upstream sha256 was not ready when the body ended'));
      return;
    }
    this.result = {
      sha256,
      ...(this.md5 ? { md5: this.md5.digest('hex') } : {}),
      size: this.bytes,
    };
    done();
  }

  /** The digests; throws when called before the stream ended. */
  digests(): StreamDigests {
    if (!this.result) throw new McmlError('INTERNAL', 'digests requested before the stream ended');
    return this.result;
  }
}

/** Options for a HashingStream fed by a write's body: MD5 on request, sha256 from upstream. */
export function hashingFor(options: WriteOptions, md5 = false): HashingOptions {
  return {
    ...(options.bodySha256 ? { upstreamSha256: options.bodySha256 } : {}),
    ...(md5 ? { md5: true } : {}),
  };
}

/** Hex sha256 and MD5 of one buffer (a whole small object). */
export function bufferDigests(
  buffer: Buffer,
  options: WriteOptions,
): { sha256: string; md5: string; size: number } {
  const sha256 = options.bodySha256?.() ?? createHash('sha256').update(buffer).digest('hex');
  return { sha256, md5: createHash('md5').update(buffer).digest('hex'), size: buffer.length };
}

/** The ETag S3 gives a multipart object: md5 of the parts' md5s, "-", number of parts. */
export function multipartEtag(partMd5s: Buffer[]): string {
  return `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
}

/** Rejects keys that would escape the root or are not object names. */
export function checkKey(key: string): string {
  if (
    key === '' ||
    key.startsWith('/') ||
    key.endsWith('/') ||
    key.split('/').some((p) => p === '' || p === '.' || p === '..') ||
    key.includes('\0')
  ) {
    throw new McmlError('INVALID_ARGUMENT', `invalid object key "${key}"`, {
      hint: 'keys are relative paths without empty, "." or ".." segments',
    });
  }
  return key;
}

/** Hides account keys, SAS tokens, signatures and connection-string secrets in a text. */
export function redactSecrets(text: string): string {
  return text
    .replace(/(AccountKey|SharedAccessSignature|SharedAccessKey)=[^;"'\s]*/gi, '$1=<redacted>')
    .replace(
      /([?&](?:sig|se|sv|sp|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential)=)[^&\s"']*/gi,
      '$1<redacted>',
    )
    .replace(
      /(aws_secret_access_key|secretAccessKey|private_key)["'=:\s]+[^\s,"']+/gi,
      '$1=<redacted>',
    );
}

/** Parses a hex digest out of a base64 one (GCS and Azure report MD5 as base64). */
export function base64ToHex(b64: string | undefined): string | undefined {
  if (!b64) return undefined;
  return Buffer.from(b64, 'base64').toString('hex');
}

export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** HTTP status of an SDK error, whichever SDK threw it. */
export function statusOf(error: unknown): number | undefined {
  const e = error as {
    statusCode?: unknown;
    code?: unknown;
    status?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  if (typeof e?.$metadata?.httpStatusCode === 'number') return e.$metadata.httpStatusCode;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.status === 'number') return e.status;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

/** File-system errors caused by the names or layout given, not by the machine failing. */
const FS_INPUT_ERRORS: Record<string, string> = {
  ENAMETOOLONG: 'a name is too long for this file system',
  EISDIR: 'a directory is where the object should go',
  ENOTDIR: 'a file is where a directory should be',
  EEXIST: 'a file is where a directory should be',
  EINVAL: 'the name is not valid on this file system',
  EILSEQ: 'the name is not valid on this file system',
};

/** What storeError reads of a failure. */
interface Failure {
  status: number | undefined;
  /** A Node system error's code (ENOENT, EACCES…), or the SDK's error code. */
  errno: unknown;
  /** The error's message, and its name and message, for the patterns below. */
  raw: string;
  text: string;
  /** The message's first line, secrets redacted: what a person is shown. */
  message: string;
}

/** One kind of store failure: how to recognise it and what to tell the person. */
interface FailureKind {
  when: (f: Failure) => boolean;
  code: ErrorCode;
  say: (f: Failure) => string;
  hint?: string;
  retryable?: boolean;
}

const AUTH_FAILURE =
  /CredentialsProviderError|Could not load credentials|CredentialUnavailable|AuthenticationError|AuthenticationFailed|InvalidAuthenticationInfo|InvalidAccessKeyId|InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken|Could not load the default credentials|Invalid Credentials|Server failed to authenticate/i;
const NETWORK_FAILURE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|ENOTFOUND|EAI_AGAIN/i;

/** The kinds in the order they are tried; the first that matches names the failure. */
const FAILURE_KINDS: FailureKind[] = [
  {
    when: (f) => f.status === 401 || AUTH_FAILURE.test(f.text),
    code: 'PROVIDER_AUTH',
    say: (f) => `no valid credentials (${f.message})`,
    hint: 'configure the cloud SDK credentials (AWS_PROFILE / gcloud auth application-default login / az login) or the account key',
  },
  {
    when: (f) => typeof f.errno === 'string' && FS_INPUT_ERRORS[f.errno] !== undefined,
    code: 'INVALID_ARGUMENT',
    say: (f) => `${FS_INPUT_ERRORS[f.errno as string]} (${String(f.errno)})`,
    hint: 'the key does not fit this file system: rename it at the source or exclude it (--exclude)',
  },
  {
    when: (f) => f.status === 403 || ['EACCES', 'EPERM', 'EROFS'].includes(f.errno as string),
    code: 'PERMISSION_DENIED',
    say: (f) => `permission denied (${f.message})`,
    hint: 'the credentials lack permission for this bucket, or (when the service gives no reason) are wrong',
  },
  {
    when: (f) =>
      f.status === 404 ||
      f.errno === 'ENOENT' ||
      /NoSuchBucket|ContainerNotFound|BucketNotFound/i.test(f.text),
    code: 'NOT_FOUND',
    say: (f) => `not found (${f.message})`,
  },
  {
    when: (f) => f.status === 409 || f.status === 412,
    code: 'CONFLICT',
    say: (f) =>
      `${f.status === 412 ? 'a precondition failed' : 'conflicts with the current state'} (${f.message})`,
    hint: 'another writer or a lease holds the object or bucket; retry when it is done',
  },
  {
    when: (f) => f.status === 501,
    code: 'UNSUPPORTED',
    say: (f) => `the service does not implement this (${f.message})`,
  },
  {
    when: (f) =>
      f.status === 429 ||
      (f.status !== undefined && f.status >= 500) ||
      NETWORK_FAILURE.test(`${String(f.errno)} ${f.raw}`),
    code: 'PROVIDER_UNAVAILABLE',
    say: (f) => f.message,
    hint: 'the storage service is unreachable or overloaded; mcml retries these with backoff',
    retryable: true,
  },
];

/** Turns an SDK failure into an McmlError a person can act on, without secrets. */
export function storeError(error: unknown, what: string, uri: string): McmlError {
  if (isMcmlError(error)) return error;
  const raw = error instanceof Error ? error.message : String(error);
  const f: Failure = {
    status: statusOf(error),
    errno: (error as { code?: unknown })?.code,
    raw,
    text: `${(error as { name?: string })?.name ?? ''} ${raw}`,
    message: redactSecrets(raw).split('\n')[0] ?? '',
  };
  const kind = FAILURE_KINDS.find((k) => k.when(f));
  const details = { uri, status: f.status, ...(kind?.retryable ? { retryable: true } : {}) };
  return new McmlError(
    kind?.code ?? 'PROVIDER_UNAVAILABLE',
    `${what} on ${uri}: ${kind ? kind.say(f) : f.message}`,
    {
      details,
      ...(kind?.hint ? { hint: kind.hint } : {}),
    },
  );
}

/** Whether a failure is worth retrying (throttling, 5xx, network). */
export function isRetryable(error: unknown): boolean {
  if (isMcmlError(error)) return error.details.retryable === true;
  const status = statusOf(error);
  if (status === 429 || (status !== undefined && status >= 500 && status !== 501)) return true;
  const errno = (error as { code?: unknown })?.code;
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|EAI_AGAIN/i.test(
    String(errno) + ' ' + String((error as Error)?.message),
  );
}

/** The whole of a (small) response body, e.g. one listing page. */
export async function readWhole(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads from a stream until `limit` bytes or its end, whichever first, leaving the rest. */
export async function readUpTo(
  stream: Readable,
  limit: number,
): Promise<{ buffer: Buffer; ended: boolean }> {
  const { chunks, ended } = await readChunks(stream, limit);
  return { buffer: Buffer.concat(chunks), ended };
}

/**
 * Reads up to `limit` bytes, handing each piece to `take` as it comes; what is beyond the limit
 * stays in the stream (unshifted) for the next reader. Resolves with the bytes taken and whether
 * the stream ended.
 */
function readUpToLimit(
  stream: Readable,
  limit: number,
  take: (piece: Buffer, at: number) => void,
): Promise<{ length: number; ended: boolean }> {
  let size = 0;
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onEnd = () => {
      cleanup();
      resolve({ length: size, ended: true });
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (size < limit && (chunk = stream.read() as Buffer | null) !== null) {
        const room = limit - size;
        if (chunk.length > room) {
          stream.unshift(chunk.subarray(room));
          chunk = chunk.subarray(0, room);
        }
        take(chunk, size);
        size += chunk.length;
      }
      if (size >= limit) {
        cleanup();
        // A failure before the next consumer attaches stays in `stream.errored`, which that
        // consumer (an async iterator or pipe) reports; it must not crash the process.
        if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
        resolve({ length: size, ended: false });
      }
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
    if (stream.readableEnded) onEnd();
  });
}

/**
 * Like readUpTo, but the chunks as they came (no copy): a part made of them is hashed chunk by
 * chunk and sent from a stream over them.
 */
export async function readChunks(
  stream: Readable,
  limit: number,
): Promise<{ chunks: Buffer[]; length: number; ended: boolean }> {
  const chunks: Buffer[] = [];
  const { length, ended } = await readUpToLimit(stream, limit, (piece) => chunks.push(piece));
  return { chunks, length, ended };
}

/**
 * Fills `target` from a stream (one copy, into memory the caller reuses part after part) until
 * it is full or the stream ends, leaving the rest in the stream.
 */
export function readInto(
  stream: Readable,
  target: Buffer,
): Promise<{ length: number; ended: boolean }> {
  return readUpToLimit(stream, target.length, (piece, at) => piece.copy(target, at));
}

/**
 * Pipes a write's body (perhaps partly read already) into a hashing stream, passing on a
 * failure the body had before anyone listened: a pipe alone would wait for it forever.
 */
export function feed(body: Readable, into: Transform): void {
  body.on('error', (e) => into.destroy(e));
  if (body.errored) into.destroy(body.errored);
  else if (body.destroyed && !body.readableEnded)
    into.destroy(new Error('the body was closed before its end'));
  else body.pipe(into);
}

/**
 * Part-sized buffers reused from part to part: at most `count` exist, so a write holds
 * partSize × count bytes whatever the object size, and no part allocates (and page-faults in)
 * fresh memory.
 */
export class PartBuffers {
  private readonly free: Buffer[] = [];
  private made = 0;
  private readonly waiting: ((b: Buffer) => void)[] = [];
  constructor(
    private readonly size: number,
    private readonly count: number,
  ) {}

  /** A buffer, once one is free. */
  async take(): Promise<Buffer> {
    const b = this.free.pop();
    if (b) return b;
    if (this.made < this.count) {
      this.made++;
      return Buffer.allocUnsafeSlow(this.size);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(buffer: Buffer): void {
    const w = this.waiting.shift();
    if (w) w(buffer);
    else this.free.push(buffer);
  }
}

/** Throws INTEGRITY when what was written differs from what the caller said it would be. */
export function checkExpected(
  key: string,
  written: { sha256: string; size: number },
  options: Pick<WriteOptions, 'sha256' | 'size'>,
): void {
  if (options.sha256 !== undefined && options.sha256 !== written.sha256) {
    throw new McmlError(
      'INTEGRITY',
      `${key}: content hash ${written.sha256} differs from ${options.sha256}`,
    );
  }
  if (options.size !== undefined && options.size !== written.size) {
    throw new McmlError('INTEGRITY', `${key}: got ${written.size} bytes, expected ${options.size}`);
  }
}

/** The error for a failed same-store copy: NOT_FOUND for a missing source, else mapped. */
export function copyError(error: unknown, uri: string, fromKey: string, toKey: string): McmlError {
  if (statusOf(error) === 404) return new McmlError('NOT_FOUND', `${uri}${fromKey} does not exist`);
  return storeError(error, `copying ${fromKey} to ${toKey}`, uri);
}

/** Stats a copy's destination; a copy that reported success but is not there is a bug. */
export async function statCopied(
  store: { stat(key: string): Promise<ObjectInfo | undefined> },
  fromKey: string,
  toKey: string,
): Promise<ObjectInfo> {
  const info = await store.stat(toKey);
  if (!info) throw new McmlError('INTERNAL', `copy of ${fromKey} to ${toKey} vanished`);
  return info;
}

/** Waits for a hashing stream to end (draining what is left), so its digests are ready. */
export async function waitEnd(stream: Readable): Promise<void> {
  if (stream.readableEnded) return;
  stream.resume();
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}
