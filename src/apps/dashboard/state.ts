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
  'failover' | 'failback' | 'health' | 'admin' | 'replica' | 'scale' | 'sync' | 'deploy' | 'info';
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

/**
 * The Costs view: daily spend by cloud for the month so far (billed, from the cost store that
 * `mcml cost import` / `pull` fill), the plan's estimate and the budget per day, and this
 * run's own cost estimated live from its running replicas (replica-hours × catalog price).
 */
export interface CostsView {
  currency: 'USD';
  /** YYYY-MM */
  month: string;
  /** Every day of the month up to today. */
  days: string[];
  /** Billed USD per day by cloud (one value per day in `days`). */
  billed: Record<string, number[]>;
  /** Where the billed figures come from, or why there are none. */
  billedSource: string;
  /** The plan's USD per day (baseline replicas, 24 h). */
  estimatePerDay: number;
  /** The monthly budget spread over the month's days. */
  budgetPerDay?: number;
  /** This run, estimated (not billed): replica-hours × catalog price since it started. */
  live: {
    since: number;
    cost: number;
    byCloud: Record<string, number>;
    replicaHours: number;
    /** USD per hour at the replicas running now. */
    perHour: number;
  };
}

/** One target's place in a rollout. */
export interface RolloutTargetView {
  name: string;
  wave: number;
  /** waiting, connecting, applying, rolling-out, health-gate, metric-gate, baking, done, failed… */
  phase: string;
  message: string;
  revision?: number;
  gates: { gate: 'health' | 'metric'; ok: boolean; message: string }[];
}

/** The rollout that put the service on its targets (for `mcml up`: at start-up). */
export interface RolloutView {
  state: 'running' | 'done' | 'failed' | 'interrupted';
  /** Target names per wave, first wave first. */
  waves: string[][];
  /** The wave running now, or the last one that ran (1-based; 0 before the first). */
  wave: number;
  startedAt: number;
  finishedAt?: number;
  targets: RolloutTargetView[];
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
  /** The Costs view, when the deployment feeds one (mcml up does). */
  costs?: CostsView;
  /** The rollout through the deploy engine (waves, phases, gates), when there was one. */
  rollout?: RolloutView;
}

/** The result of the "send test traffic" action. */
export interface TrafficResult {
  sent: number;
  ok: number;
  failed: number;
  byTarget: Record<string, number>;
  ms: number;
}
