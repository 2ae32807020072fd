/**
 * The Local adapter of the Cluster port: one target's "cluster" on this machine, over the local
 * cluster driver (`LocalCluster`). It reads the same Kubernetes-shaped objects a real cluster
 * does and runs what they describe as processes:
 *
 * - `apps/v1 Deployment`: its one container's `command` + `args` (no image is pulled here), with
 *   `env` and `$(VAR)` expansion as the kubelet does; `PORT` is the port the driver gives each
 *   replica, and `readinessProbe.httpGet.path` its readiness check. `spec.replicas` is the
 *   count; a changed pod template rolls out as a new generation (surge 1, none unavailable).
 * - `autoscaling/v2 HorizontalPodAutoscaler` on a Deployment: min/max replicas and the metric
 *   (CPU utilization, or a Pods metric such as the queue depth) the driver scales on.
 * - `v1 Service`: what `request()` reaches — a ready replica of the Deployment it selects.
 * - `v1 Namespace`, `ConfigMap`, `Secret`: recorded (nothing runs them).
 *
 * Revisions, ownership and pruning follow the port's promises; the record lives in memory, so
 * a new `mcml up` starts at revision 1. Any other kind is refused (NOT_FOUND), before anything
 * of the set is applied.
 */
import { isDeepStrictEqual } from 'node:util';
import { McmlError } from '../../core/errors.js';
import type { Clock } from '../../ports/clock.js';
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
  RolloutPhase,
  RolloutStatus,
  ServiceAnswer,
  ServiceRequest,
  WorkloadStatus,
} from '../../ports/cluster.js';
import type { ClusterEvent, LocalCluster, TargetStatus } from './local-cluster.js';
import { systemClock } from './system-clock.js';
import { workloadOf, type Workload } from './workload.js';
import { workloadStatusOf } from './workload-status.js';

export interface LocalTargetClusterOptions {
  /** The mcml target this cluster serves. */
  target: string;
  /** The process driver (shared by every local target of one `mcml up`). */
  driver: LocalCluster;
  /** The driver's name for a Deployment of this target (default `<target>/<deployment>`). */
  workloadName?: (deployment: string) => string;
  clock?: Clock;
}

interface Revision {
  revision: number;
  appliedAt: string;
  note: RevisionNote;
  objects: ClusterObject[];
}

interface SetRecord {
  revisions: Revision[];
  current: number | undefined;
}

const SERVED = new Set([
  'v1/Namespace',
  'v1/ConfigMap',
  'v1/Secret',
  'v1/Service',
  'apps/v1/Deployment',
  'autoscaling/v2/HorizontalPodAutoscaler',
]);
const MAX_EVENTS = 200;

/** One target's cluster on this machine: replica processes run by the local cluster driver. */
export class LocalTargetCluster implements Cluster {
  readonly target: string;
  readonly where = 'this machine';
  readonly #driver: LocalCluster;
  readonly #clock: Clock;
  readonly #name: (deployment: string) => string;
  /** Live objects by key, with the set that owns them. */
  readonly #objects = new Map<string, { object: ClusterObject; owner: string }>();
  readonly #sets = new Map<string, SetRecord>();
  /** Driver workload names this cluster runs, by Deployment key. */
  readonly #workloads = new Map<string, string>();
  /** The pod template each workload runs (canonical JSON): a change rolls it out. */
  readonly #templates = new Map<string, string>();
  readonly #events: ClusterEventRecord[] = [];
  readonly #off: () => void;
  #next = 0;
  #closed = false;

  constructor(options: LocalTargetClusterOptions) {
    this.target = options.target;
    this.#driver = options.driver;
    this.#clock = options.clock ?? systemClock;
    this.#name = options.workloadName ?? ((d) => `${options.target}/${d}`);
    this.#off = this.#driver.on((e) => this.#record(e));
  }

