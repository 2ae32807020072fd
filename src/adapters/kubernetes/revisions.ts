/**
 * Revision records: the exact objects of every applied revision, gzipped into a Secret per
 * revision beside the ApplySet parent (Secrets: manifests may one day carry sensitive values).
 * A rollback applies the objects of a record again, byte for byte.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { ClusterObject, RevisionNote } from '../../ports/cluster.js';
import { REVISION, REVISION_OF, parentName } from './applyset.js';

export interface RevisionRecord {
  revision: number;
  appliedAt: string;
  note: RevisionNote;
  hash: string;
  objects: ClusterObject[];
}

/** Revisions kept per owner and cluster. */
export const KEEP_REVISIONS = 10;

const DATA_KEY = 'revision.json.gz';

export function revisionName(owner: string, revision: number): string {
  return `${parentName(owner)}-r${revision}`;
}

export function revisionSecret(
  owner: string,
  namespace: string,
  id: string,
  record: RevisionRecord,
): ClusterObject {
  const payload = gzipSync(Buffer.from(JSON.stringify(record))).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: revisionName(owner, record.revision),
      namespace,
      labels: { [REVISION_OF]: id, [REVISION]: String(record.revision) },
    },
    type: 'mcml.dev/revision',
    data: { [DATA_KEY]: payload },
  };
}

/**
 * A revision record as listed: its number from the Secret's label, its content read (gunzipped,
 * parsed) only when asked — an apply needs the current record's objects, not the other nine.
 */
export interface StoredRevision {
  revision: number;
  read(): RevisionRecord | undefined;
}

export function storedRevision(secret: ClusterObject): StoredRevision | undefined {
  let read: { record: RevisionRecord | undefined } | undefined;
  const readOnce = () => (read ??= { record: readRevisionSecret(secret) }).record;
  const label = Number(secret.metadata.labels?.[REVISION] ?? NaN);
  if (Number.isInteger(label)) return { revision: label, read: readOnce };
  // No label (written by hand?): only the content can say which revision it is.
  const record = readOnce();
  return record ? { revision: record.revision, read: readOnce } : undefined;
}

export function readRevisionSecret(secret: ClusterObject): RevisionRecord | undefined {
  const data = (secret as { data?: Record<string, string> }).data?.[DATA_KEY];
  if (!data) return undefined;
  try {
    return JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as RevisionRecord;
  } catch {
    return undefined;
  }
}
