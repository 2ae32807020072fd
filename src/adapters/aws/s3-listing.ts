/**
 * ListObjectsV2 pages read by the small XML reader: the request still goes through the S3
 * client (endpoint, signing, retries, region redirects, the 200-with-<Error> check), but a
 * middleware on the one command takes the response body before the SDK's schema-driven
 * deserialiser, which costs ~0.2 s of CPU per 1,000 keys, and hands it an empty result instead.
 * Fields read: Key, Size, LastModified, ETag; IsTruncated and NextContinuationToken.
 */
import type {
  ListObjectsV2Command,
  ListObjectsV2CommandInput,
  ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import type { DeserializeMiddleware } from '@smithy/types';
import type { Readable } from 'node:stream';
import { readWhole } from '../object-store-common.js';
import { childOf, readXml, textOf } from '../xml-reader.js';
import { leafText, records, rootContent, scanned } from '../listing-scan.js';

/** One object as the listing describes it. */
export interface ListedObject {
  key: string;
  size: number;
  lastModified?: Date;
  /** As S3 gives it, quotes included. */
  etag?: string;
}

export interface ObjectListPage {
  objects: ListedObject[];
  /** The continuation token of the next page; undefined on the last one. */
  nextToken: string | undefined;
}

/** The SDK's own middleware type (a type only: @smithy/types is what client-s3's types use). */
type RelativeMiddleware = DeserializeMiddleware<
  ListObjectsV2CommandInput,
  ListObjectsV2CommandOutput
>;

/** What the SDK's deserialiser is given instead of the listing it no longer needs to read. */
const EMPTY_RESULT = new TextEncoder().encode('<ListBucketResult></ListBucketResult>');

/**
 * Makes `command` keep its response body for readObjectList. Returns the page once the command
 * has been sent (undefined if the response was not a ListBucketResult: the SDK read it then).
 */
export function readListingOf(command: ListObjectsV2Command): () => ObjectListPage | undefined {
  let page: ObjectListPage | undefined;
  const keepBody: RelativeMiddleware = (next) => async (args) => {
    const result = await next(args);
    const response = result.response as { statusCode?: number; body?: unknown };
    if (response.statusCode !== 200 || !isStream(response.body)) return result;
    const bytes = await readWhole(response.body);
    // A retried request comes through here again: only the last answer counts.
    page = readObjectList(bytes.toString('utf8'));
    response.body = page ? EMPTY_RESULT : new Uint8Array(bytes);
    return result;
  };
  command.middlewareStack.addRelativeTo(keepBody, {
    relation: 'after',
    toMiddleware: 'deserializerMiddleware',
    name: 'mcmlLeanListing',
    override: true,
  });
  return () => page;
}

/** The objects and continuation token of a ListObjectsV2 body; undefined for another body. */
export function readObjectList(xml: string): ObjectListPage | undefined {
  return scanned(xml, scanObjectList) ?? readWholeObjectList(xml);
}

/** The fast path (listing-scan.ts); the page's own fields may come before or after <Contents>. */
export function scanObjectList(xml: string): ObjectListPage {
  const root = rootContent(xml, 'ListBucketResult');
  const objects: ListedObject[] = [];
  for (const c of records(root, 'Contents')) {
    const key = leafText(c, 'Key');
    if (key === undefined) continue;
    objects.push(
      listedObject(key, leafText(c, 'Size'), leafText(c, 'LastModified'), leafText(c, 'ETag')),
    );
  }
  // Searched with the records cut out: a field of the page, not of an object.
  const page = root.replace(/<Contents>[\s\S]*?<\/Contents>/g, '');
  const truncated = leafText(page, 'IsTruncated') === 'true';
  return { objects, nextToken: truncated ? leafText(page, 'NextContinuationToken') : undefined };
}

/** The slow path: the whole document read by the full reader. */
function readWholeObjectList(xml: string): ObjectListPage | undefined {
  let doc;
  try {
    doc = readXml(xml);
  } catch {
    return undefined; // not ours to judge: the SDK reads it and reports what it is
  }
  if (doc.name !== 'ListBucketResult') return undefined;
  const objects: ListedObject[] = [];
  for (const c of doc.children) {
    if (c.name !== 'Contents') continue;
    const key = childOf(c, 'Key');
    if (!key) continue;
    objects.push(
      listedObject(key.text, textOf(c, 'Size'), textOf(c, 'LastModified'), textOf(c, 'ETag')),
    );
  }
  const truncated = textOf(doc, 'IsTruncated') === 'true';
  return { objects, nextToken: truncated ? textOf(doc, 'NextContinuationToken') : undefined };
}

/** An object from the texts of its fields, as either reader found them (no spread: see listing-scan.ts). */
function listedObject(
  key: string,
  size: string | undefined,
  lastModified: string | undefined,
  etag: string | undefined,
): ListedObject {
  const object: ListedObject = { key, size: Number(size ?? 0) };
  if (lastModified) object.lastModified = new Date(lastModified);
  if (etag) object.etag = etag;
  return object;
}

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | undefined)?.[Symbol.asyncIterator] === 'function';
}
