/** What every start-up phase of `mcml up` shares: the run's inputs, clock and records. */
import { systemClock } from '../../adapters/local/system-clock.js';
import type { Placement, Plan } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { EventView, SyncView } from '../dashboard/state.js';
import { RolloutRecord } from './rollout-view.js';
import { Timeline } from './timeline.js';
import type { UpOptions } from './up.js';

export interface UpContext {
  options: UpOptions;
  spec: Spec;
  plan: Plan;
  clock: Clock;
  startedAt: number;
  /** Every placement, primary tier first. */
  placements: Placement[];
  /** The placements this machine runs. */
  locals: Placement[];
  timeline: Timeline;
  addEvent: (event: EventView) => void;
  progress: (message: string) => void;
  sync: SyncView[];
  rollout: RolloutRecord;
  /** What to stop, in reverse, when start-up fails or the run ends. */
  cleanups: Cleanups;
}

export function upContext(options: UpOptions): UpContext {
  const clock = options.clock ?? systemClock;
  const placements = [...options.plan.placements].sort((a, b) => a.tier - b.tier);
  const timeline = new Timeline(options.onEvent);
  return {
    options,
    spec: options.spec,
    plan: options.plan,
    clock,
    startedAt: clock.now(),
    placements,
    locals: placements.filter((p) => p.provider === 'local'),
    timeline,
    addEvent: (e) => timeline.add(e),
    progress: options.onProgress ?? (() => undefined),
    sync: [],
    rollout: new RolloutRecord(),
    cleanups: new Cleanups(),
  };
}

/** What to undo, last started first; running it twice does it once. */
export class Cleanups {
  readonly #steps: (() => Promise<void>)[] = [];
  #running: Promise<void> | undefined;

  push(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) await step().catch(() => undefined);
    })();
    return this.#running;
  }
}
