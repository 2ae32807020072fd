/**
 * The rollout engine: targets in waves, every target of a wave at once, and per target
 * reach → apply → wait for the rollout (bounded by the clock) → health gate → metric gate →
 * bake → gates again. A failed gate rolls that target back to its previous revision, lets the
 * rest of the wave finish, and halts later waves. An unreachable cluster is retried with
 * backoff, then skipped or failed. An abort (Ctrl-C) stops starting work, stops waiting, and
 * still reports where every cluster stands. Time comes from a Clock; every cluster is a
 * Cluster port, so the same engine drives Kubernetes and `mcml up`'s local processes.
 */
import { McmlError, isMcmlError, type ErrorCode } from '../../core/errors.js';
import type { Clock } from '../../ports/clock.js';
import type {
  ApplyResult,
  ApplySet,
  Cluster,
  RolloutStatus,
  StartLine,
} from '../../ports/cluster.js';
import { healthGate, type GateResult, type InferenceProbe, type MetricGate } from './gates.js';
import { WaveStartLine } from './start-line.js';

export type TargetPhase =
  | 'waiting'
  | 'connecting'
  | 'applying'
  | 'rolling-out'
  | 'health-gate'
  | 'metric-gate'
  | 'baking'
  | 'done'
  | 'failed'
  | 'rolling-back'
  | 'rolled-back'
  | 'skipped'
  | 'halted'
  | 'interrupted';

export interface DeployTarget {
  name: string;
  tier: number;
  cluster: Cluster;
  set: ApplySet;
  probe?: InferenceProbe;
}

export interface DeployOptions {
  clock: Clock;
  waves: string[][];
  /** What each target does: apply the set (default) or roll back to a revision. */
  action?: { kind: 'apply' } | { kind: 'rollback'; to?: number };
  /** Longest wait for one target's rollout (default 10 min). */
  rolloutTimeoutMs?: number;
  /** Time to watch a target after its gates pass, before checking them again (default 0). */
  bakeMs?: number;
  metricGate?: MetricGate;
  /** Reaching a cluster: attempts, first backoff (doubling), and what to do when it stays down. */
  reach?: { attempts?: number; backoffMs?: number; onUnreachable?: 'skip' | 'fail' };
  force?: boolean;
  prune?: boolean;
  /** Roll a target back when its rollout or a gate fails (default true). */
  rollbackOnFailure?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: DeployEvent) => void;
}

export interface TargetOutcome {
  target: string;
  wave: number;
  phase: TargetPhase;
  /** The revision the cluster is at when the deploy ends, when known. */
  revision?: number;
  /** The revision before this deploy. */
  previous?: number;
  /** Objects created/configured/pruned by the apply. */
  changed?: number;
  gates: GateResult[];
  error?: ErrorView;
  /** Where the cluster stands, in words. */
  state: string;
}

/** A target's failure: what, how to fix it, and the fields or objects it concerns. */
export interface ErrorView {
  code: ErrorCode;
  message: string;
  hint?: string;
  /** E.g. each conflicting field and its manager. */
  issues?: { path: string; message: string }[];
}

export interface DeployReport {
  ok: boolean;
  /** Later waves were not started because a wave failed. */
  halted: boolean;
  interrupted: boolean;
  waves: string[][];
  targets: TargetOutcome[];
}

export type DeployEvent =
  | { type: 'plan'; at: number; waves: string[][] }
  | {
      type: 'wave';
      at: number;
      wave: number;
      targets: string[];
      state: 'started' | 'passed' | 'failed';
    }
  | {
      type: 'phase';
      at: number;
      target: string;
      wave: number;
      phase: TargetPhase;
      message: string;
      revision?: number;
    }
  | { type: 'progress'; at: number; target: string; message: string }
  | { type: 'gate'; at: number; target: string; result: GateResult }
  | { type: 'done'; at: number; report: DeployReport };

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

