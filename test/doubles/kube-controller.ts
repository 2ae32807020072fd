/**
 * The Deployment controller of the Kubernetes API server double: when a Deployment's spec
 * changes it observes the new generation, scales up a new ReplicaSet (updated replicas 0 → N)
 * and, after a configurable delay, reports the rollout complete — or, for a Deployment told to
 * fail (an image that cannot be pulled), sets Progressing=False with ProgressDeadlineExceeded,
 * as kube-controller-manager does when `progressDeadlineSeconds` passes. It writes status and
 * Events through the same store the API serves, so watches and `kubectl rollout status` see it.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { str, type JsonObject } from './kube-apply.js';

export interface ControllerOptions {
  /** Time from the new generation being observed to the rollout finishing (default 0). */
  rolloutDelayMs?: number;
  /** Deployments whose rollout fails: by image (e.g. an image tag that does not exist). */
  failImage?: (image: string) => boolean;
}

/** What the controller needs from the store. */
export interface ControllerStore {
  get(namespace: string, name: string): JsonObject | undefined;
  writeStatus(namespace: string, name: string, status: JsonObject): void;
  event(args: {
    namespace: string;
    involved: { kind: string; name: string; apiVersion: string };
    type: 'Normal' | 'Warning';
    reason: string;
    message: string;
  }): void;
}

interface Rollout {
  generation: number;
  timer: NodeJS.Timeout | undefined;
  held: boolean;
  finish: () => void;
}

export function templateHash(template: unknown): string {
  const hex = createHash('sha256').update(JSON.stringify(template)).digest('hex');
  // The pod-template-hash alphabet: no vowels, no look-alikes.
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < 10; i++) out += alphabet[parseInt(hex.slice(i * 2, i * 2 + 2), 16) % 27];
  return out;
}

export class DeploymentController {
  readonly #store: ControllerStore;
  readonly #rollouts = new Map<string, Rollout>();
  #holding = false;
  rolloutDelayMs: number;
  failImage: (image: string) => boolean;

  constructor(store: ControllerStore, options: ControllerOptions = {}) {
    this.#store = store;
    this.rolloutDelayMs = options.rolloutDelayMs ?? 0;
    this.failImage = options.failImage ?? (() => false);
  }

  /** Rollouts started from now on stay in progress until `release()`. */
  hold(): void {
    this.#holding = true;
  }

  /** Lets held rollouts finish. */
  release(): void {
    this.#holding = false;
    for (const r of this.#rollouts.values()) {
      if (r.held) {
        r.held = false;
        r.finish();
      }
    }
  }

