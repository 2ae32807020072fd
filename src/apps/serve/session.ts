/**
 * An onnxruntime session behind a small interface, run either on the calling thread or on a
 * worker thread. onnxruntime-node runs inference synchronously on the thread that calls it,
 * so the worker keeps the event loop free to read and parse the next requests while a batch
 * runs: HTTP work and inference overlap instead of taking turns.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { McmlError, type ErrorCode } from '../../core/errors.js';
import { DATATYPES, datatypeForOrt, type Tensor, type TensorData } from './tensor.js';

/** Where inference runs, as `mcml serve --device` names it. */
export const DEVICES = ['cpu', 'cuda', 'auto'] as const;
export type Device = (typeof DEVICES)[number];

export interface SessionSettings {
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. */
  intraOpThreads: number;
  /**
   * cpu; cuda: the CUDA execution provider, or an error when it cannot load (a GPU bought and
   * the CPU used is a failure, not a log line); auto: cuda when it loads, else the CPU, with
   * the reason in `fallback`.
   */
  device: Device;
}

/** Input or output metadata as onnxruntime reports it, in a form that crosses threads. */
export interface ValueInfo {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: (number | string)[];
}

export interface Session {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Where inference runs. */
  thread: 'main' | 'worker';
  /** The execution provider in use ("cpu", "cuda"). */
  device: string;
  /** Why the requested device was not used, when it fell back to the CPU. */
  fallback?: string;
  run(inputs: Tensor[]): Promise<Tensor[]>;
  close(): Promise<void>;
}

function sessionOptions(
  settings: SessionSettings,
  provider: 'cpu' | 'cuda',
): ort.InferenceSession.SessionOptions {
  return {
    // onnxruntime runs what the CUDA provider cannot on its CPU provider, implicitly.
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    ...(settings.intraOpThreads > 0 ? { intraOpNumThreads: settings.intraOpThreads } : {}),
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
}

function valueInfo(m: ort.InferenceSession.ValueMetadata): ValueInfo {
  return m.isTensor
    ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] }
    : { name: m.name, isTensor: false };
}

/** The first line of an onnxruntime error, without terminal colours. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
  return plain.split('\n')[0]!;
}

/** The error `--device cuda` fails with when the CUDA execution provider cannot load. */
export function cudaUnavailable(reason: string): McmlError {
  return new McmlError(
    'UNAVAILABLE',
    `--device cuda: the CUDA execution provider cannot load (${reason})`,
    {
      hint:
        'run on a node with an NVIDIA GPU and driver, in the mcml image (CUDA 12, cuDNN 9 and ' +
        "onnxruntime's CUDA provider: see Dockerfile), or pass --device auto to fall back to the CPU",
    },
  );
}

/**
 * Opens the onnxruntime session on the requested device. With cuda, a failure is told apart
 * from a bad model by opening the model on the CPU: if that works, the device is the problem.
 *
 * onnxruntime reads the model from its path: weights kept in external data files (how models
 * over protobuf's 2 GiB limit are saved) are found beside it, and no copy of the file is held
 * in JavaScript while the session is built.
 */
async function openOnDevice(
  path: string,
  settings: SessionSettings,
): Promise<{ session: ort.InferenceSession; device: 'cpu' | 'cuda'; fallback?: string }> {
  if (settings.device === 'cpu') {
    return {
      session: await ort.InferenceSession.create(path, sessionOptions(settings, 'cpu')),
      device: 'cpu',
    };
  }
  try {
    return {
      session: await ort.InferenceSession.create(path, sessionOptions(settings, 'cuda')),
      device: 'cuda',
    };
  } catch (error) {
    const reason = firstLine(error);
    const session = await ort.InferenceSession.create(path, sessionOptions(settings, 'cpu'));
    if (settings.device === 'cuda') {
      await session.release();
      throw cudaUnavailable(reason);
    }
    return { session, device: 'cpu', fallback: reason };
  }
}

/** A session on the calling thread, for the model file at `path`. */
export async function createLocalSession(
  path: string,
  settings: SessionSettings,
): Promise<Session> {
  const { session, device, fallback } = await openOnDevice(path, settings);
  const outputs = session.outputMetadata.map(valueInfo);
  return {
    inputs: session.inputMetadata.map(valueInfo),
    outputs,
    thread: 'main',
    device,
    ...(fallback === undefined ? {} : { fallback }),
    async run(tensors) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const t of tensors) {
        feeds[t.name] = new ort.Tensor(
          DATATYPES[t.datatype] as 'float32',
          t.data as Float32Array,
          t.shape,
        );
      }
      const result = await session.run(feeds);
      return outputs.map((info) => {
        const value = result[info.name];
        const datatype = value ? datatypeForOrt(value.type) : undefined;
        if (!value || !datatype) {
          throw new Error(`the model produced no tensor output "${info.name}"`);
        }
        return {
          name: info.name,
          datatype,
          shape: value.dims.slice(),
          data: value.data as TensorData,
        };
      });
    },
    close: () => session.release(),
  };
}

