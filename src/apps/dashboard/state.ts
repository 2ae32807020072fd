/**
 * What the dashboard shows, as `GET /_mcml/api/state` returns it and `mcml status` reads it.
 * The browser code imports these types only (erased at compile time).
 */

export type HealthView = 'unknown' | 'healthy' | 'suspect' | 'unhealthy' | 'recovering';

/** One target as the dashboard shows it. */
export interface TargetView {
  name: string;
  provider: string;
  /** The cloud whose prices and labels apply (the emulated one for local targets). */
  cloud: string;
  region: string;
  tier: number;
  instanceType: string;
  capacity: 'on-demand' | 'spot' | 'mixed';
  health: HealthView;
  /** Taken out by hand (fail button / `mcml failover`). */
  disabled: boolean;
  active: boolean;
  replicas: {
    ready: number;
    desired: number;
    min: number;
    max: number;
    restarts: number;
    /** Process ids of the target's replica processes (each leads its process group). */
    pids: number[];
  };
  /** The target's own endpoint (its service port on this machine). */
  endpoint: string;
  bucket?: string;
  rps: number;
  errorRatio: number;
  p50Ms?: number;
  p99Ms?: number;
  /** USD per hour from the plan (baseline replicas). */
  hourly: number;
  checkLatencyMs?: number;
  lastError?: string;
}

export type EventKind =
  'failover' | 'failback' | 'health' | 'admin' | 'replica' | 'scale' | 'sync' | 'info';
export type EventLevel = 'info' | 'ok' | 'warn' | 'error';

/** One line of the event timeline. */
export interface EventView {
  at: number;
  kind: EventKind;
  level: EventLevel;
  target?: string;
  message: string;
}

/** Where one data set or model stands on one target. */
export interface SyncView {
  item: string;
  target: string;
  state: 'pending' | 'syncing' | 'done' | 'failed' | 'skipped';
  objects: number;
  bytes: number;
  at?: number;
  message?: string;
}

export interface DashboardState {
  service: string;
  /** The model name in the inference API. */
  model: string;
  startedAt: number;
  now: number;
  /** The front door everyone sends traffic to. */
  frontDoor: string;
  routing: string;
  active: string | null;
  totals: { hourly: number; monthly: number; rps: number };
  targets: TargetView[];
  /** Oldest first, at most a few hundred. */
  events: EventView[];
  sync: SyncView[];
  /** Requests per second by target for the last minutes: `t` in epoch seconds. */
  traffic: { t: number[]; series: Record<string, number[]> };
}

/** The result of the "send test traffic" action. */
export interface TrafficResult {
  sent: number;
  ok: number;
  failed: number;
  byTarget: Record<string, number>;
  ms: number;
}
