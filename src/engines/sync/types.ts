/** The sync engine's options, events and report: what a caller of runSync sees. */
import type { CopyAction } from '../../core/sync/diff.js';
import type { ObjectStore } from '../../ports/object-store.js';

export interface SyncOptions {
  /**
   * The stores, open or still opening: a side still opening (loading its cloud SDK) is listed
   * as soon as it is open, so one side's listing runs while another's SDK loads.
   */
  source: ObjectStore | Promise<ObjectStore>;
  destinations: (ObjectStore | Promise<ObjectStore>)[];
  include?: string[];
  exclude?: string[];
  /** Delete destination objects absent from the source. */
  delete?: boolean;
  /** Refuse (before copying anything) when a destination would lose more objects than this. */
  maxDelete?: number;
  dryRun?: boolean;
  /** Objects in flight (default 16). */
  transfers?: number;
  /**
   * Ranged GETs in flight per large object read from the source (default 1: one stream).
   * Above 1, objects of at least 2 × streams parts are read as parallel ranges, in order.
   */
  downloadStreams?: number;
  /** Let destinations fetch from a presigned source URL (Azure Put Block From URL). */
  serverSide?: boolean;
  /** Attempts per object for retryable failures (default 5). */
  attempts?: number;
  signal?: AbortSignal;
  onEvent?: (event: SyncEvent) => void;
  /** Injected for tests: waiting between retries. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type SyncEvent =
  | { type: 'planned'; objects: number; bytes: number; copies: number; deletes: number }
  | { type: 'bytes'; bytes: number }
  | { type: 'copied'; key: string; destination: string; size: number; serverSide: boolean }
  | { type: 'object-done'; key: string }
  | { type: 'deleted'; key: string; destination: string }
  | { type: 'abandoned-removed'; key: string; destination: string; size?: number }
  | { type: 'retry'; key: string; attempt: number; delayMs: number; error: string }
  | { type: 'fallback'; destination: string; error: string }
  | { type: 'failed'; key: string; destination: string; error: string };

export interface DestinationReport {
  uri: string;
  copied: number;
  bytesWritten: number;
  serverSide: number;
  unchanged: number;
  deleted: number;
  /** Leftovers of interrupted earlier writes removed (temp files, abandoned uploads). */
  abandonedRemoved: number;
  /** In a dry run: what would be copied and deleted. */
  wouldCopy?: CopyAction[];
  wouldDelete?: string[];
  failed: { key: string; error: string; code: string }[];
}

export interface SyncReport {
  source: string;
  dryRun: boolean;
  sourceObjects: number;
  /** Distinct source objects read (once each, whatever the number of destinations). */
  objectsRead: number;
  bytesRead: number;
  /** Objects whose listings did not settle equality and needed a stat. */
  statted: number;
  destinations: DestinationReport[];
  durationMs: number;
  /** Where the time went, by phase (ms), for --json. */
  timings: { list: number; settle: number; clean: number; transfer: number; delete: number };
  /** Bytes not sent again because an interrupted earlier write had stored them. */
  bytesResumed: number;
  ok: boolean;
}

/** One run's settings with their defaults, shared by its phases (internal to the engine). */
export interface SyncRun {
  options: SyncOptions;
  source: ObjectStore;
  destinations: ObjectStore[];
  /** Objects in flight. */
  transfers: number;
  /** Attempts per object for retryable failures. */
  attempts: number;
  sleep: (ms: number) => Promise<void>;
  emit: (event: SyncEvent) => void;
  now: () => number;
}
