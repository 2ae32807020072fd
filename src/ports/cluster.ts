/**
 * A cluster as a port: where one target's workload runs. Kubernetes (src/adapters/kubernetes,
 * one kubeconfig context per target) and the local process cluster (src/adapters/local, what
 * `mcml up` runs) implement it, and one contract suite (test/contracts/cluster.ts) runs against
 * both. The rollout engine (src/engines/deploy) only ever talks to this interface.
 *
 * What every adapter promises:
 * - `apply` applies a whole set of objects as one owner (the field manager `mcml`) and marks
 *   each object as a member of the set. Applying the same objects again changes nothing and
 *   records no revision; applying different objects records them as the next revision, so
 *   `rollback` can apply the exact objects of an earlier revision again.
 * - Pruning removes only objects that carry this set's membership mark and are not in the new
 *   set: an object mcml did not create is never touched, whatever its name.
 * - A field that another manager owns is never taken silently: `apply` throws CONFLICT naming
 *   each field and its manager, unless `force` is set.
 * - `dryRun` asks the cluster what would change and changes nothing.
 * - Errors are McmlError naming the target and the object: PROVIDER_AUTH (credentials),
 *   PERMISSION_DENIED (not allowed on one kind), NOT_FOUND (a kind the cluster does not serve,
 *   a missing namespace), CONFLICT, INVALID_ARGUMENT (the cluster refuses the object, e.g. an
 *   immutable field) — all input errors — and PROVIDER_UNAVAILABLE when the cluster cannot be
 *   reached (a world error). When an apply fails part-way, `details.applied` lists the objects
 *   already applied, so nobody is left guessing what state a cluster is in.
 * - `waitForRollout` resolves when every workload of the set is rolled out (`complete`) or
 *   cannot be (`failed`, e.g. Kubernetes' ProgressDeadlineExceeded); it never times out on its
 *   own — the caller bounds it with its clock and aborts it through the signal.
 */

/** Which object: enough to find it again. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** A Kubernetes-shaped object, as rendered for a target. */
export interface ClusterObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** The owner of a set of objects on one cluster: one per service. */
export interface ApplySetRef {
  /** The owner's name (the service name). */
  name: string;
  /** Namespace holding the owner's record and revision history. */
  namespace: string;
}

/** What a revision deploys, recorded beside it for status and rollback listings. */
export interface RevisionNote {
  image?: string;
  model?: string;
  /** Free text: "rollback to 3", "deployed by mcml 0.1.0". */
  cause?: string;
}

export interface ApplySet extends ApplySetRef {
  objects: ClusterObject[];
  note?: RevisionNote;
}

export interface ApplyOptions {
  /** Ask the cluster (server-side dry run); change nothing, record nothing. */
  dryRun?: boolean;
  /** Take fields another manager owns (`--force-conflicts`). */
  force?: boolean;
  /** Remove objects of this set that the new set no longer has (default true). */
  prune?: boolean;
  signal?: AbortSignal;
  /**
   * Shared by the targets of one wave: each says when what starts its rollouts (what pods read,
   * then the workloads) is applied, and applies the rest (Services, budgets, autoscalers…)
   * once the line clears, so every cluster's rollout starts before any cluster sends the rest.
   */
  startLine?: StartLine;
}

/** See ApplyOptions.startLine. */
export interface StartLine {
  /** This target's rollouts have started (or it stopped before they could). Once is enough. */
  reached(): void;
  /** Resolves when every target of the line has reached it (or the line's wait limit passed). */
  cleared(): Promise<void>;
}

export type ObjectAction = 'created' | 'configured' | 'unchanged' | 'pruned';

export interface ObjectChange {
  ref: ObjectRef;
  action: ObjectAction;
  /** Dry runs: the object as it is and as it would be (server fields removed). */
  before?: ClusterObject;
  after?: ClusterObject;
}

export interface ApplyResult {
  /** The revision the cluster is at after this apply (unchanged objects: the same one). */
  revision: number;
  /** The revision before; undefined for the first apply. */
  previous: number | undefined;
  changes: ObjectChange[];
}

export type RolloutPhase = 'progressing' | 'complete' | 'failed';

/** One workload (Deployment) of the set. */
export interface WorkloadStatus {
  ref: ObjectRef;
  phase: RolloutPhase;
  /** What it is waiting for or why it failed, as `kubectl rollout status` says it. */
  message: string;
  desired: number;
  updated: number;
  ready: number;
  available: number;
  images: string[];
  conditions: { type: string; status: string; reason?: string; message?: string }[];
  /** ISO time the workload was created. */
  createdAt?: string;
}

export interface RolloutStatus {
  phase: RolloutPhase;
  message: string;
  /** The revision the cluster is at, when the set has been applied. */
  revision: number | undefined;
  note: RevisionNote | undefined;
  workloads: WorkloadStatus[];
}

export interface RevisionInfo {
  revision: number;
  /** ISO time. */
  appliedAt: string;
  note: RevisionNote;
  objects: ObjectRef[];
  current: boolean;
}

export interface ClusterEventRecord {
  /** ISO time. */
  at: string;
  type: 'Normal' | 'Warning';
  reason: string;
  /** "Deployment/iris", "Pod/iris-7d9f-x7k2p". */
  object: string;
  message: string;
}

/** An HTTP request to a service inside the cluster (Kubernetes: through the API server proxy). */
export interface ServiceRequest {
  namespace: string;
  service: string;
  /** Port number or name of the service port. */
  port: number | string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  timeoutMs?: number;
}

export interface ServiceAnswer {
  status: number;
  body: string;
}

export interface Cluster {
  /** The target this cluster serves. */
  readonly target: string;
  /** Where it is, for messages: `context "aws" (https://…)`, `this machine`. */
  readonly where: string;
  /** Checks that the cluster answers and accepts the credentials. */
  ping(signal?: AbortSignal): Promise<void>;
  apply(set: ApplySet, options?: ApplyOptions): Promise<ApplyResult>;
  /** Removes members of the set not in `keep` (never a Namespace); returns what went. */
  prune(set: ApplySetRef, keep: ObjectRef[], options?: ApplyOptions): Promise<ObjectChange[]>;
  rolloutStatus(set: ApplySetRef): Promise<RolloutStatus>;
  waitForRollout(
    set: ApplySetRef,
    options: { signal: AbortSignal; onProgress?: (status: RolloutStatus) => void },
  ): Promise<RolloutStatus>;
  /** Recorded revisions, oldest first. */
  revisions(set: ApplySetRef): Promise<RevisionInfo[]>;
  /** Applies the objects of revision `to` (default: the one before the current) again. */
  rollback(set: ApplySetRef, options?: { to?: number; force?: boolean }): Promise<ApplyResult>;
  /** Recent events of the set's namespace, oldest first. */
  events(set: ApplySetRef, options?: { sinceIso?: string }): Promise<ClusterEventRecord[]>;
  /** Sends a request to a service of the set (health gates: a real inference). */
  request(request: ServiceRequest): Promise<ServiceAnswer>;
  close(): Promise<void>;
}
