/**
 * The Cluster port on a Kubernetes API server, through @kubernetes/client-node 1.x: server-side
 * apply as field manager `mcml` (conflicts reported per field, `force` takes them), ApplySet
 * membership labels and a parent Secret per owner, prune limited to members, revision records
 * for exact rollbacks, rollout read from Deployment status and followed with a watch, events,
 * and requests to services through the API server's service proxy.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
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
  applySetId,
  groupKind,
  parentName,
  sameRef,
  setHash,
  withMembership,
  withoutServerFields,
} from './applyset.js';
import { describeRef, kubeError, type ErrorContext } from './errors.js';
import { keptAliveAuth, type ClusterConnection } from './connection.js';
import { configForContext } from './kubeconfig.js';
import { ObjectClient, refOf } from './object-client.js';
import { rawRequest } from './raw-request.js';
import {
  KEEP_REVISIONS,
  readRevisionSecret,
  revisionSecret,
  type RevisionRecord,
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

/** Objects applied at once per cluster. */
const APPLY_CONCURRENCY = 8;

export class KubernetesCluster implements Cluster {
  readonly target: string;
  readonly where: string;
  readonly #kc: KubeConfig;
  readonly #client: ObjectClient;
  readonly #connection: ClusterConnection;
  readonly #timeoutMs: number;
  readonly #tooling: string;
  /** The parent as this instance last applied it, by name/namespace. */
  readonly #applied = new Map<string, ClusterObject>();

