/**
 * List Blobs (GET ?restype=container&comp=list) sent through the container client's own
 * pipeline — its credential (shared key, SAS in the URL, or Entra ID token), retry and
 * request-id policies — with the response read as a stream and parsed by the small XML reader,
 * instead of through the SDK's generic XML-to-model deserialiser, which costs about 1 s of CPU
 * for a page of 1,000 blobs (most of a no-op sync's time). The fields read are those of the
 * documented response: Name (percent-decoded when Encoded="true"), Properties/Content-Length,
 * Content-MD5, Last-Modified, Etag, and Metadata.
 */
import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type {
  HttpHeaders,
  PipelineRequest,
  PipelineResponse,
  RawHttpHeaders,
} from '@azure/core-rest-pipeline';
import { readWhole } from '../object-store-common.js';
import { childOf, decodeXmlText, readXml, textOf, XmlSyntaxError } from '../xml-reader.js';
import {
  element,
  leafText,
  leaves,
  records,
  rootContent,
  scanned,
  unreadable,
} from '../listing-scan.js';

/** One blob as the listing describes it. */
export interface ListedBlob {
  name: string;
  size: number;
  lastModified?: Date;
  /** Hex; absent when the blob has no Content-MD5. */
  md5?: string;
  etag?: string;
  metadata: Record<string, string>;
}

export interface BlobListPage {
  blobs: ListedBlob[];
  /** The marker of the next page; undefined on the last one. */
  nextMarker: string | undefined;
}

/** Sends one request through a client's pipeline. */
export type SendRequest = (request: PipelineRequest) => Promise<PipelineResponse>;

/**
 * A REST API version Azure Storage and Azurite 3.35 (the one tested) accept without
 * --skipApiVersionCheck; the List Blobs fields read here are the same in every recent version.
 */
const LIST_API_VERSION = '2025-01-05';
/** The most blobs one List Blobs page returns. */
export const MAX_PAGE = 5000;

/**
 * The container client's pipeline (core-client's ServiceClient.sendRequest, which the storage
 * clients hold as `storageClientContext`), or undefined when this SDK version has no such
 * member: the caller then lists through the SDK's models.
 *
 * The pipeline's form-data policy is taken out: Blob Storage never takes a form, and the
 * policy's `instanceof FormData` check loads Node's fetch implementation (undici, ~15 ms of
 * CPU) on the first request of every run.
 */
export function pipelineOf(container: ContainerClient): SendRequest | undefined {
  const context = (container as unknown as { storageClientContext?: ServiceClientLike })
    .storageClientContext;
  if (typeof context?.sendRequest !== 'function') return undefined;
  context.pipeline?.removePolicy?.({ name: 'formDataPolicy' });
  const send = context.sendRequest as SendRequest;
  return (request) => send.call(context, request);
}

/** What pipelineOf uses of core-client's ServiceClient. */
interface ServiceClientLike {
  sendRequest?: unknown;
  pipeline?: { removePolicy?: (options: { name: string }) => unknown };
}

/** The List Blobs URL of one page (the container URL may carry a SAS query already). */
export function listBlobsUrl(
  containerUrl: string,
  options: { prefix?: string; marker?: string; maxResults?: number },
): string {
  const query = [
    'restype=container',
    'comp=list',
    'include=metadata',
    `maxresults=${options.maxResults ?? MAX_PAGE}`,
    ...(options.prefix ? [`prefix=${encodeURIComponent(options.prefix)}`] : []),
    ...(options.marker ? [`marker=${encodeURIComponent(options.marker)}`] : []),
  ].join('&');
  return `${containerUrl}${containerUrl.includes('?') ? '&' : '?'}${query}`;
}

/** Lists one page. Errors carry the service's status code and error code (as the SDK's do). */
export async function listBlobsPage(
  send: SendRequest,
  containerUrl: string,
  options: { prefix?: string; marker?: string; maxResults?: number; signal?: AbortSignal },
): Promise<BlobListPage> {
  const response = await send(getRequest(listBlobsUrl(containerUrl, options), options.signal));
  if (response.status !== 200) throw serviceError(response);
  const body = response.readableStreamBody;
  if (!body) throw new Error('the List Blobs response has no body');
  // Decoded once, whole: a UTF-8 character may straddle two chunks.
  return readBlobList((await readWhole(body)).toString('utf8'));
}

/** The blobs and next marker of a List Blobs response body. */
export function readBlobList(xml: string): BlobListPage {
  return scanned(xml, scanBlobList) ?? readWholeBlobList(xml);
}

/**
 * The fast path (listing-scan.ts). A <Blob>'s children come in the documented order: Name
 * first, then Properties, then Metadata (whose keys may be any name, "Name" or "Etag" too).
 */
export function scanBlobList(xml: string): BlobListPage {
  const root = rootContent(xml, 'EnumerationResults');
  const list = element(root, 'Blobs');
  const blobs = list ? records(list.content, 'Blob').map(scanBlob) : [];
  const marker = leafText(list ? root.slice(list.end) : root, 'NextMarker');
  return { blobs, nextMarker: marker || undefined };
}

