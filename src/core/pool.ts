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
