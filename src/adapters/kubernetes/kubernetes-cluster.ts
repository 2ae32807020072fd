/**
 * The Cluster port on a Kubernetes API server (kubeconfig and authentication from
 * @kubernetes/client-node 1.x, requests on connection.ts's lean path): server-side apply as field
 * manager `mcml` (conflicts reported per field, `force` takes them), ApplySet
 * membership labels and a parent Secret per owner, prune limited to members, revision records
 * for exact rollbacks, rollout read from Deployment status and followed with a watch, events,
 * and requests to services through the API server's service proxy.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { McmlError } from '../../core/errors.js';
import type {
  ApplyOptions,
  ApplyResult,
  ApplySet,
  ApplySetRef,
  Cluster,
  ClusterEventRecord,
  ClusterObject,
  ObjectChange,
  ObjectRef,
  RevisionInfo,
  RevisionNote,
  RolloutStatus,
  ServiceAnswer,
  ServiceRequest,
  WorkloadStatus,
} from '../../ports/cluster.js';
import {
  APPLYING,
  APPLYSET_ID,
  CONTAINS_GROUP_KINDS,
  MEMBER_KINDS,
  PART_OF,
  REVISION,
  REVISION_HASH,
  REVISION_NOTE,
  REVISION_OF,
  TOOLING,
  applyOrder,
  startOrder,
  startsRollout,
  applySetId,
  groupKind,
  parentName,
  sameRef,
  setHash,
  withMembership,
  withoutServerFields,
} from './applyset.js';
import { describeRef, kubeError, type ErrorContext } from './errors.js';
import { ClusterConnection, HttpError } from './connection.js';
import { configForContext } from './kubeconfig.js';
import { ObjectClient, refOf } from './object-client.js';
import {
  KEEP_REVISIONS,
  revisionName,
  revisionSecret,
  storedRevision,
  type RevisionRecord,
  type StoredRevision,
} from './revisions.js';
import { deploymentStatus, overallPhase } from './rollout.js';

export interface KubernetesClusterOptions {
  target: string;
  /** The kubeconfig context of the target's cluster. */
  context: string;
  /** The loaded kubeconfig (all contexts); see loadKubeConfig. */
  kubeconfig: KubeConfig;
  /** Time limit of one API request (default 30 s). */
  requestTimeoutMs?: number;
  /** Written into the ApplySet tooling annotation. */
  tooling?: string;
}

/** Where a set stands on a cluster before an apply. */
interface LiveState {
  /** The parent's annotations ({} before the first apply). */
  annotations: Record<string, string>;
  /** The revision the cluster is at; undefined before the first apply. */
  current: number | undefined;
  /** Whether the parent exists (and so the set's namespace does). */
  parentFound: boolean;
  records: StoredRevision[];
  /** apiVersion/Kind of the new set's objects, and of the new and the old set's together. */
  newKinds: string[];
  kinds: string[];
  /** Whether `existing` are the current revision record's objects (not read from the cluster). */
  recorded: boolean;
  /** The set's members as they are. */
  existing: ClusterObject[];
}

/**
 * Unchanged or configured: a recorded member is what mcml applied then, so it is unchanged when
 * mcml applies the same now; a member read from the cluster is unchanged when the apply left its
 * resourceVersion alone.
 */
function actionOf(
  live: LiveState,
  object: ClusterObject,
  before: ClusterObject,
  after: () => ClusterObject,
): 'unchanged' | 'configured' {
  const same = live.recorded
    ? JSON.stringify(before) === JSON.stringify(object)
    : before.metadata.resourceVersion === after().metadata.resourceVersion;
  return same ? 'unchanged' : 'configured';
}

/**
 * Objects applied at once per cluster: one more than the connection's sockets (MAX_SOCKETS in
 * connection.ts), so a request is always queued and a socket never idles between an answer and
 * the next request; still 2–3× what kubectl's one-by-one apply sends per round trip.
 */
const APPLY_CONCURRENCY = 3;

export class KubernetesCluster implements Cluster {
  readonly target: string;
  readonly where: string;
  readonly #client: ObjectClient;
  readonly #connection: ClusterConnection;
  readonly #timeoutMs: number;
  readonly #tooling: string;
  /** The parent as this instance last applied it, by name/namespace. */
  readonly #applied = new Map<string, ClusterObject>();

