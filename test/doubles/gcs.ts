/**
 * A small in-process double of the Google Cloud Storage JSON API, good enough for
 * `@google-cloud/storage` 7: bucket metadata, list with pagination, object metadata (get/patch),
 * media download with Range, simple (multipart/related) and resumable uploads (session URI,
 * chunks with `Content-Range`, 308 + `Range` until the last, status query with `bytes` star-slash-N,
 * cancel with DELETE → 499), delete,
 * rewrite/copy, and V4 signed URL reads (signature checked against the test key); with `token`
 * it refuses API requests without that bearer token (401), like GCS. Objects
 * become visible only when an upload finishes, like GCS. Every request is counted.
 */
import { createHash, createVerify, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CRC32C } from '@google-cloud/storage';

export interface GcsObject {
  name: string;
  data: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  generation: number;
  updated: string;
}

interface ResumableSession {
  bucket: string;
  name: string;
  contentType: string;
  metadata: Record<string, string>;
  md5Hash?: string;
  chunks: Buffer[];
  received: number;
}

export interface GcsDouble {
  endpoint: string;
  port: number;
  /** bucket → name → object */
  buckets: Map<string, Map<string, GcsObject>>;
  createBucket(name: string, location?: string): void;
  /** Requests served, by "METHOD kind" (list, get, media, upload, resumable-put, …). */
  requests: Map<string, number>;
  totalRequests(): number;
  /**
   * Fail the next `n` requests (optionally only those whose path starts with `pathPrefix`)
   * with `status` (default 503) and a GCS-shaped error body.
   */
  failNext(n: number, pathPrefix?: string, status?: number, method?: string): void;
  /** Upload body bytes received (simple and resumable uploads). */
  bytesReceived: { value: number };
  /** Resumable sessions started and neither finished nor cancelled. */
  openSessions(): number;
  stop(): Promise<void>;
}

function md5b64(b: Buffer): string {
  return createHash('md5').update(b).digest('base64');
}
function crc32cB64(b: Buffer): string {
  const c = new CRC32C();
  c.update(b);
  return c.toString();
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(text);
}

function error(res: ServerResponse, status: number, message: string) {
  json(res, status, { error: { code: status, message, errors: [{ message, reason: 'x' }] } });
}

/** Parses a multipart/related body into its parts' bodies. */
function parseRelated(contentType: string, raw: Buffer): Buffer[] {
  const m = /boundary="?([^";]+)"?/.exec(contentType);
  if (!m) throw new Error('no boundary');
  const boundary = Buffer.from(`--${m[1]}`);
  const parts: Buffer[] = [];
  let pos = raw.indexOf(boundary);
  while (pos >= 0) {
    const start = pos + boundary.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    const next = raw.indexOf(boundary, start);
    if (next < 0) break;
    const part = raw.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    let content = part.subarray(headerEnd + 4);
    if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
    parts.push(content);
    pos = next;
  }
  return parts;
}

