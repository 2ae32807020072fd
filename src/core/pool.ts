/** Bounded concurrency: async jobs over a list, at most `size` at a time. */

/**
 * Runs `job` on every item, `size` at a time, each worker taking the next item when its job
 * ends. Rejects with the first failure (the other workers finish the job they are in); stops
 * taking items once `signal` is aborted.
 */
export async function pool<T>(
  items: readonly T[],
  size: number,
  job: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const i = next++;
      await job(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
}

/**
 * Jobs started one by one as their inputs arrive (the parts of a stream), at most `size`
 * running: `add` waits while the window is full. The first failure is thrown by the next `add`,
 * `check` or `drain`; the jobs still running are left to finish (`settle` waits for them,
 * before cleaning up after a failure).
 */
export class Window {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly size: number) {}

  /** Starts tracking `job`; returns once fewer than `size` jobs run. */
  async add(job: Promise<unknown>): Promise<void> {
    const p = job.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    if (this.running.size >= this.size) await Promise.race(this.running);
    this.check();
  }

  /** Throws the first failure, if a job has failed. */
  check(): void {
    if (!this.failure) return;
    const { error } = this.failure;
    throw error instanceof Error ? error : new Error(String(error));
  }

  /** Waits for every job; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.check();
  }

  /** Waits for every job, failed or not. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.running);
  }
}
