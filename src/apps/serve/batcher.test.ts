import { describe, expect, it } from 'vitest';
import { McmlError } from '../../core/errors.js';
import { Batcher, concat } from './batcher.js';
import type { Tensor } from './tensor.js';

function row(values: number[], name = 'x'): Tensor[] {
  return [{ name, datatype: 'FP32', shape: [1, values.length], data: Float32Array.from(values) }];
}

/** A model that doubles its input and records the batch sizes it saw. */
function doubling(release?: Promise<void>) {
  const batches: number[] = [];
  const run = async (inputs: Tensor[]): Promise<Tensor[]> => {
    const x = inputs[0]!;
    batches.push(x.shape[0]!);
    if (release) await release;
    return [
      {
        name: 'y',
        datatype: 'FP32',
        shape: x.shape,
        data: Float32Array.from(x.data as Float32Array, (v) => v * 2),
      },
    ];
  };
  return { run, batches };
}

describe('Batcher', () => {
  it('runs requests that arrive within the delay as one batch and gives each its own rows', async () => {
    const model = doubling();
    const batcher = new Batcher(model.run, { maxBatch: 8, maxDelayMs: 50, maxQueue: 100 });
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => batcher.submit(row([i, -i]))));
    expect(model.batches).toEqual([5]);
    results.forEach((outputs, i) => {
      expect(outputs[0]!.shape).toEqual([1, 2]);
      expect(Array.from(outputs[0]!.data as Float32Array)).toEqual([2 * (i + 1), -2 * (i + 1)]);
    });
  });

  it('never exceeds maxBatch rows, and a full batch runs without waiting', async () => {
    const model = doubling();
    // A delay longer than the test timeout: only "batch full" can start these runs.
    const batcher = new Batcher(model.run, { maxBatch: 4, maxDelayMs: 60_000, maxQueue: 100 });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => batcher.submit(row([i]))),
    );
    expect(model.batches).toEqual([4, 4]);
    expect(results.map((r) => r[0]!.data[0])).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
  });

  it('keeps multi-row requests whole and splits outputs by rows', async () => {
    const model = doubling();
    const batcher = new Batcher(model.run, { maxBatch: 16, maxDelayMs: 20, maxQueue: 10 });
    const two: Tensor[] = [
      { name: 'x', datatype: 'FP32', shape: [2, 1], data: Float32Array.from([10, 20]) },
    ];
    const [a, b] = await Promise.all([batcher.submit(two), batcher.submit(row([7]))]);
    expect(model.batches).toEqual([3]);
    expect(a[0]!.shape).toEqual([2, 1]);
    expect(Array.from(a[0]!.data as Float32Array)).toEqual([20, 40]);
    expect(Array.from(b[0]!.data as Float32Array)).toEqual([14]);
  });

  it('runs one request per call when batching is off (maxBatch 1)', async () => {
    const model = doubling();
    const batcher = new Batcher(model.run, { maxBatch: 1, maxDelayMs: 50, maxQueue: 100 });
    await Promise.all([1, 2, 3].map((i) => batcher.submit(row([i]))));
    expect(model.batches).toEqual([1, 1, 1]);
  });

  it('does not mix requests whose non-batch dimensions differ', async () => {
    const model = doubling();
    const batcher = new Batcher(model.run, { maxBatch: 8, maxDelayMs: 20, maxQueue: 100 });
    const out = await Promise.all([
      batcher.submit(row([1, 1])),
      batcher.submit(row([2, 2, 2])),
      batcher.submit(row([3, 3])),
    ]);
    expect(model.batches.sort()).toEqual([1, 2]);
    expect(Array.from(out[1][0]!.data as Float32Array)).toEqual([4, 4, 4]);
    expect(Array.from(out[2][0]!.data as Float32Array)).toEqual([6, 6]);
  });

  it('refuses requests with UNAVAILABLE when the queue is full', async () => {
    let release!: () => void;
    const model = doubling(new Promise<void>((r) => (release = r)));
    const batcher = new Batcher(model.run, { maxBatch: 1, maxDelayMs: 0, maxQueue: 2 });
    const running = batcher.submit(row([1])); // taken off the queue, blocked in run
    const queued = [batcher.submit(row([2])), batcher.submit(row([3]))];
    await expect(batcher.submit(row([4]))).rejects.toSatisfy(
      (e: unknown) => e instanceof McmlError && e.code === 'UNAVAILABLE',
    );
    release();
    const done = await Promise.all([running, ...queued]);
    expect(done.map((r) => r[0]!.data[0])).toEqual([2, 4, 6]);
    await batcher.idle();
    expect(batcher.depth).toBe(0);
  });

  it('rejects every request of a failed batch and keeps serving', async () => {
    let fail = true;
    const batcher = new Batcher(
      (inputs) => (fail ? Promise.reject(new Error('boom')) : Promise.resolve(inputs)),
      { maxBatch: 8, maxDelayMs: 10, maxQueue: 10 },
    );
    const results = await Promise.allSettled([batcher.submit(row([1])), batcher.submit(row([2]))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const ok = await batcher.submit(row([5]));
    expect(ok[0]!.data[0]).toBe(5);
  });

  it('hands up to maxInFlight batches to the runner at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: number[] = [];
    const batcher = new Batcher(
      async (inputs) => {
        started.push(inputs[0]!.shape[0]!);
        await gate;
        return inputs;
      },
      { maxBatch: 2, maxDelayMs: 60_000, maxQueue: 10, maxInFlight: 2 },
    );
    const all = Promise.all([1, 2, 3, 4, 5, 6].map((i) => batcher.submit(row([i]))));
    // Two full batches are running (blocked); the third waits for a free slot.
    expect(started).toEqual([2, 2]);
    expect(batcher.depth).toBe(2);
    release();
    const out = await all;
    expect(started).toEqual([2, 2, 2]);
    expect(out.map((r) => r[0]!.data[0])).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('runs at once when no other request is arriving', async () => {
    const model = doubling();
    const batcher = new Batcher(model.run, {
      maxBatch: 8,
      maxDelayMs: 60_000,
      maxQueue: 10,
      pendingArrivals: () => 0,
    });
    const out = await batcher.submit(row([4]));
    expect(out[0]!.data[0]).toBe(8);
  });
});

describe('concat', () => {
  it('joins tensors along the first dimension', () => {
    const t = concat([row([1, 2]), row([3, 4])]);
    expect(t[0]!.shape).toEqual([2, 2]);
    expect(Array.from(t[0]!.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });
});
