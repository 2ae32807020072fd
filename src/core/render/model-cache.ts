/**
 * What the model's size asks of a cluster, from `service.model.cacheSize`: each replica's
 * cache volume and the ephemeral storage it requests, the nodes' disks, and how long a replica
 * may take to download and open the model before Kubernetes gives up on it.
 */
import { memoryGiB } from '../spec/parse.js';
import type { Spec } from '../spec/schema.js';

/** Seconds a replica may take to start per GiB of model cache (~100 MiB/s end to end). */
const START_SECONDS_PER_GIB = 10;
/** The least start-up budget: 10 minutes, Kubernetes' default progress deadline. */
const MIN_START_SECONDS = 600;
/** Disk a node needs beside the model cache: the OS, the CUDA image layers, logs. */
const NODE_DISK_HEADROOM_GIB = 80;

export interface ModelCache {
  /** The Kubernetes quantity of the cache ("20Gi"). */
  quantity: string;
  gib: number;
  /** How long a replica may take to become ready. */
  startSeconds: number;
}

export function modelCache(spec: Spec): ModelCache {
  const size = spec.service.model.cacheSize;
  const gib = memoryGiB(size);
  return {
    quantity: typeof size === 'number' ? `${size}Gi` : size,
    gib,
    startSeconds: Math.max(MIN_START_SECONDS, Math.ceil(gib * START_SECONDS_PER_GIB)),
  };
}

/** A node pool's disk (GB): the cloud module's default, or more when the cache needs it. */
export function nodeDiskGb(spec: Spec, moduleDefault: number): number {
  return Math.max(moduleDefault, Math.ceil(modelCache(spec).gib) + NODE_DISK_HEADROOM_GIB);
}
