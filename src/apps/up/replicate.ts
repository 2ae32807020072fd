/**
 * The copy step of `mcml up`: put the model and each data set into every target's bucket,
 * through the ObjectStore port, skipping objects the destination already holds (same size
 * and sha256) and verifying what it writes. It stands in for the sync engine's fan-out until
 * `mcml up` calls that engine (see `SyncFn`); residency is decided before, by the plan.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import picomatch from 'picomatch';
import { McmlError } from '../../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';

/** One copy job: objects under `sourceKeys` of `source` to `destPrefix` in every destination. */
export interface CopyJob {
  source: ObjectStore;
  /** Keys to copy; every key when undefined. */
  keys?: string[];
  include?: string[];
  exclude?: string[];
  destinations: { name: string; store: ObjectStore; prefix: string }[];
}

/** What happened for one destination. */
export interface CopyOutcome {
  destination: string;
  objects: number;
  copied: number;
  bytes: number;
}

/** Copies a job's objects; each source object is read once per destination that lacks it. */
export async function replicate(job: CopyJob): Promise<CopyOutcome[]> {
  const infos = await selectObjects(job);
  const outcomes = job.destinations.map((d) => ({
    destination: d.name,
    objects: infos.length,
    copied: 0,
    bytes: 0,
  }));
  for (const info of infos) {
    const sha256 = info.sha256 ?? (await hashObject(job.source, info.key));
    await Promise.all(
      job.destinations.map(async (dest, i) => {
        const key = dest.prefix + info.key;
        const there = await dest.store.stat(key);
        if (there && there.size === info.size && there.sha256 === sha256) return;
        const body = await job.source.read(info.key);
        const written = await dest.store.write(key, body, { size: info.size, sha256 });
        if (written.sha256 !== undefined && written.sha256 !== sha256) {
          throw new McmlError(
            'INTEGRITY',
            `copy of ${info.key} to ${dest.store.uri} has sha256 ${written.sha256}, expected ${sha256}`,
          );
        }
        outcomes[i]!.copied += 1;
        outcomes[i]!.bytes += info.size;
      }),
    );
  }
  return outcomes;
}

async function selectObjects(job: CopyJob): Promise<ObjectInfo[]> {
  if (job.keys) {
    return Promise.all(
      job.keys.map(async (key) => {
        const info = await job.source.stat(key);
        if (!info) {
          throw new McmlError('NOT_FOUND', `${job.source.uri}${key} does not exist`);
        }
        return info;
      }),
    );
  }
  const include = job.include && job.include.length > 0 ? picomatch(job.include) : () => true;
  const exclude = job.exclude && job.exclude.length > 0 ? picomatch(job.exclude) : () => false;
  const out: ObjectInfo[] = [];
  for await (const page of job.source.list()) {
    for (const info of page) if (include(info.key) && !exclude(info.key)) out.push(info);
  }
  return out;
}

async function hashObject(store: ObjectStore, key: string): Promise<string> {
  const hash = createHash('sha256');
  const stream: Readable = await store.read(key);
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
