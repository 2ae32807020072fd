import type { Clock } from '../../ports/clock.js';

/** Node's timers overflow above 2³¹−1 ms (and then fire at once): longer waits are capped. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration made safe for setTimeout and for undici's timeouts. */
export function clampTimerMs(ms: number): number {
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_TIMER_MS) : MAX_TIMER_MS;
}

/** The wall clock, for production use of loops that take a `Clock`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, clampTimerMs(ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
