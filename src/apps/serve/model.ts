/**
 * One loaded ONNX model: an onnxruntime session (on a worker thread when available), its
 * signature in V2 terms, and warm-up inputs.
 */
import { access, constants } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { McmlError, isMcmlError } from '../../core/errors.js';
import {
  createLocalSession,
  createWorkerSession,
  workerAvailable,
  type Session,
  type SessionSettings,
  type ValueInfo,
} from './session.js';
import {
  allocateTensorData,
  datatypeForOrt,
  elementCount,
  type Tensor,
  type TensorSpec,
} from './tensor.js';

export interface ModelOptions extends SessionSettings {
  /** Run inference on a worker thread (default true when the compiled worker exists). */
  worker?: boolean;
}

/** A model ready to run. */
export interface LoadedModel {
  name: string;
  /** Where it came from (URI as given, without credentials). */
  source: string;
  /** The local file onnxruntime loaded. */
  path: string;
  sha256: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** True when every input and output has a dynamic first dimension: requests can be batched. */
  batchable: boolean;
  thread: 'main' | 'worker';
  /** The execution provider in use ("cpu", "cuda"). */
  device: string;
  /** --device auto only: why CUDA was not used, when inference fell back to the CPU. */
  fallback?: string;
  run(inputs: Tensor[]): Promise<Tensor[]>;
  close(): Promise<void>;
}

function toSpec(model: string, info: ValueInfo, kind: 'input' | 'output'): TensorSpec {
  const datatype = info.isTensor && info.type ? datatypeForOrt(info.type) : undefined;
  if (!datatype) {
    throw new McmlError(
      'UNSUPPORTED',
      `model "${model}": ${kind} "${info.name}" is ${info.isTensor ? `a ${info.type} tensor` : 'not a tensor'}, which mcml serve does not support`,
    );
  }
  const shape = (info.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  return { name: info.name, datatype, shape };
}

/** A missing model file is NOT_FOUND; one that cannot be read says so. */
async function checkReadable(name: string, path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new McmlError('NOT_FOUND', `model "${name}": no such file ${path}`, {
        hint: 'check --model / MODEL_PATH; run "npm run models" to build the sample models',
      });
    }
    throw new McmlError('INVALID_ARGUMENT', `model "${name}": cannot read ${path}`, {
      cause: error,
    });
  }
}

/**
 * What onnxruntime's failure to open a model means: an external data file (the weights of a
 * model saved with external data) missing from beside the model, or a file that is not a
 * valid ONNX model.
 */
function sessionError(name: string, path: string, error: unknown): McmlError {
  const message = (error as Error).message;
  const reason = message.split('\n')[0];
  const external = /External data path does not exist: "?([^"\s]+)"?/.exec(message);
  if (external) {
    const file = resolve(dirname(path), external[1]!);
    return new McmlError(
      'NOT_FOUND',
      `model "${name}": ${path} keeps weights in ${file}, which does not exist`,
      {
        hint: 'keep the external data files beside the .onnx file, where the model was saved with them',
        cause: error,
      },
    );
  }
  return new McmlError(
    'INVALID_ARGUMENT',
    `model "${name}": ${path} is not a valid ONNX model (${reason})`,
    { cause: error },
  );
}

/**
 * Opens an ONNX file with onnxruntime. A missing file is NOT_FOUND; a file that is not a
 * valid model is INVALID_ARGUMENT naming the file.
 */
export async function openModel(
  name: string,
  source: string,
  path: string,
  sha256: string,
  options: ModelOptions,
): Promise<LoadedModel> {
  await checkReadable(name, path);
  const useWorker = options.worker ?? workerAvailable();
  let session: Session;
  try {
    session = useWorker
      ? await createWorkerSession(path, options)
      : await createLocalSession(path, options);
  } catch (error) {
    // The model loaded but the device did not (--device cuda): say that, not "invalid model".
    if (isMcmlError(error)) throw error;
    throw sessionError(name, path, error);
  }
  try {
    const inputs = session.inputs.map((m) => toSpec(name, m, 'input'));
    const outputs = session.outputs.map((m) => toSpec(name, m, 'output'));
    const batchable =
      inputs.length > 0 &&
      [...inputs, ...outputs].every((s) => s.shape.length > 0 && s.shape[0] === -1);
    return {
      name,
      source,
      path,
      sha256,
      inputs,
      outputs,
      batchable,
      thread: session.thread,
      device: session.device,
      ...(session.fallback === undefined ? {} : { fallback: session.fallback }),
      run: (tensors) => session.run(tensors),
      close: () => session.close(),
    };
  } catch (error) {
    await session.close();
    throw error;
  }
}

/**
 * Zero-filled inputs of batch size 1 (dynamic dimensions set to 1), for the warm-up
 * inference that must succeed before the server reports ready.
 */
export function warmupInputs(model: Pick<LoadedModel, 'inputs'>): Tensor[] {
  return model.inputs.map((spec) => {
    const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
    return {
      name: spec.name,
      datatype: spec.datatype,
      shape,
      data: allocateTensorData(spec.datatype, elementCount(shape)),
    };
  });
}