  constructor(options: KubernetesClusterOptions) {
    this.target = options.target;
    this.#kc = configForContext(options.kubeconfig, options.context, options.target);
    this.where = `context "${options.context}", ${this.#kc.getCurrentCluster()?.server ?? '?'}`;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#connection = keptAliveAuth(this.#kc);
    this.#client = ObjectClient.create(this.#kc, this.#connection, this.#timeoutMs);
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

  async ping(signal?: AbortSignal): Promise<void> {
    const answer = await this.#call('reach the API server', undefined, () =>
      rawRequest(this.#kc, this.#connection, 'GET', '/api', {
        timeoutMs: Math.min(this.#timeoutMs, 10_000),
        ...(signal ? { signal } : {}),
      }),
    );
    if (answer.status >= 200 && answer.status < 300) return;
    const error = Object.assign(new Error(`HTTP ${answer.status}`), { statusCode: answer.status });
    throw kubeError(error, this.#ctx('reach the API server'));
  }

  /** Namespaced objects without a namespace go into the set's; unknown kinds fail here, first. */
  async #placed(set: ApplySet): Promise<ClusterObject[]> {
    const id = applySetId(set.name, set.namespace);
    const placed: ClusterObject[] = [];
    for (const object of set.objects) {
      const ref = refOf(object);
      const namespaced = await this.#call('look up the kind of', ref, () =>
        this.#client.isNamespaced(object.apiVersion, object.kind),
      );
      const copy = withMembership(object, id);
      if (namespaced && !copy.metadata.namespace) copy.metadata.namespace = set.namespace;
      if (!namespaced) delete copy.metadata.namespace;
      placed.push(copy);
    }
    return applyOrder(placed);
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
    records: RevisionRecord[],
    options: ApplyOptions,
  ): ClusterObject[] | undefined {
    if (options.dryRun || options.force || annotations[APPLYING] !== undefined) return undefined;
    const current = Number(annotations[REVISION] ?? NaN);
    const record = records.find((r) => r.revision === current);
    return record && record.hash === annotations[REVISION_HASH] ? record.objects : undefined;
  }

  async apply(set: ApplySet, options: ApplyOptions = {}): Promise<ApplyResult> {
    const objects = await this.#placed(set);
    const [parent, records] = await Promise.all([this.#parent(set), this.#records(set)]);
    const annotations = parent?.metadata.annotations ?? {};
    const current = annotations[REVISION] ? Number(annotations[REVISION]) : undefined;
    const oldKinds = (annotations[MEMBER_KINDS] ?? '').split(',').filter((k) => k !== '');
    const newKinds = [...new Set(objects.map((o) => `${o.apiVersion}/${o.kind}`))].sort();
    const kinds = [...new Set([...oldKinds, ...newKinds])].sort();
    const recorded = this.#recordedMembers(annotations, records, options);
    const existing = recorded ?? (await this.#members(set, kinds));
    if (options.dryRun) return this.#dryRun(set, objects, existing, current, options);

    const hash = setHash(objects);
    const changes: ObjectChange[] = [];
    const applied: ObjectRef[] = [];
    const actionOf = (object: ClusterObject, before: ClusterObject, after: ClusterObject) => {
      // A recorded member is what mcml applied then: unchanged when mcml applies the same now.
      if (recorded) return JSON.stringify(before) === JSON.stringify(object);
      return before.metadata.resourceVersion === after.metadata.resourceVersion;
    };
    const applyOne = async (object: ClusterObject) => {
      const ref = refOf(object);
      const before = existing.find((e) => sameRef(refOf(e), ref));
      const after = await this.#call('apply', ref, () =>
        this.#client.applyObject(object, { force: options.force === true }),
      );
      applied.push(ref);
      changes.push({
        ref,
        action: !before ? 'created' : actionOf(object, before, after) ? 'unchanged' : 'configured',
      });
    };
    const partial = (error: unknown): McmlError => {
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
    };
    const first = objects.filter(
      (o) => o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition',
    );
    const rest = objects.filter((o) => !first.includes(o));
    try {
      for (const object of first) await applyOne(object);
      await this.#applyParent(set, kinds, annotations, { [APPLYING]: hash });
    } catch (error) {
      throw partial(error);
    }
    // APPLY_CONCURRENCY lanes, each taking the next object when its last is answered (not
    // batches that wait for their slowest); every object is tried, the first failure reported.
    const failures: unknown[] = [];
    const queue = [...rest];
    const lane = async (): Promise<void> => {
      for (let object = queue.shift(); object; object = queue.shift()) {
        await applyOne(object).catch((error: unknown) => failures.push(error));
      }
    };
    await Promise.all(Array.from({ length: Math.min(APPLY_CONCURRENCY, rest.length) }, lane));
    if (failures.length > 0) throw partial(failures[0]);

    const prune = options.prune !== false;
    if (prune) {
      for (const gone of existing.filter(
        (e) => !objects.some((o) => sameRef(refOf(o), refOf(e))),
      )) {
        if (gone.kind === 'Namespace') continue;
        const ref = refOf(gone);
        await this.#call('prune', ref, () => this.#client.deleteObject(ref));
        changes.push({ ref, action: 'pruned' });
      }
    }
    let revision = current ?? 0;
    if (annotations[REVISION_HASH] !== hash || current === undefined) {
      revision = Math.max(current ?? 0, records.at(-1)?.revision ?? 0) + 1;
      await this.#record(set, records, {
        revision,
        appliedAt: new Date().toISOString(),
        note: set.note ?? {},
        hash,
        objects,
      });
    }
    this.#applied.set(
      parentName(set.name) + '/' + set.namespace,
      await this.#applyParent(set, prune ? newKinds : kinds, annotations, {
        [REVISION]: String(revision),
        [REVISION_HASH]: hash,
        [REVISION_NOTE]: JSON.stringify(
          revision === current ? JSON.parse(annotations[REVISION_NOTE] ?? '{}') : (set.note ?? {}),
        ),
      }),
    );
    return { revision, previous: current, changes };
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

  async #records(set: ApplySetRef): Promise<RevisionRecord[]> {
    const id = applySetId(set.name, set.namespace);
    const ref = { apiVersion: 'v1', kind: 'Secret', name: '*', namespace: set.namespace };
    const list = await this.#call('list revisions', ref, () =>
      this.#client.listObjects('v1', 'Secret', set.namespace, `${REVISION_OF}=${id}`),
    );
    return list.items
      .map(readRevisionSecret)
      .filter((r): r is RevisionRecord => r !== undefined)
      .sort((a, b) => a.revision - b.revision);
  }

  /** Writes a revision record and deletes the oldest beyond KEEP_REVISIONS. */
  async #record(set: ApplySetRef, known: RevisionRecord[], record: RevisionRecord): Promise<void> {
    const id = applySetId(set.name, set.namespace);
    const secret = revisionSecret(set.name, set.namespace, id, record);
    await this.#call('record revision', refOf(secret), () =>
      this.#client.applyObject(secret, { force: true }),
    );
    const records = [...known.filter((r) => r.revision !== record.revision), record];
    for (const old of records.slice(0, Math.max(0, records.length - KEEP_REVISIONS))) {
      const ref = refOf(revisionSecret(set.name, set.namespace, id, old));
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
    const id = applySetId(set.name, set.namespace);
    const path = await this.#call('watch', undefined, () =>
      this.#client.collectionPath('apps/v1', 'Deployment', set.namespace),
    );
    for (;;) {
      options.signal.throwIfAborted();
      const list = await this.#deployments(set);
      const byName = new Map(list.items.map((d) => [d.metadata.name, deploymentStatus(d)]));
      const status = () => this.#status(parent, [...byName.values()]);
      const first = status();
      options.onProgress?.(first);
      if (first.phase !== 'progressing' || first.revision === undefined) return first;
      const outcome = await new Promise<RolloutStatus | undefined>((resolve, reject) => {
        let settled = false;
        let controller: AbortController | undefined;
        const finish = (value: RolloutStatus | undefined, error?: unknown) => {
          if (settled) return;
          settled = true;
          options.signal.removeEventListener('abort', onAbort);
          controller?.abort();
          if (error !== undefined)
            reject(
              error instanceof Error ? error : new Error('the watch failed', { cause: error }),
            );
          else resolve(value);
        };
        const onAbort = () => finish(undefined, options.signal.reason);
        options.signal.addEventListener('abort', onAbort, { once: true });
        new Watch(this.#kc)
          .watch(
            path,
            {
              labelSelector: `${PART_OF}=${id}`,
              resourceVersion: list.resourceVersion,
              allowWatchBookmarks: true,
            },
            (type, object: ClusterObject) => {
              if (type === 'BOOKMARK' || type === 'ERROR') return;
              if (type === 'DELETED') byName.delete(object.metadata.name);
              else
                byName.set(
                  object.metadata.name,
                  deploymentStatus({ ...object, apiVersion: 'apps/v1', kind: 'Deployment' }),
                );
              const now = status();
              options.onProgress?.(now);
              if (now.phase !== 'progressing') finish(now);
            },
            () => finish(undefined),
          )
          .then(
            (c) => {
              controller = c;
              if (settled) c.abort();
            },
            (error: unknown) => finish(undefined, error),
          );
      }).catch((error: unknown) => {
        if (options.signal.aborted) throw error;
        throw kubeError(error, this.#ctx('watch deployments of'));
      });
      if (outcome) return outcome;
      // The watch ended (server timeout, a dropped connection): list again and carry on.
    }
  }

  async revisions(set: ApplySetRef): Promise<RevisionInfo[]> {
    const [parent, records] = await Promise.all([this.#parent(set), this.#records(set)]);
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
    const [parent, records] = await Promise.all([this.#parent(set), this.#records(set)]);
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
      rawRequest(this.#kc, this.#connection, req.method, path, {
        timeoutMs: req.timeoutMs ?? 10_000,
        ...(req.body !== undefined ? { body: req.body } : {}),
      }),
    );
    if (answer.status === 401 || answer.status === 403) {
      const error = Object.assign(new Error(`HTTP ${answer.status}`), {
        statusCode: answer.status,
      });
      throw kubeError(error, this.#ctx('proxy to', ref));
    }
    return answer;
  }

  close(): Promise<void> {
    this.#connection.close();
    return Promise.resolve();
  }
}
