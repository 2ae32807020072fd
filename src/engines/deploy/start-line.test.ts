import { describe, expect, it } from 'vitest';
import type { Clock } from '../../ports/clock.js';
import { WaveStartLine } from './start-line.js';

/** A clock whose sleeps end only when the test says so. */
function manualClock() {
  const sleeps: { ms: number; end: () => void; aborted: () => boolean }[] = [];
  const clock: Clock = {
    now: () => 0,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        sleeps.push({ ms, end: resolve, aborted: () => signal?.aborted === true });
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  };
  return { clock, sleeps };
}

const settled = async (p: Promise<void>) => {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
};

describe('a wave start line', () => {
  it('clears when every target has reached it, counting a target once', async () => {
    const { clock, sleeps } = manualClock();
    const line = new WaveStartLine(3, clock);
    const [a, b, c] = [line.forTarget(), line.forTarget(), line.forTarget()];
    a.reached();
    a.reached();
    b.reached();
    expect(await settled(a.cleared())).toBe(false);
    c.reached();
    expect(await settled(a.cleared())).toBe(true);
    expect(await settled(c.cleared())).toBe(true);
    // The wait limit started with the first arrival and was called off: no timer outlives it.
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]!.aborted()).toBe(true);
  });

  it('clears after its wait limit when a target never reaches it', async () => {
    const { clock, sleeps } = manualClock();
    const line = new WaveStartLine(2, clock, 2000);
    const a = line.forTarget();
    line.forTarget(); // stuck: never reaches the line
    expect(await settled(a.cleared())).toBe(false);
    a.reached();
    expect(sleeps.map((s) => s.ms)).toEqual([2000]);
    expect(await settled(a.cleared())).toBe(false);
    sleeps[0]!.end();
    expect(await settled(a.cleared())).toBe(true);
  });

  it('is clear from the start for an empty wave', async () => {
    const { clock } = manualClock();
    expect(await settled(new WaveStartLine(0, clock).forTarget().cleared())).toBe(true);
  });
});