function scanBlob(blob: string): ListedBlob {
  const name = element(blob, 'Name');
  if (!name || name.content.includes('<')) return unreadable();
  const rest = blob.slice(name.end);
  const props = element(rest, 'Properties');
  const p = (field: string) => (props ? leafText(props.content, field) : undefined);
  const metadata = element(props ? rest.slice(props.end) : rest, 'Metadata');
  return listedBlob(
    decodeXmlText(name.content),
    /Encoded\s*=\s*["']true["']/.test(name.attributes),
    p('Content-Length'),
    p('Content-MD5'),
    p('Last-Modified'),
    p('Etag'),
    metadata ? leaves(metadata.content) : {},
  );
}

/** The slow path: the whole document read by the full reader (and malformed XML reported). */
function readWholeBlobList(xml: string): BlobListPage {
  const doc = readXml(xml);
  if (doc.name !== 'EnumerationResults')
    throw new XmlSyntaxError(`<EnumerationResults> expected, got <${doc.name}>`, 0);
  const blobs: ListedBlob[] = [];
  for (const b of childOf(doc, 'Blobs')?.children ?? []) {
    if (b.name !== 'Blob') continue; // BlobPrefix: only in hierarchical listings
    const name = childOf(b, 'Name');
    if (!name) throw new XmlSyntaxError('a <Blob> without a <Name>', 0);
    const p = childOf(b, 'Properties');
    const metadata: Record<string, string> = {};
    for (const m of childOf(b, 'Metadata')?.children ?? []) metadata[m.name] = m.text;
    blobs.push(
      listedBlob(
        name.text,
        name.attributes.Encoded === 'true',
        textOf(p, 'Content-Length'),
        textOf(p, 'Content-MD5'),
        textOf(p, 'Last-Modified'),
        textOf(p, 'Etag'),
        metadata,
      ),
    );
  }
  return { blobs, nextMarker: textOf(doc, 'NextMarker') || undefined };
}

/** A blob from the texts of its fields, as either reader found them (no spread: see listing-scan.ts). */
function listedBlob(
  name: string,
  encoded: boolean,
  size: string | undefined,
  md5: string | undefined,
  lastModified: string | undefined,
  etag: string | undefined,
  metadata: Record<string, string>,
): ListedBlob {
  const blob: ListedBlob = {
    name: encoded ? decodeURIComponent(name) : name,
    size: Number(size ?? 0),
    metadata,
  };
  if (lastModified) blob.lastModified = new Date(lastModified);
  if (md5) blob.md5 = Buffer.from(md5, 'base64').toString('hex');
  if (etag) blob.etag = etag.replace(/"/g, '');
  return blob;
}

function getRequest(url: string, signal: AbortSignal | undefined): PipelineRequest {
  return {
    url,
    method: 'GET',
    headers: new RequestHeaders({ 'x-ms-version': LIST_API_VERSION }),
    timeout: 0,
    withCredentials: false,
    requestId: randomUUID(),
    // The body comes back as a stream: the pipeline's deserialisation policy leaves it alone.
    streamResponseStatusCodes: new Set([200]),
    // As the client's own operations do on an http:// endpoint it was given (an emulator);
    // token credentials still refuse plain HTTP in their own policy.
    allowInsecureConnection: url.startsWith('http:'),
    ...(signal ? { abortSignal: signal } : {}),
  };
}

/**
 * Request headers as core-rest-pipeline keeps them (case-insensitive names, the case given
 * kept for toJSON({ preserveCase })). Made here rather than with createHttpHeaders: importing
 * @azure/core-rest-pipeline itself would load a second copy of it from node_modules (about
 * 0.5 s of start-up) beside the one bundled with the storage SDK.
 */
class RequestHeaders implements HttpHeaders {
  private readonly map = new Map<string, { name: string; value: string }>();
  constructor(initial: Record<string, string>) {
    for (const [name, value] of Object.entries(initial)) this.set(name, value);
  }
  get(name: string): string | undefined {
    return this.map.get(name.toLowerCase())?.value;
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  set(name: string, value: string | number | boolean): void {
    this.map.set(name.toLowerCase(), { name, value: String(value) });
  }
  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }
  toJSON(options: { preserveCase?: boolean } = {}): RawHttpHeaders {
    const out: RawHttpHeaders = {};
    for (const [key, h] of this.map) out[options.preserveCase ? h.name : key] = h.value;
    return out;
  }
  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const [key, h] of this.map) yield [key, h.value];
  }
}

/** An error like the SDK's RestError: message from the body, status and error code. */
function serviceError(response: PipelineResponse): Error {
  const code = response.headers.get('x-ms-error-code');
  let message = `List Blobs answered ${response.status}`;
  try {
    if (response.bodyAsText) message = textOf(readXml(response.bodyAsText), 'Message') ?? message;
  } catch {
    // not XML (a proxy's page): keep the status line
  }
  return Object.assign(new Error(message), {
    name: 'RestError',
    statusCode: response.status,
    ...(code ? { code } : {}),
  });
}