/** Messages between the main thread and the session worker. */
export type ToWorker =
  | { type: 'init'; path: string; settings: SessionSettings }
  | { type: 'run'; id: number; inputs: Tensor[] }
  | { type: 'close' };
export type FromWorker =
  | {
      type: 'ready';
      inputs: ValueInfo[];
      outputs: ValueInfo[];
      device: string;
      fallback?: string;
    }
  | { type: 'init-error'; message: string; code?: ErrorCode; hint?: string }
  | { type: 'result'; id: number; outputs: Tensor[] }
  | { type: 'run-error'; id: number; message: string }
  | { type: 'closed' };

const WORKER_URL = new URL('./session-worker.js', import.meta.url);

/** Whether the compiled worker entry exists (it does in dist/, not when running sources). */
export function workerAvailable(): boolean {
  return existsSync(WORKER_URL);
}

/** A session on its own worker thread, for the model file at `path`. */
export async function createWorkerSession(
  path: string,
  settings: SessionSettings,
): Promise<Session> {
  const link: WorkerLink = {
    worker: new Worker(WORKER_URL),
    pending: new Map(),
    nextId: 1,
    exited: undefined,
    onClosed: undefined,
  };
  const info = await initWorker(link, path, settings);
  return workerSession(link, info);
}

type WorkerInfo = Pick<Session, 'inputs' | 'outputs' | 'device' | 'fallback'>;

/** The main thread's side of one session worker. */
interface WorkerLink {
  worker: Worker;
  /** Runs awaiting their result, by id. */
  pending: Map<number, { resolve: (t: Tensor[]) => void; reject: (e: Error) => void }>;
  nextId: number;
  /** Why the worker is gone, once it is: every later run fails with it. */
  exited: Error | undefined;
  onClosed: (() => void) | undefined;
}

/** Sends the model to the worker and waits until it is ready; a worker that fails is ended. */
async function initWorker(
  link: WorkerLink,
  path: string,
  settings: SessionSettings,
): Promise<WorkerInfo> {
  const ready = new Promise<WorkerInfo>((resolve, reject) => {
    listen(link, resolve, reject);
    link.worker.postMessage({ type: 'init', path, settings } satisfies ToWorker);
  });
  try {
    return await ready;
  } catch (error) {
    await link.worker.terminate();
    throw error;
  }
}

/**
 * Routes the worker's messages: readiness (or its failure) to `ready`/`failed`, results to the
 * pending runs; an error or exit fails the start, every pending run and every later one.
 */
function listen(
  link: WorkerLink,
  ready: (info: WorkerInfo) => void,
  failed: (error: Error) => void,
): void {
  const { worker, pending } = link;
  worker.on('message', (m: FromWorker) => {
    switch (m.type) {
      case 'ready':
        ready({
          inputs: m.inputs,
          outputs: m.outputs,
          device: m.device,
          ...(m.fallback === undefined ? {} : { fallback: m.fallback }),
        });
        break;
      case 'init-error':
        failed(
          m.code === undefined
            ? new Error(m.message)
            : new McmlError(m.code, m.message, m.hint === undefined ? {} : { hint: m.hint }),
        );
        break;
      case 'result':
        pending.get(m.id)?.resolve(m.outputs);
        pending.delete(m.id);
        break;
      case 'run-error':
        pending.get(m.id)?.reject(new Error(m.message));
        pending.delete(m.id);
        break;
      case 'closed':
        link.onClosed?.();
        break;
    }
  });
  worker.on('error', (error) => {
    link.exited = error;
    failed(error);
  });
  worker.on('exit', (code) => {
    link.exited ??= new Error(`the inference worker exited with code ${code}`);
    failed(link.exited);
    for (const p of pending.values()) p.reject(link.exited);
    pending.clear();
    link.onClosed?.();
  });
}

/** The Session over a ready worker: runs go by message, close waits for the worker to end. */
function workerSession(link: WorkerLink, info: WorkerInfo): Session {
  const { worker, pending } = link;
  return {
    ...info,
    thread: 'worker',
    run(inputs) {
      if (link.exited) return Promise.reject(link.exited);
      const id = link.nextId++;
      // Transfer the input buffers: no copy; the caller does not touch them again.
      const transfer = [...new Set(inputs.map((t) => t.data.buffer as ArrayBuffer))];
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'run', id, inputs } satisfies ToWorker, transfer);
      });
    },
    async close() {
      if (link.exited) return;
      const closed = new Promise<void>((resolve) => (link.onClosed = resolve));
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      await closed;
      await worker.terminate();
    },
  };
}