class Failure extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode = 'UNAVAILABLE',
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Runs the deploy and resolves with where every target stands; it does not throw for targets. */
export async function runDeploy(
  targets: DeployTarget[],
  options: DeployOptions,
): Promise<DeployReport> {
  const { clock } = options;
  const emit = (event: DeployEvent) => options.onEvent?.(event);
  const byName = new Map(targets.map((t) => [t.name, t]));
  const outcomes = waitingOutcomes(options.waves, byName);
  emit({ type: 'plan', at: clock.now(), waves: options.waves });
  let halted = false;
  for (const [i, wave] of options.waves.entries()) {
    if (halted || options.signal?.aborted) leaveUntouched(wave, i + 1, outcomes, options, emit);
    else halted = !(await runWave(wave, i + 1, byName, outcomes, options, emit));
  }
  const list = options.waves.flat().map((n) => outcomes.get(n)!);
  const report: DeployReport = {
    ok: list.every((o) => o.phase === 'done'),
    halted: halted && !options.signal?.aborted,
    interrupted: options.signal?.aborted === true,
    waves: options.waves,
    targets: list,
  };
  emit({ type: 'done', at: clock.now(), report });
  return report;
}

/** Every target of the waves, waiting and untouched; refuses a wave naming an unknown target. */
function waitingOutcomes(
  waves: string[][],
  byName: Map<string, DeployTarget>,
): Map<string, TargetOutcome> {
  const outcomes = new Map<string, TargetOutcome>();
  waves.forEach((wave, i) => {
    for (const name of wave) {
      if (!byName.has(name))
        throw new McmlError('INTERNAL', `wave ${i + 1} names unknown target ${name}`);
      outcomes.set(name, {
        target: name,
        wave: i + 1,
        phase: 'waiting',
        gates: [],
        state: 'untouched',
      });
    }
  });
  return outcomes;
}

/** A wave after a failed one, or after an abort: its targets are left as they are. */
function leaveUntouched(
  wave: string[],
  number: number,
  outcomes: Map<string, TargetOutcome>,
  options: DeployOptions,
  emit: (event: DeployEvent) => void,
): void {
  const aborted = options.signal?.aborted === true;
  for (const name of wave) {
    const o = outcomes.get(name)!;
    o.phase = aborted ? 'interrupted' : 'halted';
    o.state = aborted
      ? 'untouched: interrupted before its wave'
      : 'untouched: an earlier wave failed';
    emit({
      type: 'phase',
      at: options.clock.now(),
      target: name,
      wave: number,
      phase: o.phase,
      message: o.state,
    });
  }
}

/** Every target of one wave at once, behind one start line; whether the wave passed. */
async function runWave(
  wave: string[],
  number: number,
  byName: Map<string, DeployTarget>,
  outcomes: Map<string, TargetOutcome>,
  options: DeployOptions,
  emit: (event: DeployEvent) => void,
): Promise<boolean> {
  const { clock } = options;
  emit({ type: 'wave', at: clock.now(), wave: number, targets: wave, state: 'started' });
  const line = new WaveStartLine(wave.length, clock);
  await Promise.all(
    wave.map((name) =>
      new TargetRun(
        byName.get(name)!,
        number,
        outcomes.get(name)!,
        options,
        emit,
        line.forTarget(),
      ).run(),
    ),
  );
  const failed = wave.some(
    (name) => outcomes.get(name)!.phase !== 'done' && outcomes.get(name)!.phase !== 'skipped',
  );
  const state = failed ? 'failed' : 'passed';
  emit({ type: 'wave', at: clock.now(), wave: number, targets: wave, state });
  return !failed;
}

/** One target through its phases. */
class TargetRun {
  readonly #t: DeployTarget;
  readonly #wave: number;
  readonly #o: TargetOutcome;
  readonly #opts: DeployOptions;
  readonly #emit: (e: DeployEvent) => void;
  /** The wave's start line: reached when this target's rollouts started, or it stopped. */
  readonly #line: StartLine;
  #applied = false;

