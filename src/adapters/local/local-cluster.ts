/**
 * The local cluster driver: what Kubernetes does for a Deployment + HPA, for processes on this
 * machine. For each target it keeps N replica processes running (restart on crash with
 * exponential backoff), probes their readiness URL, scales between min and max on load
 * (queue depth from each replica's /metrics, or CPU) with a scale-down stabilization window,
 * rolls replicas onto a new template one at a time (surge 1, none unavailable; a newer rollout
 * supersedes a running one, and a new replica that crash-loops or never turns ready fails the
 * rollout while the old replicas keep serving), and stops cleanly: SIGTERM to each replica's
 * process group, SIGKILL after a bound, no orphans. Targets can be added, reconfigured and
 * removed while it runs (the Local Cluster adapter does that on apply).
 *
 * Time comes from a `Clock`, so backoff and stabilization are testable; `reconcile()` runs one
 * pass of the loop and `start()` runs it every `intervalMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Clock } from '../../ports/clock.js';
import { McmlError } from '../../core/errors.js';
import { sumSamples } from '../../core/metrics/prom-text.js';
import { systemClock } from './system-clock.js';

/** The process that runs one replica. */
export interface ReplicaLaunch {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** How a target scales, like a HorizontalPodAutoscaler. */
export type AutoscalePolicy =
  | {
      metric: 'queue-depth';
      /** Desired in-flight requests per replica. */
      target: number;
      /** Prometheus gauge (summed over its series) read from each replica's metrics. */
      metricName: string;
    }
  | {
      metric: 'cpu';
      /** Desired CPU use per replica, in percent of `cpuPerReplica` cores. */
      targetPercent: number;
      cpuPerReplica: number;
    };

export interface LocalTargetConfig {
  name: string;
  minReplicas: number;
  maxReplicas: number;
  /** Replicas at start; default minReplicas (at least 1 when max ≥ 1). */
  initialReplicas?: number;
  /** The command for one replica that must listen on `port`. */
  launch(port: number, replicaId: string): ReplicaLaunch;
  /** GET path answering 200 when the replica is ready. */
  readinessPath: string;
  /** Prometheus metrics path of a replica. */
  metricsPath?: string;
  autoscale?: AutoscalePolicy;
}

export interface LocalClusterOptions {
  clock?: Clock;
  /** Reconcile period. */
  intervalMs?: number;
  /** Restart backoff: initial delay, cap, and how long a replica must stay up to reset it. */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
  /** SIGTERM → SIGKILL bound when stopping a replica. */
  stopGraceMs?: number;
  /** A replica not ready after this long is killed and restarted. */
  startupTimeoutMs?: number;
  /** A rollout fails when one of its new replicas has crashed this many times in a row. */
  rolloutCrashLimit?: number;
  /** Scale down only to the highest recommendation seen in this window (HPA: 300 s). */
  scaleDownStabilizationMs?: number;
  /** No scaling while |metric/target − 1| is within this (HPA: 0.1). */
  scaleTolerance?: number;
  /** Probe timeout. */
  probeTimeoutMs?: number;
  /** Allocates a port for a new replica. */
  allocatePort?: () => Promise<number>;
  host?: string;
}

export type ReplicaState = 'starting' | 'ready' | 'unready' | 'crashed' | 'stopping';

/** What the cluster says about one replica. */
export interface ReplicaStatus {
  id: string;
  target: string;
  port: number;
  url: string;
  /** The running process; undefined as soon as it has exited (never a dead pid). */
  pid: number | undefined;
  state: ReplicaState;
  restarts: number;
  /** Consecutive crashes (reset once the replica has stayed up a while). */
  crashes: number;
  /** The target template generation this replica runs. */
  generation: number;
  startedAt: number;
  readyAt?: number;
  /** When a crashed replica will be started again. */
  restartAt?: number;
  lastExit?: { code: number | null; signal: string | null; at: number };
}

export interface TargetStatus {
  name: string;
  desired: number;
  min: number;
  max: number;
  ready: number;
  /** Restarts of every replica the target ever had: never decreases (a Prometheus counter). */
  restarts: number;
  /** The template generation replicas should run; bumped by every rollout. */
  generation: number;
  rollingOut: boolean;
  /** Why the last rollout of this generation failed; cleared by the next rollout. */
  rolloutError?: string;
  /** Last autoscaling metric (average per replica) and its target. */
  metric?: { name: string; value: number; target: number };
  replicas: ReplicaStatus[];
}

export type ClusterEventType =
  | 'replica-starting'
  | 'replica-ready'
  | 'replica-unready'
  | 'replica-exited'
  | 'replica-stopped'
  | 'replica-timeout'
  | 'scaled'
  | 'rollout-started'
  | 'rollout-finished'
  | 'rollout-failed';

/** Every change the driver makes or sees. */
export interface ClusterEvent {
  time: number;
  type: ClusterEventType;
  target: string;
  replica?: string;
  message: string;
}

interface Replica {
  id: string;
  target: string;
  /** The template this replica was started from (restarts keep it). */
  config: LocalTargetConfig;
  generation: number;
  port: number;
  child: ChildProcess | undefined;
  state: ReplicaState;
  restarts: number;
  /** Consecutive crashes since the replica was last up for resetAfterMs. */
  crashes: number;
  startedAt: number;
  readyAt?: number;
  restartAt?: number;
  lastExit?: { code: number | null; signal: string | null; at: number };
  /** Being replaced by a rollout or removed by a scale-down: not counted in desired. */
  retiring: boolean;
  exited: Promise<void>;
  cpu?: { ticks: number; at: number; percent?: number };
  log: string[];
}

interface TargetRuntime {
  config: LocalTargetConfig;
  desired: number;
  replicas: Replica[];
  seq: number;
  generation: number;
  /** Restarts of replicas already removed, so the target's total never goes down. */
  retiredRestarts: number;
  rollingOut: boolean;
  rollout?: { controller: AbortController; done: Promise<void> };
  rolloutError?: string;
  /** Removed: a reconcile pass still holding it must not start replicas for it. */
  removed?: boolean;
  recommendations: { at: number; desired: number }[];
  metric?: { name: string; value: number; target: number };
}

const LOG_LINES = 40;

/** Runs replica processes for several targets and keeps them at their desired count. */
export class LocalCluster {
  readonly #clock: Clock;
  readonly #targets = new Map<string, TargetRuntime>();
  readonly #listeners = new Set<(event: ClusterEvent) => void>();
  readonly #opts: Required<Omit<LocalClusterOptions, 'clock' | 'backoff' | 'allocatePort'>> & {
    backoff: { initialMs: number; maxMs: number; resetAfterMs: number };
    allocatePort: () => Promise<number>;
  };
  #loop: AbortController | undefined;
  #loopDone: Promise<void> | undefined;
  #reconciling: Promise<void> | undefined;
  #stopped = false;
  #watchdog: Watchdog | undefined;
  readonly #onExit = () => this.#killAllNow();

