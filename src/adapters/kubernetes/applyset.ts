/**
 * ApplySet-style ownership (KEP-3659): a parent Secret per owner carries the set's id and the
 * group-kinds its members have; every member carries the `part-of` label with that id. Prune
 * lists only objects with this label, so an object mcml did not create is never touched.
 * `kubectl apply --prune --applyset` reads the same labels and annotations.
 */
import { createHash } from 'node:crypto';
import type { ClusterObject, ObjectRef } from '../../ports/cluster.js';

export const PART_OF = 'applyset.kubernetes.io/part-of';
export const APPLYSET_ID = 'applyset.kubernetes.io/id';
export const TOOLING = 'applyset.kubernetes.io/tooling';
export const CONTAINS_GROUP_KINDS = 'applyset.kubernetes.io/contains-group-kinds';
/** apiVersion/Kind of the members, so prune can list kinds the new set no longer has. */
export const MEMBER_KINDS = 'mcml.dev/member-kinds';
export const REVISION = 'mcml.dev/revision';
export const REVISION_HASH = 'mcml.dev/revision-hash';
export const REVISION_NOTE = 'mcml.dev/revision-note';
/**
 * On the parent while an apply is under way (the new set's hash): members may then exist that
 * no revision record lists, so the next apply lists them from the cluster instead.
 */
export const APPLYING = 'mcml.dev/applying';
/** Label of revision records: the applyset id they belong to. */
export const REVISION_OF = 'mcml.dev/revision-of';

/** Name of the parent Secret of an owner. */
export function parentName(owner: string): string {
  return `mcml-${owner}`.slice(0, 253);
}

/** The ApplySet id: base64url(sha256("<name>.<namespace>.<kind>.<group>")), as KEP-3659 says. */
export function applySetId(owner: string, namespace: string): string {
  const digest = createHash('sha256')
    .update(`${parentName(owner)}.${namespace}.Secret.`)
    .digest('base64url');
  return `applyset-${digest}-v1`;
}

export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
}

/** "Deployment.apps", "Service". */
export function groupKind(apiVersion: string, kind: string): string {
  const group = groupOf(apiVersion);
  return group ? `${kind}.${group}` : kind;
}

/** A copy of the object labelled as a member of the set. */
export function withMembership(object: ClusterObject, id: string): ClusterObject {
  const copy = structuredClone(object);
  copy.metadata.labels = { ...(copy.metadata.labels ?? {}), [PART_OF]: id };
  return copy;
}

const FIRST = ['Namespace', 'CustomResourceDefinition'];

/** Namespaces and CRDs first (others live in or depend on them); otherwise as given. */
export function applyOrder(objects: ClusterObject[]): ClusterObject[] {
  const rank = (o: ClusterObject) => (FIRST.includes(o.kind) ? 0 : 1);
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i)
    .map((x) => x.o);
}

/** What pods read when they start: applied before the workloads that mount or run as them. */
const POD_INPUTS = ['ServiceAccount', 'ConfigMap', 'Secret', 'PersistentVolumeClaim'];
const WORKLOADS = ['Deployment', 'StatefulSet', 'DaemonSet'];

/** What starts a rollout: what pods read, and the workloads themselves. */
export function startsRollout(object: ClusterObject): boolean {
  return POD_INPUTS.includes(object.kind) || WORKLOADS.includes(object.kind);
}

/**
 * The order objects are started in, after Namespaces and CRDs: what pods read, then workloads,
 * then the rest (Services, budgets, autoscalers…). A rollout's wait begins when its workload is
 * applied, so starting workloads early lets the rest of the apply overlap the rollout. Only the
 * sending order: the set, its hash and its revision record keep applyOrder's order.
 */
export function startOrder(objects: ClusterObject[]): ClusterObject[] {
  const rank = (o: ClusterObject) =>
    POD_INPUTS.includes(o.kind) ? 0 : WORKLOADS.includes(o.kind) ? 1 : 2;
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i)
    .map((x) => x.o);
}

/** sha256 of the exact objects, to know whether a set differs from the recorded revision. */
export function setHash(objects: ClusterObject[]): string {
  return createHash('sha256').update(JSON.stringify(objects)).digest('hex');
}

export function sameRef(a: ObjectRef, b: ObjectRef): boolean {
  return (
    groupKind(a.apiVersion, a.kind) === groupKind(b.apiVersion, b.kind) &&
    a.name === b.name &&
    (a.namespace ?? '') === (b.namespace ?? '')
  );
}

const SERVER_METADATA = [
  'managedFields',
  'resourceVersion',
  'uid',
  'creationTimestamp',
  'generation',
  'selfLink',
];

/** The object without what the server adds (status, managed fields, versions): for diffs. */
export function withoutServerFields(object: ClusterObject): ClusterObject {
  const { status: _status, ...rest } = structuredClone(object);
  for (const key of SERVER_METADATA) delete rest.metadata[key];
  return sortedKeys(rest) as ClusterObject;
}

/**
 * The same value with object keys in sorted order, so two objects that differ only in the
 * order the server and the manifests write their fields compare (and print) the same.
 */
export function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