  constructor(
    t: DeployTarget,
    wave: number,
    outcome: TargetOutcome,
    options: DeployOptions,
    emit: (e: DeployEvent) => void,
    line: StartLine,
  ) {
    this.#t = t;
    this.#wave = wave;
    this.#o = outcome;
    this.#opts = options;
    this.#emit = emit;
    this.#line = line;
  }

  #phase(phase: TargetPhase, message: string): void {
    this.#o.phase = phase;
    this.#emit({
      type: 'phase',
      at: this.#opts.clock.now(),
      target: this.#t.name,
      wave: this.#wave,
      phase,
      message,
      ...(this.#o.revision === undefined ? {} : { revision: this.#o.revision }),
    });
  }

  #checkAbort(): void {
    if (this.#opts.signal?.aborted) throw new Interrupted();
  }

  async run(): Promise<void> {
    try {
      if (!(await this.#reach())) return;
      // Released as soon as the apply is done: the rollout wait and gates hold no one back.
      const result = await this.#apply().finally(() => this.#line.reached());
      this.#o.revision = result.revision;
      if (result.previous !== undefined) this.#o.previous = result.previous;
      this.#o.changed = result.changes.filter((c) => c.action !== 'unchanged').length;
      await this.#verify();
      this.#o.state =
        result.previous === result.revision
          ? `at revision ${result.revision} (unchanged)`
          : `at revision ${result.revision}`;
      this.#phase('done', this.#o.state);
    } catch (error) {
      if (error instanceof Interrupted || this.#opts.signal?.aborted) {
        await this.#interrupted();
        return;
      }
      await this.#failed(error);
    } finally {
      // Skipped, or failed before its apply (a failed apply released it already).
      this.#line.reached();
    }
  }

  /** Ping with retries; false when the cluster stays unreachable and is skipped. */
  async #reach(): Promise<boolean> {
    const attempts = this.#opts.reach?.attempts ?? 4;
    let backoff = this.#opts.reach?.backoffMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      this.#checkAbort();
      this.#phase(
        'connecting',
        `reaching ${this.#t.cluster.where}${attempt > 1 ? ` (attempt ${attempt} of ${attempts})` : ''}`,
      );
      try {
        await this.#t.cluster.ping(this.#opts.signal);
        return true;
      } catch (error) {
        this.#checkAbort();
        const unreachable = isMcmlError(error) && !error.isInputError;
        if (!unreachable || attempt >= attempts) {
          if (unreachable && this.#opts.reach?.onUnreachable === 'skip') {
            this.#o.error = errorView(error);
            this.#o.state = `not reached after ${attempts} attempts: untouched`;
            this.#phase('skipped', `${this.#o.state} (${errorView(error).message})`);
            return false;
          }
          throw error;
        }
        // Waiting out a backoff, it holds no other target back.
        this.#line.reached();
        this.#emitProgress(`${errorView(error).message}; retrying in ${formatMs(backoff)}`);
        await this.#opts.clock.sleep(backoff, this.#opts.signal).catch(() => {
          throw new Interrupted();
        });
        backoff *= 2;
      }
    }
  }

  async #apply(): Promise<ApplyResult> {
    this.#checkAbort();
    const action = this.#opts.action ?? { kind: 'apply' };
    if (action.kind === 'rollback') {
      this.#phase(
        'applying',
        `rolling back to ${action.to === undefined ? 'the previous revision' : `revision ${action.to}`}`,
      );
      const result = await this.#t.cluster.rollback(this.#t.set, {
        ...(action.to === undefined ? {} : { to: action.to }),
        force: this.#opts.force === true,
      });
      this.#applied = true;
      return result;
    }
    this.#phase('applying', `applying ${this.#t.set.objects.length} objects`);
    try {
      const result = await this.#t.cluster.apply(this.#t.set, {
        force: this.#opts.force === true,
        prune: this.#opts.prune !== false,
        startLine: this.#line,
      });
      this.#applied = true;
      return result;
    } catch (error) {
      // A partial apply: some objects are new, and the error says from which revision.
      if (isMcmlError(error)) {
        const applied = error.details.applied as unknown[] | undefined;
        if (applied && applied.length > 0) this.#applied = true;
        if (typeof error.details.revision === 'number') this.#o.previous = error.details.revision;
      }
      throw error;
    }
  }

  /** Rollout, health gate, metric gate, bake, gates again. */
  async #verify(): Promise<void> {
    const status = await this.#waitRollout();
    if (status.phase === 'failed') throw new Failure(`rollout failed: ${status.message}`);
    await this.#gates(status);
    const bake = this.#opts.bakeMs ?? 0;
    if (bake > 0) {
      this.#phase('baking', `watching for ${formatMs(bake)} before the next wave`);
      await this.#sleep(bake);
      await this.#gates();
    }
  }

  async #waitRollout(): Promise<RolloutStatus> {
    this.#checkAbort();
    const timeout = this.#opts.rolloutTimeoutMs ?? 600_000;
    this.#phase('rolling-out', `waiting for the rollout (at most ${formatMs(timeout)})`);
    let last = '';
    const result = await this.#bounded(timeout, (signal) =>
      this.#t.cluster.waitForRollout(this.#t.set, {
        signal,
        onProgress: (s) => {
          if (s.message !== last) {
            last = s.message;
            this.#emitProgress(s.message);
          }
        },
      }),
    );
    if (result === 'timeout') {
      throw new Failure(
        `the rollout did not finish within ${formatMs(timeout)}${last ? ` (${last})` : ''}`,
        'TIMEOUT',
      );
    }
    return result;
  }

  /**
   * Health gate, then metric gate. `rolledOut` is the status the rollout wait ended with: the
   * health gate's first try reads the pods from it (it is milliseconds old); a retry, and the
   * gates after the bake, read the cluster again.
   */
  async #gates(rolledOut?: RolloutStatus): Promise<void> {
    this.#checkAbort();
    this.#phase('health-gate', 'checking ready pods and a real inference');
    const health = await this.#gateWithRetries((attempt) =>
      healthGate(
        this.#t.cluster,
        this.#t.set,
        this.#t.probe,
        attempt === 1 ? rolledOut : undefined,
      ),
    );
    if (!health.ok) throw new Failure(`health gate: ${health.message}`);
    const metric = this.#opts.metricGate;
    if (metric) {
      this.#checkAbort();
      this.#phase('metric-gate', 'querying Prometheus');
      const result = await this.#bounded(60_000, (signal) => metric(this.#t.name, signal));
      const gate: GateResult =
        result === 'timeout'
          ? { gate: 'metric', ok: false, message: 'Prometheus did not answer within 60 s' }
          : result;
      this.#recordGate(gate);
      if (!gate.ok) throw new Failure(`metric gate: ${gate.message}`);
    }
  }

  /** The health gate, tried three times a second apart: a pod may just have turned ready. */
  async #gateWithRetries(run: (attempt: number) => Promise<GateResult>): Promise<GateResult> {
    let result: GateResult | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      this.#checkAbort();
      try {
        result = await run(attempt);
      } catch (error) {
        if (isMcmlError(error) && error.isInputError) throw error;
        result = { gate: 'health', ok: false, message: errorView(error).message };
      }
      if (result.ok || attempt === 3) break;
      await this.#sleep(1000);
    }
    this.#recordGate(result!);
    return result!;
  }

  #recordGate(result: GateResult): void {
    this.#o.gates.push(result);
    this.#emit({ type: 'gate', at: this.#opts.clock.now(), target: this.#t.name, result });
  }

  #emitProgress(message: string): void {
    this.#emit({ type: 'progress', at: this.#opts.clock.now(), target: this.#t.name, message });
  }

  async #sleep(ms: number): Promise<void> {
    await this.#opts.clock.sleep(ms, this.#opts.signal).catch(() => {
      throw new Interrupted();
    });
  }

  /** Runs `work` until it settles, `ms` pass on the clock, or the deploy is aborted. */
  async #bounded<T>(
    ms: number,
    work: (signal: AbortSignal) => Promise<T>,
    followAbort = true,
  ): Promise<T | 'timeout'> {
    const inner = new AbortController();
    const outer = followAbort ? this.#opts.signal : undefined;
    const onAbort = () => inner.abort(new Interrupted());
    outer?.addEventListener('abort', onAbort, { once: true });
    const running = work(inner.signal);
    const timer = this.#opts.clock.sleep(ms, inner.signal).then(() => 'timeout' as const);
    running.catch(() => undefined);
    timer.catch(() => undefined);
    try {
      return await Promise.race([running, timer]);
    } catch (error) {
      if (outer?.aborted) throw new Interrupted();
      throw error;
    } finally {
      outer?.removeEventListener('abort', onAbort);
      inner.abort();
    }
  }

  async #failed(error: unknown): Promise<void> {
    const e = errorView(error);
    this.#o.error = e;
    const previous = this.#o.previous;
    if (!this.#applied) {
      this.#o.state = previous !== undefined ? `untouched at revision ${previous}` : 'untouched';
      this.#phase('failed', `${e.message} — ${this.#o.state}`);
      return;
    }
    const isApply = (this.#opts.action ?? { kind: 'apply' }).kind === 'apply';
    const at =
      this.#o.revision === undefined ? 'partly applied' : `at revision ${this.#o.revision}`;
    if (!isApply || this.#opts.rollbackOnFailure === false || previous === undefined) {
      this.#o.state = `${at}, which failed${isApply && previous === undefined ? ' (no earlier revision to roll back to)' : ''}`;
      this.#phase('failed', `${e.message} — ${this.#o.state}`);
      return;
    }
    this.#phase('failed', e.message);
    this.#phase('rolling-back', `rolling back to revision ${previous}`);
    try {
      const back = await this.#t.cluster.rollback(this.#t.set, { to: previous, force: true });
      this.#o.revision = back.revision;
      const status = await this.#bounded(this.#opts.rolloutTimeoutMs ?? 600_000, (signal) =>
        this.#t.cluster.waitForRollout(this.#t.set, { signal }),
      );
      const settled = status !== 'timeout' && status.phase === 'complete';
      this.#o.state = `rolled back to revision ${previous}'s objects (recorded as revision ${back.revision})${settled ? '' : '; that rollout has not finished'}`;
      this.#phase('rolled-back', this.#o.state);
    } catch (rollbackError) {
      this.#o.state = `${at} (failed); rolling back to ${previous} failed too: ${errorView(rollbackError).message}`;
      this.#phase('failed', this.#o.state);
    }
  }

  /** Says where the cluster stands after an interrupt, reading it once if it was touched. */
  async #interrupted(): Promise<void> {
    if (!this.#applied) {
      this.#o.state =
        this.#o.previous !== undefined ? `untouched at revision ${this.#o.previous}` : 'untouched';
      this.#phase('interrupted', this.#o.state);
      return;
    }
    let rollout = 'rollout state unknown';
    const status = await this.#bounded(
      5000,
      () => this.#t.cluster.rolloutStatus(this.#t.set),
      false,
    ).catch(() => 'timeout' as const);
    if (status !== 'timeout') rollout = `rollout ${status.phase}: ${status.message}`;
    this.#o.state = `at revision ${this.#o.revision ?? '?'} (applied; ${rollout})${
      this.#o.previous !== undefined
        ? `; "mcml deploy rollback ${this.#t.name}" returns it to revision ${this.#o.previous}`
        : ''
    }`;
    this.#phase('interrupted', this.#o.state);
  }
}

function errorView(error: unknown): ErrorView {
  if (error instanceof Failure)
    return {
      code: error.code,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
    };
  if (isMcmlError(error))
    return {
      code: error.code,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
      ...(error.issues.length > 0
        ? { issues: error.issues.map((i) => ({ path: i.path, message: i.message })) }
        : {}),
    };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 6000) / 10} min`;
}
