/**
 * A Deployment's rollout state, read the way `kubectl rollout status` reads it: the new
 * generation observed, updated replicas up to spec.replicas, old replicas gone, updated
 * replicas available — and Progressing=False with ProgressDeadlineExceeded as a failure.
 */
import type { ClusterObject, RolloutPhase, WorkloadStatus } from '../../ports/cluster.js';
import { refOf } from './object-client.js';

interface DeploymentShape {
  metadata: { name: string; generation?: number; creationTimestamp?: string };
  spec?: {
    replicas?: number;
    template?: { spec?: { containers?: { image?: string }[] } };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export function deploymentStatus(object: ClusterObject): WorkloadStatus {
  const d = object as unknown as DeploymentShape;
  const name = d.metadata.name;
  const s = d.status ?? {};
  const desired = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const conditions = (s.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.message ? { message: c.message } : {}),
  }));
  let phase: RolloutPhase = 'progressing';
  let message: string;
  if ((d.metadata.generation ?? 0) > (s.observedGeneration ?? 0)) {
    message = 'waiting for the deployment spec update to be observed';
  } else if (
    conditions.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')
  ) {
    phase = 'failed';
    const progressing = conditions.find((c) => c.type === 'Progressing');
    message = `deployment "${name}" exceeded its progress deadline${progressing?.message ? `: ${progressing.message}` : ''}`;
  } else if (updated < desired) {
    message = `${updated} out of ${desired} new replicas have been updated`;
  } else if ((s.replicas ?? 0) > updated) {
    message = `${(s.replicas ?? 0) - updated} old replicas are pending termination`;
  } else if (available < updated) {
    message = `${available} of ${updated} updated replicas are available`;
  } else {
    phase = 'complete';
    message = `deployment "${name}" successfully rolled out`;
  }
  return {
    ref: refOf(object),
    phase,
    message,
    desired,
    updated,
    ready: s.readyReplicas ?? 0,
    available,
    images: (d.spec?.template?.spec?.containers ?? []).flatMap((c) => (c.image ? [c.image] : [])),
    conditions,
    ...(d.metadata.creationTimestamp ? { createdAt: d.metadata.creationTimestamp } : {}),
  };
}

/** One phase for several workloads: failed if any failed, complete if all are. */
export function overallPhase(workloads: WorkloadStatus[]): {
  phase: RolloutPhase;
  message: string;
} {
  const failed = workloads.find((w) => w.phase === 'failed');
  if (failed) return { phase: 'failed', message: failed.message };
  const waiting = workloads.find((w) => w.phase === 'progressing');
  if (waiting) return { phase: 'progressing', message: `${waiting.ref.name}: ${waiting.message}` };
  return {
    phase: 'complete',
    message:
      workloads.length === 0
        ? 'no workloads in the set'
        : `${workloads.length} deployment${workloads.length === 1 ? '' : 's'} rolled out`,
  };
}
