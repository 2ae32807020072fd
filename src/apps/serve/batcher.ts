/**
 * Dynamic batching, as Triton does it: requests that arrive within `maxDelayMs` of the oldest
 * waiting one are concatenated along the first dimension, run in one session call of at most
 * `maxBatch` rows, and the outputs are split back per request. The queue is bounded: when
 * `maxQueue` requests wait, new ones are refused with UNAVAILABLE (HTTP 503).
 */
import { McmlError } from '../../core/errors.js';
import { allocateTensorData, type Tensor } from './tensor.js';

export interface BatcherOptions {
  /** Most rows per session call; 1 disables batching. */
  maxBatch: number;
  /** Longest a request waits for others before its batch runs. */
  maxDelayMs: number;
  /** Most requests waiting; more are refused. */
  maxQueue: number;
  /**
   * Requests for this model still being received. When none are, waiting cannot fill the
   * batch, so it runs at once: a lone caller does not pay the delay.
   */
  pendingArrivals?: () => number;
  /**
   * Batches handed to the runner at once (default 1). More keeps a runner with its own
   * thread busy while the event loop answers the previous batch, at the price of smaller
   * batches.
   */
  maxInFlight?: number;
}

export interface BatchObserver {
  /** After each session call: rows in the batch, requests in it, seconds the call took. */
  batch?(rows: number, requests: number, seconds: number): void;
  /** Whenever the number of waiting requests changes. */
  queueDepth?(depth: number): void;
}

/** Runs a batch; inputs have a first dimension equal to the total rows. */
export type RunBatch = (inputs: Tensor[]) => Promise<Tensor[]>;

interface Pending {
  inputs: Tensor[];
  rows: number;
  key: string;
  arrived: number;
  resolve: (outputs: Tensor[]) => void;
  reject: (error: unknown) => void;
}

/** Requests can share a batch only when all their non-batch dimensions agree. */
function batchKey(inputs: Tensor[]): string {
  return inputs
    .map((t) => `${t.name}:${t.datatype}:${t.shape.slice(1).join('x')}`)
    .sort()
    .join('|');
}

export class Batcher {
  private readonly queue: Pending[] = [];
  private queuedRows = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runBatch: RunBatch,
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver = {},
    /** False for models without a dynamic first dimension: every request runs alone. */
    private readonly batchable = true,
  ) {}

  /** Requests waiting to run. */
  get depth(): number {
    return this.queue.length;
  }

  /** Queues one request; resolves with its own outputs. */
  submit(inputs: Tensor[]): Promise<Tensor[]> {
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new McmlError(
          'UNAVAILABLE',
          `the inference queue is full (${this.options.maxQueue} requests waiting); retry shortly`,
        ),
      );
    }
    const rows = inputs[0]?.shape[0] ?? 1;
    return new Promise<Tensor[]>((resolve, reject) => {
      this.queue.push({
        inputs,
        rows,
        key: batchKey(inputs),
        arrived: performance.now(),
        resolve,
        reject,
      });
      this.queuedRows += rows;
      this.observer.queueDepth?.(this.queue.length);
      this.schedule();
    });
  }

  /** Re-checks whether the waiting batch should run, e.g. when no more requests are arriving. */
  wake(): void {
    this.schedule();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private get saturated(): boolean {
    return this.inFlight >= (this.options.maxInFlight ?? 1);
  }

  private schedule(): void {
    if (this.saturated || this.queue.length === 0) return;
    const full = !this.batchable || this.queuedRows >= this.options.maxBatch;
    // The delay counts from the oldest request's arrival, as in Triton.
    const wait = this.options.maxDelayMs - (performance.now() - this.queue[0]!.arrived);
    // Nothing running and nothing else arriving: waiting cannot fill the batch.
    const alone = this.inFlight === 0 && this.options.pendingArrivals?.() === 0;
    if (full || wait <= 0 || alone) {
      this.clearTimer();
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Takes the oldest request and every later compatible one that fits. */
  private take(): Pending[] {
    const first = this.queue[0]!;
    const batch = [first];
    let rows = first.rows;
    if (this.batchable) {
      for (let i = 1; i < this.queue.length && rows < this.options.maxBatch; i++) {
        const p = this.queue[i]!;
        if (p.key !== first.key || rows + p.rows > this.options.maxBatch) continue;
        batch.push(p);
        rows += p.rows;
      }
    }
    const taken = new Set(batch);
    const rest = this.queue.filter((p) => !taken.has(p));
    this.queue.length = 0;
    this.queue.push(...rest);
    this.queuedRows -= rows;
    this.observer.queueDepth?.(this.queue.length);
    return batch;
  }

  private async flush(): Promise<void> {
    if (this.saturated || this.queue.length === 0) return;
    this.inFlight++;
    const batch = this.take();
    // Whatever did not fit waits for the next batch (and its timer).
    this.schedule();
    try {
      const started = performance.now();
      const inputs = batch.length === 1 ? batch[0]!.inputs : concat(batch.map((p) => p.inputs));
      const outputs = await this.runBatch(inputs);
      this.observer.batch?.(
        inputs[0]?.shape[0] ?? batch.length,
        batch.length,
        (performance.now() - started) / 1000,
      );
      if (batch.length === 1) batch[0]!.resolve(outputs);
      else split(outputs, batch);
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.inFlight--;
    }
    if (this.queue.length > 0) {
      // Requests that came in during the call are still unread sockets: yield to I/O once so
      // they can join, unless a full batch is already waiting.
      if (this.queuedRows >= this.options.maxBatch || !this.batchable) void this.flush();
      else setImmediate(() => this.schedule());
    } else if (this.inFlight === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}

/** Concatenates each input along dimension 0 (requests share a batch key, so shapes agree). */
export function concat(requests: Tensor[][]): Tensor[] {
  const first = requests[0]!;
  return first.map((template) => {
    const parts = requests.map((inputs) => inputs.find((t) => t.name === template.name)!);
    const total = parts.reduce((n, t) => n + t.data.length, 0);
    const data = allocateTensorData(template.datatype, total);
    let offset = 0;
    for (const t of parts) {
      (data as Float32Array).set(t.data as Float32Array, offset);
      offset += t.data.length;
    }
    const rows = parts.reduce((n, t) => n + (t.shape[0] ?? 1), 0);
    return {
      name: template.name,
      datatype: template.datatype,
      shape: [rows, ...template.shape.slice(1)],
      data,
    };
  });
}

/** Splits each output along dimension 0 back to the requests, in order. */
function split(outputs: Tensor[], batch: Pending[]): void {
  const total = batch.reduce((n, p) => n + p.rows, 0);
  for (const out of outputs) {
    if (out.shape[0] !== total) {
      const error = new McmlError(
        'INTERNAL',
        `output "${out.name}" has first dimension ${out.shape[0]} for a batch of ${total}; the model cannot be batched (run with --max-batch 1)`,
      );
      for (const p of batch) p.reject(error);
      return;
    }
  }
  const perRequest: Tensor[][] = batch.map(() => []);
  for (const out of outputs) {
    const rowSize = total === 0 ? 0 : out.data.length / total;
    let row = 0;
    batch.forEach((p, i) => {
      const data = out.data.subarray(row * rowSize, (row + p.rows) * rowSize);
      perRequest[i]!.push({
        name: out.name,
        datatype: out.datatype,
        shape: [p.rows, ...out.shape.slice(1)],
        data,
      });
      row += p.rows;
    });
  }
  batch.forEach((p, i) => p.resolve(perRequest[i]!));
}
