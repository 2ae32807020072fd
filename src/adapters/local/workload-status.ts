/**
 * A Deployment's rollout read off the local cluster driver's view of its target, in the
 * terms a real cluster reports it: the phase, the replica counts, the `Progressing` and
 * `Available` conditions, and the message `kubectl rollout status` would print.
 */
import type { ObjectRef, RolloutPhase, WorkloadStatus } from '../../ports/cluster.js';
import type { ReplicaStatus, TargetStatus } from './local-cluster.js';

/** The rollout status of Deployment `name`, whose driver target is `t` (undefined: not started). */
export function workloadStatusOf(
  ref: ObjectRef,
  name: string,
  t: TargetStatus | undefined,
): WorkloadStatus {
  const shown = `deployment "${name}"`;
  if (!t) return notStarted(ref, shown);
  const replicas = replicasOf(t);
  const failure = rolloutFailure(t, replicas.updated);
  const phase: RolloutPhase = failure
    ? 'failed'
    : rolloutComplete(t, replicas)
      ? 'complete'
      : 'progressing';
  const ready = replicas.ready;
  return {
    ref,
    phase,
    message: rolloutMessage(shown, phase, failure, t.desired, replicas),
    desired: t.desired,
    updated: replicas.updated.length,
    ready,
    available: ready,
    images: [],
    conditions: [
      {
        type: 'Progressing',
        status: phase === 'failed' ? 'False' : 'True',
        ...(phase === 'failed' ? { reason: 'ProgressDeadlineExceeded', message: failure! } : {}),
      },
      { type: 'Available', status: ready >= t.desired ? 'True' : 'False' },
    ],
  };
}

/** A target's replicas not stopping, those of them on the current template, how many are ready. */
interface Replicas {
  live: ReplicaStatus[];
  updated: ReplicaStatus[];
  ready: number;
}

function notStarted(ref: ObjectRef, shown: string): WorkloadStatus {
  return {
    ref,
    phase: 'progressing',
    message: `Waiting for ${shown} to start`,
    desired: 0,
    updated: 0,
    ready: 0,
    available: 0,
    images: [],
    conditions: [],
  };
}

function replicasOf(t: TargetStatus): Replicas {
  const live = t.replicas.filter((r) => r.state !== 'stopping');
  const updated = live.filter((r) => r.generation === t.generation);
  const ready = live.filter((r) => r.state === 'ready').length;
  return { live, updated, ready };
}

/** Why the rollout failed: the driver's reason, or an updated replica crash-looping after it. */
function rolloutFailure(t: TargetStatus, updated: ReplicaStatus[]): string | undefined {
  const crashLoop = updated.find((r) => r.state !== 'ready' && r.crashes >= 3);
  return (
    t.rolloutError ??
    (crashLoop && !t.rollingOut
      ? `${crashLoop.id} is crash-looping (${crashLoop.crashes} crashes)`
      : undefined)
  );
}

/** Every desired replica is updated and ready, and no old one is left. */
function rolloutComplete(t: TargetStatus, { live, updated }: Replicas): boolean {
  return (
    !t.rollingOut &&
    updated.length >= t.desired &&
    updated.filter((r) => r.state === 'ready').length >= t.desired &&
    live.length === updated.length
  );
}

function rolloutMessage(
  shown: string,
  phase: RolloutPhase,
  failure: string | undefined,
  desired: number,
  { live, updated, ready }: Replicas,
): string {
  return phase === 'failed'
    ? `${shown} exceeded its progress deadline: ${failure}`
    : phase === 'complete'
      ? `${shown} successfully rolled out`
      : updated.length < desired
        ? `Waiting for ${shown} rollout to finish: ${updated.length} out of ${desired} new replicas have been updated...`
        : live.length > updated.length
          ? `Waiting for ${shown} rollout to finish: ${live.length - updated.length} old replicas are pending termination...`
          : `Waiting for ${shown} rollout to finish: ${ready} of ${desired} updated replicas are available...`;
}
