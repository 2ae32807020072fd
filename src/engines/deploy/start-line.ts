/**
 * A wave's start line (the Cluster port's ApplyOptions.startLine): every target applies what
 * starts its rollouts, then waits for the line to clear before it sends the rest, so with many
 * clusters on one event loop every rollout starts before any cluster's Services and budgets go
 * out. The line clears when every target has reached it, or `limitMs` after the first did: one
 * slow or stuck cluster holds the others' rest back for a bounded time only.
 */
import type { Clock } from '../../ports/clock.js';
import type { StartLine } from '../../ports/cluster.js';

export class WaveStartLine {
  #waiting: number;
  #open: () => void = () => undefined;
  readonly #cleared: Promise<void>;
  readonly #limit = new AbortController();
  #timing = false;

  constructor(
    targets: number,
    private readonly clock: Clock,
    private readonly limitMs = 2000,
  ) {
    this.#waiting = targets;
    this.#cleared = new Promise<void>((resolve) => {
      this.#open = () => {
        this.#limit.abort();
        resolve();
      };
    });
    if (targets <= 0) this.#open();
  }

  /** One target's place on the line: reaching it more than once counts once. */
  forTarget(): StartLine {
    let reached = false;
    return {
      reached: () => {
        if (reached) return;
        reached = true;
        this.#arrive();
      },
      cleared: () => this.#cleared,
    };
  }

  #arrive(): void {
    this.#waiting -= 1;
    if (this.#waiting <= 0) return this.#open();
    if (this.#timing) return;
    this.#timing = true;
    this.clock.sleep(this.limitMs, this.#limit.signal).then(
      () => this.#open(),
      () => undefined,
    );
  }
}