/** Starts the double on a random loopback port. `publicKeyPem` enables signed URL checks. */
export async function startGcsDouble(
  options: {
    publicKeyPem?: string;
    /** Require `Authorization: Bearer <token>` on API requests (401 otherwise), as GCS does. */
    token?: string;
  } = {},
): Promise<GcsDouble> {
  const buckets = new Map<string, Map<string, GcsObject>>();
  const locations = new Map<string, string>();
  const sessions = new Map<string, ResumableSession>();
  const requests = new Map<string, number>();
  let failures = 0;
  let failPrefix = '';
  let failStatus = 503;
  let failMethod: string | undefined;
  const bytesReceived = { value: 0 };
  let generation = 1;
  let endpoint = '';

  const count = (kind: string) => requests.set(kind, (requests.get(kind) ?? 0) + 1);

  const resource = (bucket: string, o: GcsObject) => ({
    kind: 'storage#object',
    id: `${bucket}/${o.name}/${o.generation}`,
    name: o.name,
    bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    size: String(o.data.length),
    md5Hash: md5b64(o.data),
    crc32c: crc32cB64(o.data),
    etag: md5b64(Buffer.from(`${o.generation}`)),
    updated: o.updated,
    timeCreated: o.updated,
    storageClass: 'STANDARD',
    ...(Object.keys(o.metadata).length > 0 ? { metadata: o.metadata } : {}),
  });

  const store = (
    bucket: string,
    name: string,
    data: Buffer,
    contentType: string,
    metadata: Record<string, string>,
  ) => {
    const objects = buckets.get(bucket)!;
    const o: GcsObject = {
      name,
      data,
      contentType,
      metadata,
      generation: generation++,
      updated: new Date().toISOString(),
    };
    objects.set(name, o);
    return o;
  };

  const sendMedia = (req: IncomingMessage, res: ServerResponse, o: GcsObject) => {
    const headers: Record<string, string> = {
      'content-type': o.contentType,
      'x-goog-hash': `crc32c=${crc32cB64(o.data)},md5=${md5b64(o.data)}`,
      'x-goog-generation': String(o.generation),
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': String(o.data.length),
    };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const size = o.data.length;
      let start: number;
      let end: number;
      if (range[1] === '') {
        start = Math.max(0, size - Number(range[2]));
        end = size - 1;
      } else {
        start = Number(range[1]);
        end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
      }
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      const slice = o.data.subarray(start, end + 1);
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${size}`,
        'content-length': String(slice.length),
      });
      res.end(slice);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(o.data.length) });
    res.end(o.data);
  };

  const verifySigned = (url: URL, bucket: string, name: string): string | undefined => {
    const expires = Number(url.searchParams.get('X-Goog-Expires'));
    const date = url.searchParams.get('X-Goog-Date') ?? '';
    const signature = url.searchParams.get('X-Goog-Signature');
    if (!signature || !date) return 'not a signed URL';
    const t = Date.parse(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    if (Date.now() > t + expires * 1000) return 'signed URL expired';
    if (!options.publicKeyPem) return undefined;
    // Rebuild the V4 canonical request and string-to-sign, as GCS does.
    const params = [...url.searchParams.entries()]
      .filter(([k]) => k !== 'X-Goog-Signature')
      .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const signedHeaders = url.searchParams.get('X-Goog-SignedHeaders') ?? 'host';
    const path = `/${bucket}/${name
      .split('/')
      .map((p) => encodeURIComponent(p))
      .join('/')}`;
    const canonical = [
      'GET',
      path,
      params,
      `host:${url.hostname}\n`,
      signedHeaders,
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const scope = (url.searchParams.get('X-Goog-Credential') ?? '').split('/').slice(1).join('/');
    const toSign = [
      'GOOG4-RSA-SHA256',
      date,
      scope,
      createHash('sha256').update(canonical).digest('hex'),
    ].join('\n');
    const ok = createVerify('RSA-SHA256')
      .update(toSign)
      .verify(options.publicKeyPem, Buffer.from(signature, 'hex'));
    return ok ? undefined : 'signature does not match';
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', endpoint);
    const method = req.method ?? 'GET';
    if (
      failures > 0 &&
      url.pathname.startsWith(failPrefix) &&
      (failMethod === undefined || failMethod === method)
    ) {
      failures--;
      count('failed');
      await body(req);
      error(res, failStatus, `injected failure ${failStatus}`);
      return;
    }
    const signedUrl = url.searchParams.has('X-Goog-Signature');
    if (options.token !== undefined && !signedUrl) {
      if (req.headers.authorization !== `Bearer ${options.token}`) {
        count('unauthorized');
        await body(req);
        res.setHeader('www-authenticate', 'Bearer realm="https://accounts.google.com/"');
        error(res, 401, 'Invalid Credentials');
        return;
      }
    }
    let path = url.pathname;
    if (path.startsWith('/download/')) path = path.slice('/download'.length);
    let m: RegExpExecArray | null;

    // Resumable: initiate and upload.
    if ((m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path))) {
      const bucket = decodeURIComponent(m[1]!);
      if (!buckets.has(bucket)) return error(res, 404, `bucket ${bucket} not found`);
      const type = url.searchParams.get('uploadType');
      if (method === 'POST' && type === 'multipart') {
        count('upload-simple');
        const parts = parseRelated(req.headers['content-type'] ?? '', await body(req));
        const meta = JSON.parse(parts[0]?.toString() ?? '{}') as {
          name?: string;
          contentType?: string;
          md5Hash?: string;
          metadata?: Record<string, string>;
        };
        const data = parts[1] ?? Buffer.alloc(0);
        const name = meta.name ?? url.searchParams.get('name') ?? '';
        if (meta.md5Hash && meta.md5Hash !== md5b64(data))
          return error(res, 400, 'Provided MD5 hash does not match the data');
        const o = store(
          bucket,
          name,
          data,
          meta.contentType ?? 'application/octet-stream',
          meta.metadata ?? {},
        );
        return json(res, 200, resource(bucket, o));
      }
      if (method === 'POST' && type === 'resumable') {
        count('upload-resumable-start');
        const raw = await body(req);
        const meta = (raw.length > 0 ? JSON.parse(raw.toString()) : {}) as {
          name?: string;
          contentType?: string;
          md5Hash?: string;
          metadata?: Record<string, string>;
        };
        const id = randomBytes(12).toString('hex');
        sessions.set(id, {
          bucket,
          name: url.searchParams.get('name') ?? meta.name ?? '',
          contentType:
            (req.headers['x-upload-content-type'] as string | undefined) ??
            meta.contentType ??
            'application/octet-stream',
          metadata: meta.metadata ?? {},
          ...(meta.md5Hash ? { md5Hash: meta.md5Hash } : {}),
          chunks: [],
          received: 0,
        });
        res.writeHead(200, {
          location: `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`,
          'content-length': '0',
        });
        res.end();
        return;
      }
      if (method === 'DELETE' && type === 'resumable') {
        // Cancelling a session: GCS answers 499 and forgets the bytes.
        count('upload-resumable-cancel');
        await body(req);
        sessions.delete(url.searchParams.get('upload_id') ?? '');
        res.writeHead(499, { 'content-length': '0' });
        res.end();
        return;
      }
      if (method === 'PUT' && type === 'resumable') {
        const id = url.searchParams.get('upload_id') ?? '';
        const s = sessions.get(id);
        const range = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(
          req.headers['content-range'] ?? '',
        );
        const statusQuery = range?.[1] === '*';
        count(statusQuery ? 'upload-resumable-status' : 'upload-resumable-put');
        const data = await body(req);
        if (!s) return error(res, 404, 'no such upload session');
        bytesReceived.value += data.length;
        const total = range?.[4] !== undefined && range[4] !== '*' ? Number(range[4]) : undefined;
        if (range && !statusQuery) {
          const start = Number(range[2]);
          if (start > s.received)
            return error(res, 400, `gap in resumable upload: have ${s.received}, got ${start}`);
          // Every chunk but the last is a multiple of 256 KiB (GCS refuses others).
          const last = range[3] === '*' || (total !== undefined && start + data.length === total);
          if (!last && data.length % (256 * 1024) !== 0)
            return error(res, 400, 'chunk size must be a multiple of 256 KiB');
          // A retry resending bytes we have: keep only the new tail.
          const tail = data.subarray(s.received - start);
          s.chunks.push(tail);
          s.received += tail.length;
        } else if (!range) {
          s.chunks.push(data);
          s.received += data.length;
        }
        // "bytes N-*/*" (or no Content-Range): a streamed single request, complete at its end.
        const streamedToEnd = !range || range[3] === '*';
        if (streamedToEnd || (total !== undefined && total === s.received)) {
          const all = Buffer.concat(s.chunks);
          if (s.md5Hash && s.md5Hash !== md5b64(all))
            return error(res, 400, 'Provided MD5 hash does not match the data');
          const o = store(s.bucket, s.name, all, s.contentType, s.metadata);
          sessions.delete(id);
          return json(res, 200, resource(s.bucket, o));
        }
        res.writeHead(308, {
          ...(s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {}),
          'content-length': '0',
        });
        res.end();
        return;
      }
      return error(res, 400, `unsupported upload ${method} ${type}`);
    }

    if (
      (m = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)\/(rewriteTo|copyTo)\/b\/([^/]+)\/o\/(.+)$/.exec(
        path,
      ))
    ) {
      count('rewrite');
      await body(req);
      const [sb, so, , db, dob] = [m[1]!, m[2]!, m[3]!, m[4]!, m[5]!].map(decodeURIComponent) as [
        string,
        string,
        string,
        string,
        string,
      ];
      const src = buckets.get(sb)?.get(so);
      if (!src) return error(res, 404, `No such object: ${sb}/${so}`);
      if (!buckets.has(db)) return error(res, 404, `bucket ${db} not found`);
      const o = store(db, dob, Buffer.from(src.data), src.contentType, { ...src.metadata });
      const r = resource(db, o);
      if (m[3] === 'copyTo') return json(res, 200, r);
      return json(res, 200, {
        kind: 'storage#rewriteResponse',
        totalBytesRewritten: String(o.data.length),
        objectSize: String(o.data.length),
        done: true,
        resource: r,
      });
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path))) {
      const bucket = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[2]!);
      const objects = buckets.get(bucket);
      if (!objects) return error(res, 404, `bucket ${bucket} not found`);
      const o = objects.get(name);
      if (method === 'DELETE') {
        count('delete');
        if (!o) return error(res, 404, `No such object: ${bucket}/${name}`);
        objects.delete(name);
        res.writeHead(204);
        res.end();
        return;
      }
      if (!o) {
        count(url.searchParams.get('alt') === 'media' ? 'media' : 'get');
        return error(res, 404, `No such object: ${bucket}/${name}`);
      }
      if (method === 'PATCH' || method === 'PUT') {
        count('patch');
        const patch = JSON.parse((await body(req)).toString() || '{}') as {
          metadata?: Record<string, string | null>;
          contentType?: string;
        };
        for (const [k, v] of Object.entries(patch.metadata ?? {})) {
          if (v === null) delete o.metadata[k];
          else o.metadata[k] = v;
        }
        if (patch.contentType) o.contentType = patch.contentType;
        return json(res, 200, resource(bucket, o));
      }
      if (url.searchParams.get('alt') === 'media') {
        count('media');
        return sendMedia(req, res, o);
      }
      count('get');
      return json(res, 200, resource(bucket, o));
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path)) && method === 'GET') {
      count('list');
      const bucket = decodeURIComponent(m[1]!);
      const objects = buckets.get(bucket);
      if (!objects) return error(res, 404, `bucket ${bucket} not found`);
      const prefix = url.searchParams.get('prefix') ?? '';
      const max = Math.min(Number(url.searchParams.get('maxResults') ?? 1000) || 1000, 1000);
      const after = url.searchParams.get('pageToken');
      const afterName = after ? Buffer.from(after, 'base64url').toString() : undefined;
      const names = [...objects.keys()]
        .filter((n) => n.startsWith(prefix) && (afterName === undefined || n > afterName))
        .sort();
      const page = names.slice(0, max);
      const more = names.length > max;
      return json(res, 200, {
        kind: 'storage#objects',
        items: page.map((n) => resource(bucket, objects.get(n)!)),
        ...(more
          ? { nextPageToken: Buffer.from(page[page.length - 1]!).toString('base64url') }
          : {}),
      });
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)$/.exec(path)) && method === 'GET') {
      count('bucket');
      const bucket = decodeURIComponent(m[1]!);
      if (!buckets.has(bucket)) return error(res, 404, `bucket ${bucket} not found`);
      return json(res, 200, {
        kind: 'storage#bucket',
        name: bucket,
        location: locations.get(bucket) ?? 'US',
        locationType: 'region',
      });
    }

    // Signed URL (path style): GET /bucket/object?X-Goog-Signature=...
    if ((m = /^\/([^/]+)\/(.+)$/.exec(path)) && method === 'GET') {
      count('signed-get');
      const bucket = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[2]!);
      const why = verifySigned(url, bucket, name);
      if (why) {
        res.writeHead(403, { 'content-type': 'text/plain' });
        res.end(why);
        return;
      }
      const o = buckets.get(bucket)?.get(name);
      if (!o) {
        res.writeHead(404);
        res.end();
        return;
      }
      return sendMedia(req, res, o);
    }
    error(res, 404, `no route for ${method} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) error(res, 500, (e as Error).message);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    buckets,
    requests,
    createBucket(name: string, location = 'US-CENTRAL1') {
      if (!buckets.has(name)) buckets.set(name, new Map());
      locations.set(name, location);
    },
    totalRequests: () => [...requests.values()].reduce((a, b) => a + b, 0),
    failNext(n: number, pathPrefix = '', status = 503, method?: string) {
      failures = n;
      failPrefix = pathPrefix;
      failStatus = status;
      failMethod = method;
    },
    bytesReceived,
    openSessions: () => sessions.size,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