  /** Rollouts waiting for `release()`. */
  held(): string[] {
    return [...this.#rollouts].filter(([, r]) => r.held).map(([k]) => k);
  }

  /** Called after every write of a Deployment. */
  changed(namespace: string, name: string, previous: JsonObject | undefined): void {
    const d = this.#store.get(namespace, name);
    if (!d) return;
    const key = `${namespace}/${name}`;
    const meta = d.metadata as JsonObject;
    const generation = Number(meta.generation ?? 1);
    const status = (d.status ?? {}) as JsonObject;
    if (Number(status.observedGeneration ?? 0) >= generation) return;
    const existing = this.#rollouts.get(key);
    if (existing?.generation === generation) return;
    if (existing?.timer) clearTimeout(existing.timer);
    const spec = d.spec as JsonObject;
    const replicas = Number(spec.replicas ?? 1);
    const templateChanged =
      !previous ||
      !isDeepStrictEqual(previous.spec && (previous.spec as JsonObject).template, spec.template);
    const hash = templateHash(spec.template);
    const rsName = `${name}-${hash}`;
    const oldReady = Number(status.readyReplicas ?? 0);
    const conditions = (status.conditions ?? []) as JsonObject[];
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const condition = (type: string, value: string, reason: string, message: string) => ({
      type,
      status: value,
      lastUpdateTime: now,
      lastTransitionTime: now,
      reason,
      message,
    });
    const available =
      conditions.find((c) => c.type === 'Available') ??
      condition(
        'Available',
        oldReady > 0 ? 'True' : 'False',
        oldReady > 0 ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        oldReady > 0
          ? 'Deployment has minimum availability.'
          : 'Deployment does not have minimum availability.',
      );
    // Observed: the new ReplicaSet exists and is scaling up.
    this.#store.writeStatus(namespace, name, {
      observedGeneration: generation,
      replicas: templateChanged ? Math.max(replicas, oldReady) : replicas,
      updatedReplicas: templateChanged ? 0 : replicas,
      readyReplicas: Math.min(oldReady, replicas),
      availableReplicas: Math.min(oldReady, replicas),
      ...(oldReady < replicas
        ? { unavailableReplicas: replicas - Math.min(oldReady, replicas) }
        : {}),
      conditions: [
        available,
        condition(
          'Progressing',
          'True',
          'ReplicaSetUpdated',
          `ReplicaSet "${rsName}" is progressing.`,
        ),
      ],
    });
    if (templateChanged) {
      this.#store.event({
        namespace,
        involved: { kind: 'Deployment', name, apiVersion: 'apps/v1' },
        type: 'Normal',
        reason: 'ScalingReplicaSet',
        message: `Scaled up replica set ${rsName} from 0 to ${replicas}`,
      });
    }
    const images = ((spec.template as JsonObject)?.spec as JsonObject | undefined)?.containers as
      JsonObject[] | undefined;
    const failing = (images ?? []).some(
      (c) => typeof c.image === 'string' && this.failImage(c.image),
    );
    const rollout: Rollout = {
      generation,
      timer: undefined,
      held: false,
      finish: () => {
        rollout.timer = setTimeout(() => {
          rollout.timer = undefined;
          if (this.#store.get(namespace, name) === undefined) return;
          const current = this.#store.get(namespace, name)!;
          if (Number((current.metadata as JsonObject).generation) !== generation) return;
          if (failing)
            this.#fail(namespace, name, rsName, replicas, oldReady, available, condition, images!);
          else this.#complete(namespace, name, rsName, replicas, condition);
        }, this.rolloutDelayMs);
      },
    };
    this.#rollouts.set(key, rollout);
    if (this.#holding) rollout.held = true;
    else rollout.finish();
  }

  #complete(
    namespace: string,
    name: string,
    rsName: string,
    replicas: number,
    condition: (t: string, v: string, r: string, m: string) => JsonObject,
  ): void {
    this.#store.writeStatus(namespace, name, {
      observedGeneration: Number(
        (this.#store.get(namespace, name)!.metadata as JsonObject).generation,
      ),
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      conditions: [
        condition(
          'Available',
          'True',
          'MinimumReplicasAvailable',
          'Deployment has minimum availability.',
        ),
        condition(
          'Progressing',
          'True',
          'NewReplicaSetAvailable',
          `ReplicaSet "${rsName}" has successfully progressed.`,
        ),
      ],
    });
  }

  #fail(
    namespace: string,
    name: string,
    rsName: string,
    replicas: number,
    oldReady: number,
    available: JsonObject,
    condition: (t: string, v: string, r: string, m: string) => JsonObject,
    containers: JsonObject[],
  ): void {
    const image = containers.map((c) => str(c.image)).find((i) => this.failImage(i)) ?? '';
    this.#store.event({
      namespace,
      involved: { kind: 'Pod', name: `${rsName}-x7k2p`, apiVersion: 'v1' },
      type: 'Warning',
      reason: 'Failed',
      message: `Failed to pull image "${image}": rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`,
    });
    this.#store.writeStatus(namespace, name, {
      observedGeneration: Number(
        (this.#store.get(namespace, name)!.metadata as JsonObject).generation,
      ),
      replicas: replicas + 1,
      updatedReplicas: 1,
      readyReplicas: Math.min(oldReady, replicas),
      availableReplicas: Math.min(oldReady, replicas),
      unavailableReplicas: replicas + 1 - Math.min(oldReady, replicas),
      conditions: [
        available,
        condition(
          'Progressing',
          'False',
          'ProgressDeadlineExceeded',
          `ReplicaSet "${rsName}" has timed out progressing.`,
        ),
      ],
    });
  }

  close(): void {
    for (const r of this.#rollouts.values()) if (r.timer) clearTimeout(r.timer);
    this.#rollouts.clear();
  }
}
