/**
 * One loaded ONNX model: an onnxruntime session, its signature in V2 terms, warm-up, and a
 * run function that takes and returns plain tensors.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { McmlError } from '../../core/errors.js';
import {
  allocateTensorData,
  DATATYPES,
  datatypeForOrt,
  elementCount,
  type Tensor,
  type TensorData,
  type TensorSpec,
} from './tensor.js';

export interface SessionOptions {
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. */
  intraOpThreads: number;
  /** Execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  executionProviders: string[];
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
  run(inputs: Tensor[]): Promise<Tensor[]>;
  close(): Promise<void>;
}

function toSpec(
  model: string,
  meta: ort.InferenceSession.ValueMetadata,
  kind: 'input' | 'output',
): TensorSpec {
  if (!meta.isTensor) {
    throw new McmlError('UNSUPPORTED', `model "${model}": ${kind} "${meta.name}" is not a tensor`);
  }
  const datatype = datatypeForOrt(meta.type);
  if (!datatype) {
    throw new McmlError(
      'UNSUPPORTED',
      `model "${model}": ${kind} "${meta.name}" has type ${meta.type}, which mcml serve does not support`,
    );
  }
  const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  return { name: meta.name, datatype, shape };
}

/**
 * Opens an ONNX file with onnxruntime. A file that is not a valid model is an input error
 * (INVALID_ARGUMENT) naming the file.
 */
export async function openModel(
  name: string,
  source: string,
  path: string,
  sha256: string,
  options: SessionOptions,
): Promise<LoadedModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
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
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: options.executionProviders,
    graphOptimizationLevel: 'all',
    // Per-call threads pay off only with a few; the event loop shares the machine with them.
    ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (error) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `model "${name}": ${path} is not a valid ONNX model (${(error as Error).message.split('\n')[0]})`,
      { cause: error },
    );
  }
  const inputs = session.inputMetadata.map((m) => toSpec(name, m, 'input'));
  const outputs = session.outputMetadata.map((m) => toSpec(name, m, 'output'));
  const batchable =
    inputs.length > 0 &&
    [...inputs, ...outputs].every((s) => s.shape.length > 0 && s.shape[0] === -1);

  const run = async (tensors: Tensor[]): Promise<Tensor[]> => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of tensors) {
      feeds[t.name] = new ort.Tensor(
        DATATYPES[t.datatype] as 'float32',
        t.data as Float32Array,
        t.shape,
      );
    }
    const result = await session.run(feeds);
    return outputs.map((spec) => {
      const value = result[spec.name];
      if (!value) {
        throw new McmlError('INTERNAL', `model "${name}" did not produce output "${spec.name}"`);
      }
      return {
        name: spec.name,
        datatype: spec.datatype,
        shape: value.dims.slice(),
        data: value.data as TensorData,
      };
    });
  };

  return {
    name,
    source,
    path,
    sha256,
    inputs,
    outputs,
    batchable,
    run,
    close: () => session.release(),
  };
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