  ping(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new McmlError('UNAVAILABLE', `${this.target}: the cluster is closed`));
    }
    return Promise.resolve();
  }

  /** Every live object, with the set that owns it (tests and status). */
  liveObjects(): { object: ClusterObject; owner: string }[] {
    return [...this.#objects.values()].map((o) => ({ object: clone(o.object), owner: o.owner }));
  }

  async apply(set: ApplySet, options: ApplyOptions = {}): Promise<ApplyResult> {
    const record = this.#set(set);
    const objects = set.objects.map((o) => this.#admit(o));
    const workloads = this.#workloadsOf(objects);
    const changes: ObjectChange[] = objects.map((object) => {
      const live = this.#objects.get(keyOf(object))?.object;
      const action = !live
        ? 'created'
        : isDeepStrictEqual(live, object)
          ? 'unchanged'
          : 'configured';
      return {
        ref: refOf(object),
        action,
        ...(options.dryRun && live ? { before: clone(live) } : {}),
        ...(options.dryRun ? { after: clone(object) } : {}),
      };
    });
    const keep = new Set(objects.map(keyOf));
    const pruning =
      options.prune === false
        ? []
        : [...this.#objects.entries()].filter(
            ([key, o]) => o.owner === ownerOf(set) && !keep.has(key),
          );
    for (const [, o] of pruning) changes.push({ ref: refOf(o.object), action: 'pruned' });
    const previous = record.current;
    const changed = changes.some((c) => c.action !== 'unchanged');
    if (options.dryRun) return { revision: previous ?? 0, previous, changes };
    if (!changed && previous !== undefined) return { revision: previous, previous, changes };

    for (const object of objects) {
      this.#objects.set(keyOf(object), { object: clone(object), owner: ownerOf(set) });
    }
    for (const [key] of pruning) this.#objects.delete(key);
    await this.#run(
      workloads,
      pruning.map(([, o]) => o.object),
    );
    const revision = (record.revisions.at(-1)?.revision ?? 0) + 1;
    record.revisions.push({
      revision,
      appliedAt: new Date(this.#clock.now()).toISOString(),
      note: { ...set.note },
      objects: objects.map(clone),
    });
    record.current = revision;
    return { revision, previous, changes };
  }

  async prune(set: ApplySetRef, keep: ObjectRef[], options: ApplyOptions = {}) {
    const kept = new Set(keep.map(keyOf));
    const gone = [...this.#objects.entries()].filter(
      ([key, o]) => o.owner === ownerOf(set) && !kept.has(key) && o.object.kind !== 'Namespace',
    );
    if (!options.dryRun) {
      for (const [key] of gone) this.#objects.delete(key);
      await this.#run(
        new Map(),
        gone.map(([, o]) => o.object),
      );
    }
    return gone.map(([, o]): ObjectChange => ({ ref: refOf(o.object), action: 'pruned' }));
  }

  rolloutStatus(set: ApplySetRef): Promise<RolloutStatus> {
    const record = this.#sets.get(ownerOf(set));
    const current = record?.revisions.find((r) => r.revision === record.current);
    const workloads = [...this.#objects.values()]
      .filter((o) => o.owner === ownerOf(set) && o.object.kind === 'Deployment')
      .map((o) => this.#workloadStatus(o.object));
    const phase: RolloutPhase = workloads.some((w) => w.phase === 'failed')
      ? 'failed'
      : workloads.some((w) => w.phase === 'progressing')
        ? 'progressing'
        : 'complete';
    const message =
      workloads.find((w) => w.phase === phase)?.message ??
      (current ? 'no workloads' : 'nothing applied');
    return Promise.resolve({
      phase,
      message,
      revision: record?.current,
      note: current?.note,
      workloads,
    });
  }

  async waitForRollout(
    set: ApplySetRef,
    options: { signal: AbortSignal; onProgress?: (status: RolloutStatus) => void },
  ): Promise<RolloutStatus> {
    for (;;) {
      options.signal.throwIfAborted();
      const status = await this.rolloutStatus(set);
      options.onProgress?.(status);
      if (status.phase !== 'progressing') return status;
      await this.#change(options.signal, 250);
    }
  }

  revisions(set: ApplySetRef): Promise<RevisionInfo[]> {
    const record = this.#sets.get(ownerOf(set));
    return Promise.resolve(
      (record?.revisions ?? []).map((r) => ({
        revision: r.revision,
        appliedAt: r.appliedAt,
        note: { ...r.note },
        objects: r.objects.map(refOf),
        current: r.revision === record?.current,
      })),
    );
  }

  async rollback(set: ApplySetRef, options: { to?: number } = {}): Promise<ApplyResult> {
    const record = this.#sets.get(ownerOf(set));
    const current = record?.current;
    if (!record || current === undefined) {
      throw new McmlError('NOT_FOUND', `${this.target}: ${set.name} has never been applied here`);
    }
    const index = record.revisions.findIndex((r) => r.revision === current);
    const to =
      options.to === undefined
        ? record.revisions[index - 1]
        : record.revisions.find((r) => r.revision === options.to);
    if (!to) {
      throw new McmlError(
        'NOT_FOUND',
        options.to === undefined
          ? `${this.target}: ${set.name} has no revision before ${current}`
          : `${this.target}: ${set.name} has no revision ${options.to}`,
        { hint: `revisions: ${record.revisions.map((r) => r.revision).join(', ')}` },
      );
    }
    return this.apply({
      ...set,
      objects: to.objects.map(clone),
      note: { ...to.note, cause: `rollback to ${to.revision}` },
    });
  }

  events(set: ApplySetRef, options: { sinceIso?: string } = {}): Promise<ClusterEventRecord[]> {
    const since = options.sinceIso ?? '';
    const names = new Set(
      [...this.#objects.values()]
        .filter((o) => o.owner === ownerOf(set) && o.object.kind === 'Deployment')
        .map((o) => `Deployment/${o.object.metadata.name}`),
    );
    return Promise.resolve(this.#events.filter((e) => e.at >= since && names.has(e.object)));
  }

  async request(request: ServiceRequest): Promise<ServiceAnswer> {
    const service = this.#objects.get(
      keyOf({
        apiVersion: 'v1',
        kind: 'Service',
        name: request.service,
        namespace: request.namespace,
      }),
    )?.object;
    if (!service) {
      throw new McmlError(
        'NOT_FOUND',
        `${this.target}: no Service ${request.namespace}/${request.service}`,
      );
    }
    const deployment = this.#selected(service);
    const urls = deployment ? this.#driver.readyUrls(this.#workloads.get(keyOf(deployment))!) : [];
    if (urls.length === 0) {
      return { status: 503, body: `no ready replica behind service ${request.service}` };
    }
    const url = urls[this.#next++ % urls.length]!;
    try {
      const res = await fetch(url + request.path, {
        method: request.method,
        ...(request.body === undefined
          ? {}
          : { body: request.body, headers: { 'content-type': 'application/json' } }),
        signal: AbortSignal.timeout(request.timeoutMs ?? 10_000),
      });
      return { status: res.status, body: await res.text() };
    } catch (error) {
      throw new McmlError('UNAVAILABLE', `${this.target}: ${url}${request.path} did not answer`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#off();
    await Promise.all(
      [...this.#workloads.values()].map((name) =>
        this.#driver.removeTarget(name).catch(() => undefined),
      ),
    );
    this.#workloads.clear();
  }

  // --- internals -------------------------------------------------------------------------

  #set(set: ApplySetRef): SetRecord {
    let record = this.#sets.get(ownerOf(set));
    if (!record) {
      record = { revisions: [], current: undefined };
      this.#sets.set(ownerOf(set), record);
    }
    return record;
  }

  /** Checks one object can run here; returns a copy. */
  #admit(object: ClusterObject): ClusterObject {
    const kind = `${object.apiVersion}/${object.kind}`;
    if (!SERVED.has(kind)) {
      throw new McmlError(
        'NOT_FOUND',
        `${this.target}: ${object.kind}/${object.metadata.name} (${object.apiVersion}) is not a kind the local cluster runs`,
        { hint: `the local cluster runs ${[...SERVED].join(', ')}` },
      );
    }
    const live = this.#objects.get(keyOf(object))?.object;
    if (object.kind === 'Deployment' && live) {
      const spec = (o: ClusterObject) => (o.spec as { selector?: unknown } | undefined)?.selector;
      if (!isDeepStrictEqual(spec(live), spec(object))) {
        throw new McmlError(
          'INVALID_ARGUMENT',
          `${this.target}: Deployment/${object.metadata.name}: spec.selector is immutable`,
          { hint: 'give the Deployment a new name, or delete it first' },
        );
      }
    }
    return clone(object);
  }

  /** Every Deployment of the new set as a driver workload; throws before anything runs. */
  #workloadsOf(objects: ClusterObject[]): Map<string, Workload> {
    const result = new Map<string, Workload>();
    for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
      const name = this.#name(deployment.metadata.name);
      if ([...result.values()].some((w) => w.config.name === name)) {
        throw new McmlError(
          'INVALID_ARGUMENT',
          `${this.target}: Deployment/${deployment.metadata.name} would share the process group "${name}" with another Deployment`,
          { hint: 'the local cluster runs one Deployment per target' },
        );
      }
      const hpa = objects.find(
        (o) =>
          o.kind === 'HorizontalPodAutoscaler' &&
          o.metadata.namespace === deployment.metadata.namespace &&
          (o.spec as { scaleTargetRef?: { name?: string } } | undefined)?.scaleTargetRef?.name ===
            deployment.metadata.name,
      );
      result.set(keyOf(deployment), workloadOf(this.target, name, deployment, hpa));
    }
    return result;
  }

  /** Starts, rolls, rescales and stops driver workloads to match the applied objects. */
  async #run(workloads: Map<string, Workload>, removed: ClusterObject[]): Promise<void> {
    for (const object of removed.filter((o) => o.kind === 'Deployment')) {
      const name = this.#workloads.get(keyOf(object));
      this.#workloads.delete(keyOf(object));
      if (name) {
        this.#templates.delete(name);
        await this.#driver.removeTarget(name);
      }
    }
    for (const [key, workload] of workloads) {
      const name = workload.config.name;
      if (!this.#workloads.has(key)) {
        this.#workloads.set(key, name);
        this.#templates.set(name, workload.template);
        this.#driver.addTarget(workload.config);
        continue;
      }
      if (this.#templates.get(name) !== workload.template) {
        this.#templates.set(name, workload.template);
        // The rollout runs on; rolloutStatus and waitForRollout follow it.
        this.#driver.rollingUpdate(name, workload.config).catch(() => undefined);
      }
      await this.#driver.reconfigure(name, workload.config, workload.replicas);
    }
  }

  #status(name: string): TargetStatus | undefined {
    return this.#driver.status().find((t) => t.name === name);
  }

  #selected(service: ClusterObject): ClusterObject | undefined {
    const selector = (service.spec as { selector?: Record<string, string> } | undefined)?.selector;
    if (!selector) return undefined;
    return [...this.#objects.values()]
      .map((o) => o.object)
      .find((o) => {
        if (o.kind !== 'Deployment' || o.metadata.namespace !== service.metadata.namespace) {
          return false;
        }
        const labels =
          (o.spec as { template?: { metadata?: { labels?: Record<string, string> } } })?.template
            ?.metadata?.labels ?? {};
        return Object.entries(selector).every(([k, v]) => labels[k] === v);
      });
  }

  #workloadStatus(deployment: ClusterObject): WorkloadStatus {
    const name = this.#workloads.get(keyOf(deployment));
    const t = name ? this.#status(name) : undefined;
    return workloadStatusOf(refOf(deployment), deployment.metadata.name, t);
  }

  #record(e: ClusterEvent): void {
    const deployment = [...this.#workloads.entries()].find(([, name]) => name === e.target)?.[0];
    if (!deployment) return;
    const warn = ['replica-exited', 'replica-timeout', 'replica-unready', 'rollout-failed'];
    this.#events.push({
      at: new Date(e.time).toISOString(),
      type: warn.includes(e.type) ? 'Warning' : 'Normal',
      reason: e.type,
      object: `Deployment/${deployment.split('/').at(-1)}`,
      message: e.message,
    });
    if (this.#events.length > MAX_EVENTS) this.#events.splice(0, this.#events.length - MAX_EVENTS);
  }

  /** Resolves on the driver's next event or after `ms`; rejects when aborted. */
  #change(signal: AbortSignal, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        off();
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(signal.reason as Error);
      };
      const off = this.#driver.on(() => {
        done();
        resolve();
      });
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function ownerOf(set: ApplySetRef): string {
  return `${set.namespace}/${set.name}`;
}

function refOf(o: ClusterObject | ObjectRef): ObjectRef {
  const meta = 'metadata' in o ? o.metadata : o;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: meta.name,
    ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }),
  };
}

function keyOf(o: ClusterObject | ObjectRef): string {
  const r = refOf(o);
  return `${r.kind}/${r.namespace ?? ''}/${r.name}`;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}