  constructor(targets: LocalTargetConfig[], options: LocalClusterOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    const host = options.host ?? '127.0.0.1';
    this.#opts = {
      intervalMs: options.intervalMs ?? 1000,
      stopGraceMs: options.stopGraceMs ?? 5000,
      startupTimeoutMs: options.startupTimeoutMs ?? 60_000,
      rolloutCrashLimit: options.rolloutCrashLimit ?? 3,
      scaleDownStabilizationMs: options.scaleDownStabilizationMs ?? 30_000,
      scaleTolerance: options.scaleTolerance ?? 0.1,
      probeTimeoutMs: options.probeTimeoutMs ?? 1000,
      host,
      backoff: {
        initialMs: options.backoff?.initialMs ?? 500,
        maxMs: options.backoff?.maxMs ?? 30_000,
        resetAfterMs: options.backoff?.resetAfterMs ?? 10_000,
      },
      allocatePort: options.allocatePort ?? (() => freeLoopbackPort(host)),
    };
    for (const config of targets) this.#add(config);
  }

  /** Adds a target; the running loop starts its replicas on its next pass. */
  addTarget(config: LocalTargetConfig): void {
    if (this.#stopped) throw new McmlError('UNAVAILABLE', 'the local cluster was stopped');
    this.#add(config);
    if (this.#loop) void this.reconcile();
  }

  /**
   * Changes how a target scales (min, max, autoscaling, readiness) without replacing its
   * replicas; `desired` sets the count (clamped). New replicas use `config.launch`.
   */
  async reconfigure(target: string, config: LocalTargetConfig, desired?: number): Promise<void> {
    const rt = this.#target(target);
    checkBounds(config);
    rt.config = config;
    const next = clamp(desired ?? rt.desired, config.minReplicas, config.maxReplicas);
    if (next !== rt.desired) {
      this.#emit('scaled', rt, `scaled from ${rt.desired} to ${next} replicas (spec)`);
      rt.desired = next;
    }
    await this.reconcile();
  }

  /** Stops a target's rollout and replicas and forgets it. */
  async removeTarget(target: string): Promise<void> {
    const rt = this.#target(target);
    rt.rollout?.controller.abort();
    await rt.rollout?.done.catch(() => undefined);
    rt.removed = true;
    this.#targets.delete(target);
    await Promise.all(
      rt.replicas.map((r) => {
        r.retiring = true;
        return this.#stopReplica(rt, r);
      }),
    );
  }

  #add(config: LocalTargetConfig): void {
    if (this.#targets.has(config.name)) {
      throw new McmlError('INVALID_ARGUMENT', `target "${config.name}" appears twice`);
    }
    checkBounds(config);
    const initial = config.initialReplicas ?? Math.max(1, config.minReplicas);
    this.#targets.set(config.name, {
      config,
      desired: clamp(initial, config.minReplicas, config.maxReplicas),
      replicas: [],
      seq: 0,
      generation: 1,
      retiredRestarts: 0,
      rollingOut: false,
      recommendations: [],
    });
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (event: ClusterEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts the replicas and the reconcile loop. Resolves after the first pass. */
  async start(): Promise<void> {
    if (this.#loop) return;
    process.once('exit', this.#onExit);
    this.#watchdog = startWatchdog();
    this.#loop = new AbortController();
    const signal = this.#loop.signal;
    await this.reconcile();
    this.#loopDone = (async () => {
      while (!signal.aborted) {
        try {
          await this.#clock.sleep(this.#opts.intervalMs, signal);
        } catch {
          return;
        }
        await this.reconcile();
      }
    })();
  }

  /** Resolves when every target has at least `count` ready replicas (default: its desired). */
  async waitReady(options: { timeoutMs?: number; target?: string; count?: number } = {}) {
    const deadline = this.#clock.now() + (options.timeoutMs ?? 60_000);
    const done = () =>
      [...this.#targets.values()]
        .filter((t) => options.target === undefined || t.config.name === options.target)
        .every((t) => readyCount(t) >= (options.count ?? t.desired));
    while (!done()) {
      if (this.#stopped) throw new McmlError('UNAVAILABLE', 'the local cluster was stopped');
      if (this.#clock.now() > deadline) {
        const lines = this.status()
          .filter((t) => t.ready < t.desired)
          .map((t) => {
            const rt = this.#targets.get(t.name);
            const tail = rt?.replicas.flatMap((r) => r.log.slice(-5)).join('\n    ') ?? '';
            return `${t.name}: ${t.ready}/${t.desired} ready${tail ? `\n    ${tail}` : ''}`;
          });
        throw new McmlError('TIMEOUT', `replicas did not become ready:\n  ${lines.join('\n  ')}`);
      }
      await this.#nextEvent(250);
    }
  }

  /** One pass: restart crashed replicas, probe readiness, autoscale, match desired counts. */
  async reconcile(): Promise<void> {
    if (this.#reconciling) return this.#reconciling;
    this.#reconciling = (async () => {
      try {
        await Promise.all([...this.#targets.values()].map((t) => this.#reconcileTarget(t)));
      } finally {
        this.#reconciling = undefined;
      }
    })();
    return this.#reconciling;
  }

  /** Sets a target's replica count by hand (clamped to min..max). */
  async scale(target: string, replicas: number): Promise<void> {
    const rt = this.#target(target);
    const next = clamp(replicas, rt.config.minReplicas, rt.config.maxReplicas);
    if (next !== rt.desired) {
      this.#emit('scaled', rt, `scaled from ${rt.desired} to ${next} replicas (by hand)`);
      rt.desired = next;
    }
    await this.reconcile();
  }

  /**
   * Replaces every replica of a target one at a time: start a new one, wait until it is
   * ready, then stop one old one. Capacity never drops below the desired count.
   */
  async rollingRestart(target: string, options: { timeoutMs?: number } = {}): Promise<void> {
    await this.rollingUpdate(target, undefined, options);
  }

  /**
   * Rolls a target onto `config` (default: its current one, i.e. a restart) as a new
   * generation, one replica at a time, surge 1, none unavailable. A rollout already running is
   * superseded (its new replicas become old ones). Rejects when a new replica crash-loops
   * (`rolloutCrashLimit` crashes in a row) or is not ready within `timeoutMs`; the old replicas
   * keep serving then, and `status()` carries the reason as `rolloutError`.
   */
  async rollingUpdate(
    target: string,
    config?: LocalTargetConfig,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const rt = this.#target(target);
    // Everything up to the first await happens now, so status shows the new generation at once.
    const previous = rt.rollout;
    previous?.controller.abort();
    if (config) {
      checkBounds(config);
      rt.config = config;
      rt.desired = clamp(rt.desired, config.minReplicas, config.maxReplicas);
    }
    rt.generation += 1;
    delete rt.rolloutError;
    rt.rollingOut = true;
    const controller = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.#opts.startupTimeoutMs;
    const done = (async () => {
      await previous?.done.catch(() => undefined);
      await this.#roll(rt, controller.signal, timeoutMs, config === undefined);
    })();
    rt.rollout = { controller, done };
    try {
      await done;
    } finally {
      if (rt.rollout?.done === done) {
        delete rt.rollout;
        rt.rollingOut = false;
      }
    }
  }

  async #roll(
    rt: TargetRuntime,
    signal: AbortSignal,
    timeoutMs: number,
    restart: boolean,
  ): Promise<void> {
    const what = restart ? 'rolling restart' : `rollout of generation ${rt.generation}`;
    this.#emit(
      'rollout-started',
      rt,
      restart ? `rolling restart of ${rt.desired} replicas` : `${what} to ${rt.desired} replicas`,
    );
    try {
      for (;;) {
        if (this.#stopped || signal.aborted) return;
        const live = rt.replicas.filter((r) => !r.retiring);
        const old = live.filter((r) => r.generation !== rt.generation);
        if (old.length === 0) break;
        const fresh = live.filter((r) => r.generation === rt.generation);
        if (fresh.length < rt.desired) {
          const replica = await this.#startReplica(rt);
          await this.#waitReplicaReady(replica, timeoutMs, signal);
          if (signal.aborted) return;
        }
        // One old replica goes; one that serves nothing first.
        const order: ReplicaState[] = ['crashed', 'starting', 'unready', 'ready'];
        const victim = [...old].sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state))[0]!;
        victim.retiring = true;
        await this.#stopReplica(rt, victim);
      }
      this.#emit('rollout-finished', rt, `${what} done`);
    } catch (error) {
      if (signal.aborted || this.#stopped) return;
      rt.rolloutError = (error as Error).message;
      this.#emit('rollout-failed', rt, `${what} failed: ${rt.rolloutError}`);
      throw error;
    }
  }

  /** Everything about every target, for the dashboard and `mcml status`. */
  status(): TargetStatus[] {
    return [...this.#targets.values()].map((t) => ({
      name: t.config.name,
      desired: t.desired,
      min: t.config.minReplicas,
      max: t.config.maxReplicas,
      ready: readyCount(t),
      restarts: t.retiredRestarts + t.replicas.reduce((a, r) => a + r.restarts, 0),
      generation: t.generation,
      rollingOut: t.rollingOut,
      ...(t.rolloutError === undefined ? {} : { rolloutError: t.rolloutError }),
      ...(t.metric ? { metric: { ...t.metric } } : {}),
      replicas: t.replicas.map((r) => this.#replicaStatus(r)),
    }));
  }

  /** URLs of a target's ready replicas. */
  readyUrls(target: string): string[] {
    return this.#target(target)
      .replicas.filter((r) => r.state === 'ready')
      .map((r) => this.#url(r));
  }

  /** Recent output lines of a target's replicas, for error messages. */
  logs(target: string): string[] {
    return this.#target(target).replicas.flatMap((r) => r.log.map((l) => `[${r.id}] ${l}`));
  }

  /** Stops the loop and every replica: SIGTERM, then SIGKILL after stopGraceMs. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#loop?.abort();
    await this.#loopDone;
    await this.#reconciling;
    await Promise.all(
      [...this.#targets.values()].flatMap((t) => t.replicas.map((r) => this.#stopReplica(t, r))),
    );
    process.removeListener('exit', this.#onExit);
    this.#watchdog?.close();
    this.#watchdog = undefined;
  }

  // --- internals -------------------------------------------------------------------------

  #target(name: string): TargetRuntime {
    const rt = this.#targets.get(name);
    if (!rt) throw new McmlError('NOT_FOUND', `no target named "${name}"`);
    return rt;
  }

  #url(r: Replica): string {
    return `http://${this.#opts.host}:${r.port}`;
  }

  #replicaStatus(r: Replica): ReplicaStatus {
    return {
      id: r.id,
      target: r.target,
      port: r.port,
      url: this.#url(r),
      pid: running(r.child) ? r.child?.pid : undefined,
      state: r.state,
      restarts: r.restarts,
      crashes: r.crashes,
      generation: r.generation,
      startedAt: r.startedAt,
      ...(r.readyAt === undefined ? {} : { readyAt: r.readyAt }),
      ...(r.restartAt === undefined ? {} : { restartAt: r.restartAt }),
      ...(r.lastExit ? { lastExit: { ...r.lastExit } } : {}),
    };
  }

  #emit(type: ClusterEventType, rt: TargetRuntime, message: string, replica?: Replica): void {
    const event: ClusterEvent = {
      time: this.#clock.now(),
      type,
      target: rt.config.name,
      ...(replica ? { replica: replica.id } : {}),
      message,
    };
    for (const listener of this.#listeners) listener(event);
  }

  /** Resolves on the next event, or after `ms` (so waiters also see state from probes). */
  #nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const off = this.on(() => {
        clearTimeout(timer);
        off();
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        resolve();
      }, ms);
    });
  }

  async #reconcileTarget(rt: TargetRuntime): Promise<void> {
    if (this.#stopped) return;
    const now = this.#clock.now();
    // Restart crashed replicas whose backoff has passed.
    for (const r of rt.replicas) {
      if (r.state === 'crashed' && !r.retiring && (r.restartAt ?? 0) <= now) {
        this.#spawn(rt, r);
      }
    }
    await Promise.all(rt.replicas.map((r) => this.#probe(rt, r)));
    if (!rt.rollingOut) await this.#autoscale(rt);
    if (this.#stopped || rt.removed) return;
    // Match the desired count: crashed replicas waiting for their restart count as present.
    const live = rt.replicas.filter((r) => !r.retiring);
    for (let i = live.length; i < rt.desired; i++) await this.#startReplica(rt);
    if (live.length > rt.desired && !rt.rollingOut) {
      const order: ReplicaState[] = ['crashed', 'starting', 'unready', 'ready'];
      const extra = [...live]
        .sort(
          (a, b) => order.indexOf(a.state) - order.indexOf(b.state) || b.startedAt - a.startedAt,
        )
        .slice(0, live.length - rt.desired);
      for (const r of extra) r.retiring = true;
      await Promise.all(extra.map((r) => this.#stopReplica(rt, r)));
    }
  }

  async #probe(rt: TargetRuntime, r: Replica): Promise<void> {
    if (r.state !== 'starting' && r.state !== 'ready' && r.state !== 'unready') return;
    const ok = await httpOk(this.#url(r) + r.config.readinessPath, this.#opts.probeTimeoutMs);
    // The process may have exited or been stopped while the probe was in flight.
    if (r.state !== 'starting' && r.state !== 'ready' && r.state !== 'unready') return;
    const now = this.#clock.now();
    if (ok && r.state !== 'ready') {
      r.state = 'ready';
      r.readyAt = now;
      this.#emit('replica-ready', rt, `${r.id} ready on port ${r.port}`, r);
    } else if (!ok && r.state === 'ready') {
      r.state = 'unready';
      this.#emit('replica-unready', rt, `${r.id} failed its readiness check`, r);
    } else if (!ok && r.state === 'starting' && now - r.startedAt > this.#opts.startupTimeoutMs) {
      this.#emit(
        'replica-timeout',
        rt,
        `${r.id} not ready after ${Math.round(this.#opts.startupTimeoutMs / 1000)} s; restarting`,
        r,
      );
      killGroup(r.child, 'SIGKILL');
    }
    if (r.state === 'ready' && r.readyAt !== undefined) {
      if (now - r.readyAt >= this.#opts.backoff.resetAfterMs) r.crashes = 0;
    }
  }

  async #autoscale(rt: TargetRuntime): Promise<void> {
    const policy = rt.config.autoscale;
    if (!policy) return;
    const ready = rt.replicas.filter((r) => r.state === 'ready' && !r.retiring);
    if (ready.length === 0) return;
    const values = await Promise.all(ready.map((r) => this.#sample(rt, r, policy)));
    const known = values.filter((v): v is number => v !== undefined);
    if (known.length === 0) return;
    const average = known.reduce((a, b) => a + b, 0) / known.length;
    const target = policy.metric === 'cpu' ? policy.targetPercent : policy.target;
    rt.metric = {
      name: policy.metric === 'cpu' ? 'cpu-percent' : policy.metricName,
      value: average,
      target,
    };
    const now = this.#clock.now();
    // Like the HPA: current replicas are the ones counted; unready ones are left out.
    const current = rt.desired;
    const ratio = average / target;
    let recommended =
      Math.abs(ratio - 1) <= this.#opts.scaleTolerance ? current : Math.ceil(ready.length * ratio);
    recommended = clamp(recommended, rt.config.minReplicas, rt.config.maxReplicas);
    rt.recommendations.push({ at: now, desired: recommended });
    rt.recommendations = rt.recommendations.filter(
      (x) => now - x.at <= this.#opts.scaleDownStabilizationMs,
    );
    let next = current;
    if (recommended > current) next = recommended;
    else {
      // Scale down only as far as the highest recommendation in the window allows.
      const highest = Math.max(...rt.recommendations.map((x) => x.desired));
      if (highest < current) next = highest;
    }
    if (next !== current) {
      this.#emit(
        'scaled',
        rt,
        `scaled from ${current} to ${next} replicas (${rt.metric.name} ${round(average)} per replica, target ${target})`,
      );
      rt.desired = next;
    }
  }

  async #sample(
    rt: TargetRuntime,
    r: Replica,
    policy: AutoscalePolicy,
  ): Promise<number | undefined> {
    if (policy.metric === 'queue-depth') {
      const text = await httpText(
        this.#url(r) + (r.config.metricsPath ?? '/metrics'),
        this.#opts.probeTimeoutMs,
      );
      return text === undefined ? undefined : sumSamples(text, policy.metricName);
    }
    const pid = r.child?.pid;
    if (pid === undefined) return undefined;
    const ticks = await cpuTicks(pid);
    if (ticks === undefined) return undefined;
    const at = this.#clock.now();
    const previous = r.cpu;
    r.cpu = { ticks, at };
    if (!previous || at <= previous.at) return undefined;
    // /proc counts in USER_HZ (100 on Linux): ticks/100 = CPU seconds.
    const cpuSeconds = (ticks - previous.ticks) / 100;
    const percent = (100 * cpuSeconds) / ((at - previous.at) / 1000) / policy.cpuPerReplica;
    r.cpu.percent = percent;
    return percent;
  }

  async #startReplica(rt: TargetRuntime): Promise<Replica> {
    const port = await this.#opts.allocatePort();
    rt.seq += 1;
    const replica: Replica = {
      id: `${rt.config.name}-${rt.seq}`,
      target: rt.config.name,
      config: rt.config,
      generation: rt.generation,
      port,
      child: undefined,
      state: 'crashed',
      restarts: 0,
      crashes: 0,
      startedAt: this.#clock.now(),
      retiring: false,
      exited: Promise.resolve(),
      log: [],
    };
    rt.replicas.push(replica);
    this.#spawn(rt, replica);
    return replica;
  }

  #spawn(rt: TargetRuntime, r: Replica): void {
    if (this.#stopped || rt.removed) return;
    const launch = r.config.launch(r.port, r.id);
    const child = spawn(launch.command, launch.args, {
      // Its own process group, so stopping it also stops anything it started.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...launch.env },
      ...(launch.cwd ? { cwd: launch.cwd } : {}),
    });
    r.child = child;
    if (child.pid !== undefined) this.#watchdog?.add(child.pid);
    r.state = 'starting';
    r.startedAt = this.#clock.now();
    delete r.readyAt;
    delete r.restartAt;
    delete r.cpu;
    const capture = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() === '') continue;
        r.log.push(line.length > 500 ? line.slice(0, 500) + '…' : line);
      }
      if (r.log.length > LOG_LINES) r.log.splice(0, r.log.length - LOG_LINES);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    r.exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        r.log.push(`cannot start ${launch.command}: ${error.message}`);
        if (child.pid === undefined) this.#handleExit(rt, r, child, null, null, resolve);
      });
      child.once('exit', (code, signal) => this.#handleExit(rt, r, child, code, signal, resolve));
    });
    this.#emit(
      'replica-starting',
      rt,
      `${r.id} starting on port ${r.port}${child.pid ? ` (pid ${child.pid})` : ''}`,
      r,
    );
  }

  #handleExit(
    rt: TargetRuntime,
    r: Replica,
    child: ChildProcess,
    code: number | null,
    signal: string | null,
    resolve: () => void,
  ): void {
    if (child.pid !== undefined) this.#watchdog?.remove(child.pid);
    if (r.child !== child) return resolve();
    // Anything the replica left in its group goes with it.
    killGroup(child, 'SIGKILL');
    const now = this.#clock.now();
    r.lastExit = { code, signal, at: now };
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (r.state === 'stopping' || r.retiring || this.#stopped) {
      r.state = 'stopping';
      this.#remove(rt, r);
      this.#emit('replica-stopped', rt, `${r.id} stopped (${how})`, r);
    } else {
      r.crashes += 1;
      r.restarts += 1;
      const { initialMs, maxMs } = this.#opts.backoff;
      const delay = Math.min(maxMs, initialMs * 2 ** (r.crashes - 1));
      r.state = 'crashed';
      r.restartAt = now + delay;
      this.#emit(
        'replica-exited',
        rt,
        `${r.id} exited (${how}); restart ${r.restarts} in ${formatMs(delay)}`,
        r,
      );
    }
    resolve();
  }

  /** Rows a replica out of its target; its restarts stay in the target's total. */
  #remove(rt: TargetRuntime, r: Replica): void {
    if (!rt.replicas.includes(r)) return;
    rt.replicas = rt.replicas.filter((x) => x !== r);
    rt.retiredRestarts += r.restarts;
  }

  async #waitReplicaReady(r: Replica, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = this.#clock.now() + timeoutMs;
    while (r.state !== 'ready') {
      if (this.#stopped) throw new McmlError('UNAVAILABLE', 'the local cluster was stopped');
      if (signal?.aborted) throw new McmlError('UNAVAILABLE', 'the rollout was superseded');
      if (r.crashes >= this.#opts.rolloutCrashLimit) {
        const exit = r.lastExit;
        const how = exit?.signal ? `signal ${exit.signal}` : `code ${exit?.code ?? '?'}`;
        const tail = r.log.slice(-3).join(' | ');
        throw new McmlError(
          'UNAVAILABLE',
          `${r.id} crashed ${r.crashes} times in a row (last exit ${how})${tail ? `: ${tail}` : ''}`,
          { details: { log: r.log.slice(-10) } },
        );
      }
      if (this.#clock.now() > deadline) {
        throw new McmlError('TIMEOUT', `${r.id} did not become ready`, {
          details: { log: r.log.slice(-10) },
        });
      }
      await this.#nextEvent(250);
    }
  }

  async #stopReplica(rt: TargetRuntime, r: Replica): Promise<void> {
    const child = r.child;
    if (!child || r.state === 'crashed') {
      this.#remove(rt, r);
      if (r.state === 'crashed') this.#emit('replica-stopped', rt, `${r.id} removed`, r);
      r.state = 'stopping';
      return;
    }
    r.state = 'stopping';
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), this.#opts.stopGraceMs);
      await r.exited;
      clearTimeout(timer);
    } else {
      await r.exited;
    }
  }

  #killAllNow(): void {
    for (const rt of this.#targets.values()) {
      for (const r of rt.replicas) killGroup(r.child, 'SIGKILL');
    }
  }
}