  constructor(options: KubernetesClusterOptions) {
    this.target = options.target;
    const kc = configForContext(options.kubeconfig, options.context, options.target);
    this.where = `context "${options.context}", ${kc.getCurrentCluster()?.server ?? '?'}`;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#connection = new ClusterConnection(kc);
    this.#client = new ObjectClient(
      this.#connection,
      this.#timeoutMs,
      kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default',
    );
    this.#tooling = options.tooling ?? 'mcml/v1';
  }

  #ctx(verb: string, object?: ObjectRef): ErrorContext {
    return { target: this.target, where: this.where, verb, ...(object ? { object } : {}) };
  }

  async #call<T>(verb: string, object: ObjectRef | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw kubeError(error, this.#ctx(verb, object));
    }
  }

  /**
   * An authenticated read of the core group's resource list: it proves the cluster answers and
   * takes the credentials, and it is the first discovery answer an apply needs anyway.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    this.#client.prefetchDiscovery();
    const answer = await this.#call('reach the API server', undefined, () =>
      this.#connection.send('GET', '/api/v1', {
        timeoutMs: Math.min(this.#timeoutMs, 10_000),
        ...(signal ? { signal } : {}),
      }),
    );
    if (answer.status >= 200 && answer.status < 300) {
      this.#client.seedDiscovery('v1', answer.body);
      return;
    }
    throw kubeError(new HttpError(answer.status, answer.body), this.#ctx('reach the API server'));
  }

  /**
   * Namespaced objects without a namespace go into the set's; unknown kinds fail here, first.
   * Each group version is looked up once, all at once.
   */
  async #placed(set: ApplySet): Promise<ClusterObject[]> {
    const id = applySetId(set.name, set.namespace);
    const scopes = new Map<string, Promise<boolean>>();
    const scopeOf = (object: ClusterObject) => {
      const key = `${object.apiVersion}/${object.kind}`;
      let scope = scopes.get(key);
      if (!scope) {
        scope = this.#call('look up the kind of', refOf(object), () =>
          this.#client.isNamespaced(object.apiVersion, object.kind),
        );
        scopes.set(key, scope);
      }
      return scope;
    };
    const placed = await Promise.allSettled(
      set.objects.map(async (object) => {
        const namespaced = await scopeOf(object);
        const copy = withMembership(object, id);
        if (namespaced && !copy.metadata.namespace) copy.metadata.namespace = set.namespace;
        if (!namespaced) delete copy.metadata.namespace;
        return copy;
      }),
    );
    // The first object (in the set's order) whose kind failed names the failure.
    const failed = placed.find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
    return applyOrder(placed.map((p) => (p as PromiseFulfilledResult<ClusterObject>).value));
  }

  #parentRef(set: ApplySetRef): ObjectRef {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      name: parentName(set.name),
      namespace: set.namespace,
    };
  }

  async #parent(set: ApplySetRef): Promise<ClusterObject | undefined> {
    const ref = this.#parentRef(set);
    return this.#call('read', ref, () => this.#client.getObject(ref));
  }

  /** Every object carrying the set's membership label, across the kinds given. */
  async #members(set: ApplySetRef, kinds: string[]): Promise<ClusterObject[]> {
    const id = applySetId(set.name, set.namespace);
    const lists = await Promise.all(
      kinds.map(async (k) => {
        const cut = k.lastIndexOf('/');
        const apiVersion = k.slice(0, cut);
        const kind = k.slice(cut + 1);
        const ref = { apiVersion, kind, name: '*', namespace: set.namespace };
        let namespaced: boolean;
        try {
          namespaced = await this.#client.isNamespaced(apiVersion, kind);
        } catch {
          return []; // a kind the cluster no longer serves has no members to prune
        }
        const list = await this.#call('list', ref, () =>
          this.#client.listObjects(
            apiVersion,
            kind,
            namespaced ? set.namespace : undefined,
            `${PART_OF}=${id}`,
          ),
        );
        return list.items;
      }),
    );
    return lists.flat();
  }

  /**
   * The members as the last completed apply left them: the objects of the current revision
   * record, when the parent says that apply finished (no APPLYING mark, same hash). Saves a
   * list per kind; undefined when only the cluster can say (an interrupted apply, a forced
   * takeover, a dry run that shows live objects, no record).
   */
  #recordedMembers(
    annotations: Record<string, string>,
    records: StoredRevision[],
    options: ApplyOptions,
  ): ClusterObject[] | undefined {
    if (options.dryRun || options.force || annotations[APPLYING] !== undefined) return undefined;
    const current = Number(annotations[REVISION] ?? NaN);
    const record = records.find((r) => r.revision === current)?.read();
    return record && record.hash === annotations[REVISION_HASH] ? record.objects : undefined;
  }

  /**
   * Applies the set in phases: place the objects, read where the set stands, apply the members
   * (marking the parent while that is under way), prune what the set no longer has, record the
   * revision, and write the parent's final state.
   */
  async apply(set: ApplySet, options: ApplyOptions = {}): Promise<ApplyResult> {
    const { objects, live } = await this.#placedAndLive(set, options);
    if (options.dryRun) return this.#dryRun(set, objects, live.existing, live.current, options);
    const hash = setHash(objects);
    const changes = await this.#applyMembers(set, objects, live, hash, options);
    const prune = options.prune !== false;
    if (prune) changes.push(...(await this.#pruneGone(objects, live.existing)));
    const revision = await this.#recordRevision(set, objects, live, hash);
    this.#applied.set(
      parentName(set.name) + '/' + set.namespace,
      await this.#applyParent(set, prune ? live.newKinds : live.kinds, live.annotations, {
        [REVISION]: String(revision),
        [REVISION_HASH]: hash,
        [REVISION_NOTE]: JSON.stringify(
          revision === live.current
            ? JSON.parse(live.annotations[REVISION_NOTE] ?? '{}')
            : (set.note ?? {}),
        ),
      }),
    );
    return { revision, previous: live.current, changes };
  }

  /**
   * The placed objects and where the set stands, looked up at once (one round trip to the
   * cluster instead of two). A kind the cluster does not serve is the error reported when both
   * fail, as when placement ran first.
   */
  async #placedAndLive(
    set: ApplySet,
    options: ApplyOptions,
  ): Promise<{ objects: ClusterObject[]; live: LiveState }> {
    const [placed, live] = await Promise.allSettled([
      this.#placed(set),
      this.#liveState(set, set.objects, options),
    ]);
    if (placed.status === 'rejected') throw placed.reason;
    if (live.status === 'rejected') throw live.reason;
    return { objects: placed.value, live: live.value };
  }

  /** Where the set stands on the cluster before an apply: parent, records, members. */
  async #liveState(
    set: ApplySet,
    objects: ClusterObject[],
    options: ApplyOptions,
  ): Promise<LiveState> {
    const [parent, records] = await Promise.all([this.#parent(set), this.#records(set)]);
    const annotations = parent?.metadata.annotations ?? {};
    const current = annotations[REVISION] ? Number(annotations[REVISION]) : undefined;
    const oldKinds = (annotations[MEMBER_KINDS] ?? '').split(',').filter((k) => k !== '');
    const newKinds = [...new Set(objects.map((o) => `${o.apiVersion}/${o.kind}`))].sort();
    const kinds = [...new Set([...oldKinds, ...newKinds])].sort();
    const recorded = this.#recordedMembers(annotations, records, options);
    const existing = recorded ?? (await this.#members(set, kinds));
    return {
      annotations,
      current,
      parentFound: parent !== undefined,
      records,
      newKinds,
      kinds,
      recorded: recorded !== undefined,
      existing,
    };
  }

  /**
   * Namespaces and CRDs first, one by one (the rest live in or depend on them), then the parent
   * marked APPLYING (on an update, all of them at once), then the rest in startOrder, in
   * APPLY_CONCURRENCY lanes (what starts the rollouts, then, once the wave's start line clears,
   * the others), each taking the next object when
   * its last is answered (not batches that wait for their slowest). Every object is tried; the
   * first failure is reported with what was already applied.
   */
  async #applyMembers(
    set: ApplySet,
    objects: ClusterObject[],
    live: LiveState,
    hash: string,
    options: ApplyOptions,
  ): Promise<ObjectChange[]> {
    const changes: ObjectChange[] = [];
    const applied: ObjectRef[] = [];
    const applyOne = async (object: ClusterObject) => {
      const ref = refOf(object);
      const before = live.existing.find((e) => sameRef(refOf(e), ref));
      const after = await this.#call('apply', ref, () =>
        this.#client.applyObjectLazily(object, { force: options.force === true }),
      );
      applied.push(ref);
      changes.push({ ref, action: !before ? 'created' : actionOf(live, object, before, after) });
    };
    const first = objects.filter(
      (o) => o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition',
    );
    const rest = startOrder(objects.filter((o) => !first.includes(o)));
    const mark = () => this.#applyParent(set, live.kinds, live.annotations, { [APPLYING]: hash });
    try {
      if (live.parentFound) {
        // An update: the namespace exists (the parent lives in it), so the namespaces and CRDs
        // go out with the mark, one round trip instead of one per object and one for the mark.
        const sent = await Promise.allSettled([mark(), ...first.map(applyOne)]);
        const failed = sent.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      } else {
        for (const object of first) await applyOne(object);
        await mark();
      }
    } catch (error) {
      throw this.#partial(error, applied, live.current);
    }
    const failures: unknown[] = [];
    const inLanes = async (queue: ClusterObject[]): Promise<void> => {
      const lane = async (): Promise<void> => {
        for (let object = queue.shift(); object; object = queue.shift()) {
          await applyOne(object).catch((error: unknown) => failures.push(error));
        }
      };
      await Promise.all(Array.from({ length: Math.min(APPLY_CONCURRENCY, queue.length) }, lane));
    };
    // What starts the rollouts first; the rest when every target of the wave has started its.
    await inLanes(rest.filter(startsRollout));
    options.startLine?.reached();
    await options.startLine?.cleared();
    await inLanes(rest.filter((o) => !startsRollout(o)));
    if (failures.length > 0) throw this.#partial(failures[0], applied, live.current);
    return changes;
  }

  /** A failed apply, saying what is already applied on this cluster and from which revision. */
  #partial(error: unknown, applied: ObjectRef[], current: number | undefined): McmlError {
    const e = kubeError(error, this.#ctx('apply'));
    const note =
      applied.length > 0
        ? ` (already applied on this cluster: ${applied.map(describeRef).join(', ')})`
        : ' (nothing was applied on this cluster)';
    return new McmlError(e.code, e.message + note, {
      ...(e.hint ? { hint: e.hint } : {}),
      issues: e.issues,
      details: { ...e.details, applied, ...(current === undefined ? {} : { revision: current }) },
      cause: e.cause,
    });
  }

  /** Deletes the members the new set no longer has (never a Namespace). */
  async #pruneGone(objects: ClusterObject[], existing: ClusterObject[]): Promise<ObjectChange[]> {
    const changes: ObjectChange[] = [];
    for (const gone of existing.filter((e) => !objects.some((o) => sameRef(refOf(o), refOf(e))))) {
      if (gone.kind === 'Namespace') continue;
      const ref = refOf(gone);
      await this.#call('prune', ref, () => this.#client.deleteObject(ref));
      changes.push({ ref, action: 'pruned' });
    }
    return changes;
  }

  /** The revision the cluster is now at: the current one when the set is unchanged, else a new record. */
  async #recordRevision(
    set: ApplySet,
    objects: ClusterObject[],
    live: LiveState,
    hash: string,
  ): Promise<number> {
    if (live.annotations[REVISION_HASH] === hash && live.current !== undefined) return live.current;
    const revision = Math.max(live.current ?? 0, live.records.at(-1)?.revision ?? 0) + 1;
    await this.#record(set, live.records, {
      revision,
      appliedAt: new Date().toISOString(),
      note: set.note ?? {},
      hash,
      objects,
    });
    return revision;
  }

  async #dryRun(
    set: ApplySet,
    objects: ClusterObject[],
    existing: ClusterObject[],
    current: number | undefined,
    options: ApplyOptions,
  ): Promise<ApplyResult> {
    const newNamespaces = new Set<string>();
    const changes: ObjectChange[] = [];
    for (const object of objects) {
      const ref = refOf(object);
      const live =
        existing.find((e) => sameRef(refOf(e), ref)) ??
        (await this.#call('read', ref, () => this.#client.getObject(ref)));
      if (object.kind === 'Namespace' && !live) newNamespaces.add(object.metadata.name);
      let after: ClusterObject;
      if (ref.namespace && newNamespaces.has(ref.namespace)) {
        after = object; // its namespace does not exist yet: the server cannot dry-run it
      } else {
        after = await this.#call('dry-run apply', ref, () =>
          this.#client.applyObject(object, { dryRun: true, force: options.force === true }),
        );
      }
      const before = live ? withoutServerFields(live) : undefined;
      const next = withoutServerFields(after);
      changes.push({
        ref,
        action: !before
          ? 'created'
          : JSON.stringify(before) === JSON.stringify(next)
            ? 'unchanged'
            : 'configured',
        ...(before ? { before } : {}),
        after: next,
      });
    }
    for (const gone of existing.filter((e) => !objects.some((o) => sameRef(refOf(o), refOf(e))))) {
      if (gone.kind === 'Namespace' || options.prune === false) continue;
      changes.push({ ref: refOf(gone), action: 'pruned', before: withoutServerFields(gone) });
    }
    return { revision: current ?? 0, previous: current, changes };
  }

  async #applyParent(
    set: ApplySetRef,
    kinds: string[],
    annotations: Record<string, string>,
    extra: Record<string, string>,
  ): Promise<ClusterObject> {
    const id = applySetId(set.name, set.namespace);
    const keep = Object.fromEntries(
      [REVISION, REVISION_HASH, REVISION_NOTE]
        .filter((k) => annotations[k] !== undefined)
        .map((k) => [k, annotations[k]!]),
    );
    const parent: ClusterObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: parentName(set.name),
        namespace: set.namespace,
        labels: { [APPLYSET_ID]: id },
        annotations: {
          [TOOLING]: this.#tooling,
          [CONTAINS_GROUP_KINDS]: [
            ...new Set(
              kinds.map((k) => {
                const cut = k.lastIndexOf('/');
                return groupKind(k.slice(0, cut), k.slice(cut + 1));
              }),
            ),
          ]
            .sort()
            .join(','),
          [MEMBER_KINDS]: kinds.join(','),
          ...keep,
          ...extra,
        },
      },
      type: 'mcml.dev/applyset',
    };
    const ref = refOf(parent);
    return this.#call('apply', ref, () => this.#client.applyObject(parent, { force: true }));
  }

  /** The set's revision records, oldest first, each read only when asked. */
  async #records(set: ApplySetRef): Promise<StoredRevision[]> {
    const id = applySetId(set.name, set.namespace);
    const ref = { apiVersion: 'v1', kind: 'Secret', name: '*', namespace: set.namespace };
    const list = await this.#call('list revisions', ref, () =>
      this.#client.listObjects('v1', 'Secret', set.namespace, `${REVISION_OF}=${id}`),
    );
    return list.items
      .map(storedRevision)
      .filter((r): r is StoredRevision => r !== undefined)
      .sort((a, b) => a.revision - b.revision);
  }

  /** The set's readable revision records, oldest first. */
  async #readRecords(set: ApplySetRef): Promise<RevisionRecord[]> {
    return (await this.#records(set))
      .map((r) => r.read())
      .filter((r): r is RevisionRecord => r !== undefined);
  }

  /** Writes a revision record and deletes the oldest beyond KEEP_REVISIONS. */
  async #record(set: ApplySetRef, known: StoredRevision[], record: RevisionRecord): Promise<void> {
    const id = applySetId(set.name, set.namespace);
    const secret = revisionSecret(set.name, set.namespace, id, record);
    await this.#call('record revision', refOf(secret), () =>
      this.#client.applyObjectLazily(secret, { force: true }),
    );
    const numbers = [...known.map((r) => r.revision).filter((r) => r !== record.revision)];
    numbers.push(record.revision);
    for (const old of numbers.slice(0, Math.max(0, numbers.length - KEEP_REVISIONS))) {
      const ref = {
        apiVersion: 'v1',
        kind: 'Secret',
        name: revisionName(set.name, old),
        namespace: set.namespace,
      };
      await this.#call('delete', ref, () => this.#client.deleteObject(ref));
    }
  }

  async prune(
    set: ApplySetRef,
    keep: ObjectRef[],
    options: ApplyOptions = {},
  ): Promise<ObjectChange[]> {
    const parent = await this.#parent(set);
    const kinds = (parent?.metadata.annotations?.[MEMBER_KINDS] ?? '')
      .split(',')
      .filter((k) => k !== '');
    const members = await this.#members(set, kinds);
    const changes: ObjectChange[] = [];
    for (const gone of members.filter((m) => !keep.some((k) => sameRef(k, refOf(m))))) {
      if (gone.kind === 'Namespace') continue;
      const ref = refOf(gone);
      await this.#call('prune', ref, () =>
        this.#client.deleteObject(ref, { dryRun: options.dryRun === true }),
      );
      changes.push({ ref, action: 'pruned' });
    }
    return changes;
  }

  async #deployments(
    set: ApplySetRef,
  ): Promise<{ items: ClusterObject[]; resourceVersion: string }> {
    const id = applySetId(set.name, set.namespace);
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: '*', namespace: set.namespace };
    return this.#call('list', ref, () =>
      this.#client.listObjects('apps/v1', 'Deployment', set.namespace, `${PART_OF}=${id}`),
    );
  }

  async rolloutStatus(set: ApplySetRef): Promise<RolloutStatus> {
    const [parent, deployments] = await Promise.all([this.#parent(set), this.#deployments(set)]);
    return this.#status(parent, deployments.items.map(deploymentStatus));
  }

  #status(parent: ClusterObject | undefined, workloads: WorkloadStatus[]): RolloutStatus {
    const a = parent?.metadata.annotations ?? {};
    const revision = a[REVISION] ? Number(a[REVISION]) : undefined;
    let note: RevisionNote | undefined;
    try {
      note = a[REVISION_NOTE] ? (JSON.parse(a[REVISION_NOTE]) as RevisionNote) : undefined;
    } catch {
      note = undefined;
    }
    const overall = overallPhase(workloads);
    if (revision === undefined) {
      return { phase: 'progressing', message: 'not deployed yet', revision, note, workloads };
    }
    return { ...overall, revision, note, workloads };
  }

  async waitForRollout(
    set: ApplySetRef,
    options: { signal: AbortSignal; onProgress?: (status: RolloutStatus) => void },
  ): Promise<RolloutStatus> {
    // The parent this instance has just applied is the one on the cluster: no need to read it.
    const parent =
      this.#applied.get(parentName(set.name) + '/' + set.namespace) ?? (await this.#parent(set));
    for (;;) {
      options.signal.throwIfAborted();
      const list = await this.#deployments(set);
      options.signal.throwIfAborted();
      const byName = new Map(list.items.map((d) => [d.metadata.name, deploymentStatus(d)]));
      const status = () => this.#status(parent, [...byName.values()]);
      const first = status();
      options.onProgress?.(first);
      if (first.phase !== 'progressing' || first.revision === undefined) return first;
      const outcome = await this.#watchDeployments(
        set,
        list.resourceVersion,
        byName,
        status,
        options,
      );
      if (outcome) return outcome;
      // The watch ended (server timeout, a dropped connection): list again and carry on.
    }
  }

  /**
   * Follows the set's Deployments from `resourceVersion` until the rollout is no longer
   * progressing; undefined when the server ends the watch first.
   */
  async #watchDeployments(
    set: ApplySetRef,
    resourceVersion: string,
    byName: Map<string, WorkloadStatus>,
    status: () => RolloutStatus,
    options: { signal: AbortSignal; onProgress?: (status: RolloutStatus) => void },
  ): Promise<RolloutStatus | undefined> {
    const done = new AbortController();
    let outcome: RolloutStatus | undefined;
    const labelSelector = `${PART_OF}=${applySetId(set.name, set.namespace)}`;
    try {
      await this.#client.watch(
        'apps/v1',
        'Deployment',
        set.namespace,
        { labelSelector, resourceVersion },
        (event) => {
          if (outcome || event.type === 'BOOKMARK' || event.type === 'ERROR') return;
          if (event.type === 'DELETED') byName.delete(event.object.metadata.name);
          else byName.set(event.object.metadata.name, deploymentStatus(event.object));
          const now = status();
          options.onProgress?.(now);
          if (now.phase !== 'progressing') {
            outcome = now;
            done.abort();
          }
        },
        AbortSignal.any([options.signal, done.signal]),
      );
    } catch (error) {
      if (outcome) return outcome;
      options.signal.throwIfAborted();
      throw kubeError(error, this.#ctx('watch deployments of'));
    }
    if (!outcome) options.signal.throwIfAborted();
    return outcome;
  }

  async revisions(set: ApplySetRef): Promise<RevisionInfo[]> {
    const [parent, records] = await Promise.all([this.#parent(set), this.#readRecords(set)]);
    const current = Number(parent?.metadata.annotations?.[REVISION] ?? NaN);
    return records.map((r) => ({
      revision: r.revision,
      appliedAt: r.appliedAt,
      note: r.note,
      objects: r.objects.map(refOf),
      current: r.revision === current,
    }));
  }

  async rollback(
    set: ApplySetRef,
    options: { to?: number; force?: boolean } = {},
  ): Promise<ApplyResult> {
    const [parent, records] = await Promise.all([this.#parent(set), this.#readRecords(set)]);
    const current = Number(parent?.metadata.annotations?.[REVISION] ?? NaN);
    const to = options.to ?? records.filter((r) => r.revision < current).at(-1)?.revision;
    const record = records.find((r) => r.revision === to);
    if (to === undefined || !record) {
      const known = records.map((r) => r.revision).join(', ') || 'none';
      throw new McmlError(
        'NOT_FOUND',
        to === undefined
          ? `target "${this.target}" has no revision before ${Number.isNaN(current) ? 'its first deploy' : current} to roll back to`
          : `target "${this.target}" has no recorded revision ${to}`,
        {
          hint: `recorded revisions: ${known} (mcml deploy status shows them)`,
          details: { target: this.target },
        },
      );
    }
    return this.apply(
      {
        ...set,
        objects: record.objects,
        note: { ...record.note, cause: `rollback to ${record.revision}` },
      },
      { force: options.force === true },
    );
  }

  async events(
    set: ApplySetRef,
    options: { sinceIso?: string } = {},
  ): Promise<ClusterEventRecord[]> {
    const ref = { apiVersion: 'v1', kind: 'Event', name: '*', namespace: set.namespace };
    const list = await this.#call('list', ref, () =>
      this.#client.listObjects('v1', 'Event', set.namespace),
    );
    type EventShape = {
      type?: string;
      reason?: string;
      message?: string;
      lastTimestamp?: string;
      eventTime?: string;
      metadata: { creationTimestamp?: string };
      involvedObject?: { kind?: string; name?: string };
    };
    return list.items
      .map((item) => {
        const e = item as unknown as EventShape;
        return {
          at: e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '',
          type: e.type === 'Warning' ? ('Warning' as const) : ('Normal' as const),
          reason: e.reason ?? '',
          object: `${e.involvedObject?.kind ?? '?'}/${e.involvedObject?.name ?? '?'}`,
          message: e.message ?? '',
        };
      })
      .filter((e) => options.sinceIso === undefined || e.at >= options.sinceIso)
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  async request(req: ServiceRequest): Promise<ServiceAnswer> {
    const path = `/api/v1/namespaces/${encodeURIComponent(req.namespace)}/services/${encodeURIComponent(`${req.service}:${req.port}`)}/proxy${req.path}`;
    const ref = { apiVersion: 'v1', kind: 'Service', name: req.service, namespace: req.namespace };
    const answer = await this.#call('reach', ref, () =>
      this.#connection.send(req.method, path, {
        timeoutMs: req.timeoutMs ?? 10_000,
        ...(req.body !== undefined ? { body: req.body } : {}),
      }),
    );
    if (answer.status === 401 || answer.status === 403)
      throw kubeError(new HttpError(answer.status, answer.body), this.#ctx('proxy to', ref));
    return answer;
  }

  close(): Promise<void> {
    this.#connection.close();
    return Promise.resolve();
  }
}
