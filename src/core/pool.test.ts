import { describe, expect, it } from 'vitest';
import { pool, Window } from './pool.js';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));

describe('pool', () => {
  it('runs every item, at most size at a time', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await pool([1, 2, 3, 4, 5], 2, async (n) => {
      most = Math.max(most, ++running);
      await later(5, n);
      running--;
      done.push(n);
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });
});

describe('Window', () => {
  it('holds at most size jobs: add waits for one to end', async () => {
    const w = new Window(2);
    const ended: number[] = [];
    const job = (n: number, ms: number) => later(ms, n).then((v) => void ended.push(v));
    await w.add(job(1, 30));
    await w.add(job(2, 5)); // the window is full: returns when job 2 ends
    expect(ended).toEqual([2]);
    await w.drain();
    expect(ended).toEqual([2, 1]);
  });

  it('throws the first failure from the next add, check or drain, and settles the rest', async () => {
    const w = new Window(4);
    let slowEnded = false;
    await w.add(later(20, 0).then(() => (slowEnded = true)));
    await w.add(Promise.reject(new Error('part 2 failed')));
    await expect(w.add(Promise.reject(new Error('part 3 failed')))).rejects.toThrow(
      'part 2 failed',
    );
    expect(() => w.check()).toThrow('part 2 failed');
    await w.settle();
    expect(slowEnded).toBe(true);
    await expect(w.drain()).rejects.toThrow('part 2 failed');
  });

  it('turns a failure that is not an Error into one', async () => {
    const w = new Window(1);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what is tested
    await expect(w.add(Promise.reject('refused'))).rejects.toThrow('refused');
  });
});