/**
 * A guard process that outlives us: it holds a pipe from this process and, when the pipe
 * closes without a goodbye (we were SIGKILLed), stops every replica group still listed, so
 * even a killed `mcml up` leaves no orphan.
 */
interface Watchdog {
  add(pgid: number): void;
  remove(pgid: number): void;
  close(): void;
}

const WATCHDOG_SOURCE = `
const groups = new Set();
let buffered = '';
let done = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let i;
  while ((i = buffered.indexOf('\\n')) >= 0) {
    const [op, id] = buffered.slice(0, i).split(' ');
    buffered = buffered.slice(i + 1);
    if (op === '+') groups.add(Number(id));
    else if (op === '-') groups.delete(Number(id));
    else if (op === 'bye') done = true;
  }
});
const signal = (sig) => {
  for (const g of groups) {
    try { process.kill(-g, sig); } catch {}
  }
};
process.stdin.on('close', () => {
  if (done || groups.size === 0) process.exit(0);
  signal('SIGTERM');
  setTimeout(() => { signal('SIGKILL'); process.exit(0); }, 3000);
});
`;

function startWatchdog(): Watchdog | undefined {
  try {
    const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    child.unref();
    // The pipe must not keep this process alive either.
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    const send = (line: string) => {
      if (child.stdin?.writable) child.stdin.write(line + '\n');
    };
    return {
      add: (pgid) => send(`+ ${pgid}`),
      remove: (pgid) => send(`- ${pgid}`),
      close: () => {
        send('bye');
        child.stdin?.end();
      },
    };
  } catch {
    return undefined;
  }
}

function checkBounds(config: LocalTargetConfig): void {
  if (config.maxReplicas < Math.max(1, config.minReplicas)) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `target "${config.name}": max replicas ${config.maxReplicas} is below min ${config.minReplicas}`,
    );
  }
}

function running(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function readyCount(t: TargetRuntime): number {
  return t.replicas.filter((r) => r.state === 'ready' && !r.retiring).length;
}

/** Signals a replica's whole process group; ignores groups that are gone. */
export function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  const pid = child?.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone; try the process itself in case it left its group.
    try {
      if (child?.exitCode === null && child.signalCode === null) process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

async function httpOk(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function httpText(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return res.ok ? text : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process from /proc (Linux), in clock ticks. */
async function cpuTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return Number.isFinite(utime + stime) ? utime + stime : undefined;
  } catch {
    return undefined;
  }
}

/** A free TCP port on `host` (asks the kernel, then releases it). */
export function freeLoopbackPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${round(ms / 1000)} s`;
}
