/**
 * Tensors of the Open Inference Protocol (KServe v2 / Triton REST): datatype names, JSON
 * tensor decoding with shape and datatype checks against the model's signature, the binary
 * tensor data extension, and encoding outputs back to JSON.
 */
import { McmlError } from '../../core/errors.js';

/** V2 datatype names mcml serves, mapped to onnxruntime tensor types. */
export const DATATYPES = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP32: 'float32',
  FP64: 'float64',
} as const;

export type Datatype = keyof typeof DATATYPES;
export type OrtType = (typeof DATATYPES)[Datatype];

/** A typed array of one of the supported datatypes. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A dense row-major tensor; `shape[0]` is the batch dimension for batchable models. */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
}

/** One input or output of a model: -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: number[];
}

const ORT_TO_DATATYPE = new Map<string, Datatype>(
  Object.entries(DATATYPES).map(([k, v]) => [v, k as Datatype]),
);

/** The V2 datatype for an onnxruntime type name, or undefined when mcml does not serve it. */
export function datatypeForOrt(type: string): Datatype | undefined {
  return ORT_TO_DATATYPE.get(type);
}

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && Object.hasOwn(DATATYPES, value);
}

const BYTES_PER_ELEMENT: Record<Datatype, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

function allocate(datatype: Datatype, length: number): TensorData {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(length);
    case 'FP64':
      return new Float64Array(length);
    case 'INT8':
      return new Int8Array(length);
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(length);
    case 'INT16':
      return new Int16Array(length);
    case 'UINT16':
      return new Uint16Array(length);
    case 'INT32':
      return new Int32Array(length);
    case 'UINT32':
      return new Uint32Array(length);
    case 'INT64':
      return new BigInt64Array(length);
    case 'UINT64':
      return new BigUint64Array(length);
  }
}

/** A typed array of `datatype` with `length` elements (exported for batch concatenation). */
export function allocateTensorData(datatype: Datatype, length: number): TensorData {
  return allocate(datatype, length);
}

const INT_RANGES: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT16: [-32768, 32767],
  UINT16: [0, 65535],
  INT32: [-2147483648, 2147483647],
  UINT32: [0, 4294967295],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

function invalid(message: string): McmlError {
  return new McmlError('INVALID_ARGUMENT', message);
}

/**
 * A client value as it appears in an error message: short, one line, never the whole of a
 * large or deeply nested value (JSON.stringify of those can overflow the stack).
 */
export function preview(value: unknown): string {
  if (typeof value === 'string') {
    const text = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    return text;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'nothing';
  return `a${typeof value === 'object' ? 'n object' : ` ${typeof value}`}`;
}

/** Largest finite float32 magnitude. */
const FP32_MAX = 3.4028234663852886e38;
/**
 * Smallest magnitude that rounds to Infinity in float32 (halfway between FP32_MAX and 2^128):
 * below it a value rounds to a finite float32, as "3.4028235e38" (FP32_MAX printed) does.
 */
const FP32_OVERFLOW = 2 ** 128 - 2 ** 103;

/** Why a float value cannot go into a tensor of `datatype`, or undefined when it can. */
function badFloat(datatype: 'FP32' | 'FP64', value: number): string | undefined {
  if (Number.isNaN(value)) return `NaN is not a valid ${datatype} input`;
  if (!Number.isFinite(value)) return `${value} is not a valid ${datatype} input`;
  if (datatype === 'FP32' && Math.abs(value) >= FP32_OVERFLOW) {
    return `${value} overflows FP32 (largest magnitude ${FP32_MAX})`;
  }
  return undefined;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Number of leaves (non-array elements) of a nested JSON array, walked without recursion. */
function leafCount(data: unknown[]): number {
  let n = 0;
  const stack: unknown[][] = [data];
  while (stack.length > 0) {
    for (const value of stack.pop()!) {
      if (Array.isArray(value)) stack.push(value);
      else n++;
    }
  }
  return n;
}

/**
 * Copies JSON `data` (flat or nested row-major) into a typed array of `datatype`, checking
 * each element's JSON type: finite numbers for float types (in range for FP32), integers in
 * range for integer types, booleans for BOOL. The element count is checked before anything
 * is allocated, so a shape cannot make the server allocate more than the body holds.
 */
export function fillFromJson(
  name: string,
  datatype: Datatype,
  data: unknown,
  expected: number,
): TensorData {
  if (!Array.isArray(data)) throw invalid(`input ${preview(name)}: "data" must be an array`);
  if ((datatype === 'FP32' || datatype === 'FP64') && data.length === expected) {
    const floats = flatFloats(datatype, data, expected);
    if (floats) return floats;
  }
  const count = leafCount(data);
  if (count > expected) {
    throw invalid(
      `input ${preview(name)}: more data elements than the shape holds (${expected}): "data" has ${count}`,
    );
  }
  if (count < expected) {
    throw invalid(
      `input ${preview(name)}: shape holds ${expected} elements but "data" has ${count}`,
    );
  }
  const out = allocate(datatype, expected);
  let i = 0;
  // Iterative walk: nested arrays of any depth, no recursion limit on deep inputs.
  const stack: [unknown[], number][] = [[data, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [arr, idx] = top;
    if (idx >= arr.length) {
      stack.pop();
      continue;
    }
    top[1] = idx + 1;
    const value = arr[idx];
    if (Array.isArray(value)) stack.push([value, 0]);
    else putElement(name, datatype, out, i++, value);
  }
  return out;
}

/**
 * The fast path for the common case, a flat array of finite floats in range; undefined when
 * some element is not (the general walk then says which and why).
 */
function flatFloats(
  datatype: 'FP32' | 'FP64',
  data: readonly unknown[],
  expected: number,
): TensorData | undefined {
  const floats = allocate(datatype, expected) as Float32Array;
  let k = 0;
  // Out of range for the datatype (or not finite): leave it to the checks below.
  const limit = datatype === 'FP32' ? FP32_OVERFLOW : Infinity;
  for (; k < expected; k++) {
    const value: unknown = data[k];
    if (typeof value !== 'number' || !(value < limit && value > -limit)) break;
    floats[k] = value;
  }
  return k === expected ? floats : undefined;
}

/** Stores JSON element `i` of input `name` into `out`, or says why it is not a `datatype`. */
function putElement(
  name: string,
  datatype: Datatype,
  out: TensorData,
  i: number,
  value: unknown,
): void {
  if (datatype === 'BOOL') {
    if (typeof value !== 'boolean') {
      throw invalid(
        `input ${preview(name)}: BOOL data must be true/false, got ${preview(value)} (element ${i})`,
      );
    }
    (out as Uint8Array)[i] = value ? 1 : 0;
    return;
  }
  if (typeof value !== 'number') {
    throw invalid(
      `input ${preview(name)}: ${datatype} data must be numbers, got ${preview(value)} (element ${i})`,
    );
  }
  if (datatype === 'FP32' || datatype === 'FP64') {
    const why = badFloat(datatype, value);
    if (why) throw invalid(`input ${preview(name)}: element ${i}: ${why}`);
    (out as Float32Array)[i] = value;
    return;
  }
  const range = INT_RANGES[datatype];
  if (!Number.isInteger(value) || (range && (value < range[0] || value > range[1]))) {
    const wide = datatype === 'INT64' || datatype === 'UINT64';
    throw invalid(
      `input ${preview(name)}: ${value} is not a valid ${datatype} value (element ${i})` +
        (wide && Number.isInteger(value)
          ? `; JSON numbers are exact only up to ±${Number.MAX_SAFE_INTEGER}: send larger values with the binary data extension`
          : ''),
    );
  }
  if (datatype === 'INT64' || datatype === 'UINT64') {
    (out as BigInt64Array)[i] = BigInt(value);
  } else {
    (out as Int32Array)[i] = value;
  }
}

/** Index of the first NaN or ±Infinity, or -1 (`v - v` is NaN exactly for those). */
function firstNonFinite(values: Float32Array | Float64Array): number {
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (v - v !== 0) return k;
  }
  return -1;
}

/** Index of the first byte other than 0 and 1, or -1. */
function firstNonBool(bytes: Uint8Array): number {
  for (let k = 0; k < bytes.length; k++) if (bytes[k]! > 1) return k;
  return -1;
}

/**
 * Checks values that arrived as raw bytes (binary data extension): floats must be finite
 * (NaN and Infinity make the model answer NaN, which JSON cannot carry), BOOL bytes 0 or 1.
 */
function checkBinaryValues(name: string, datatype: Datatype, data: TensorData): void {
  if (datatype === 'FP32' || datatype === 'FP64') {
    const k = firstNonFinite(data as Float32Array | Float64Array);
    if (k >= 0) {
      throw invalid(
        `input ${preview(name)}: element ${k} of the binary data is ${data[k]}; ${datatype} inputs must be finite numbers`,
      );
    }
  } else if (datatype === 'BOOL') {
    const k = firstNonBool(data as Uint8Array);
    if (k >= 0) {
      throw invalid(
        `input ${preview(name)}: element ${k} of the binary data is ${data[k]}; BOOL bytes must be 0 or 1`,
      );
    }
  }
}

/** Checks a request shape against the model's (-1 = any); returns an error message or undefined. */
export function shapeMismatch(
  actual: readonly number[],
  expected: readonly number[],
): string | undefined {
  if (actual.length !== expected.length) {
    return `expected rank ${expected.length} shape ${formatShape(expected)}, got ${formatShape(actual)}`;
  }
  for (let d = 0; d < expected.length; d++) {
    const e = expected[d]!;
    if (e >= 0 && actual[d] !== e) {
      return `expected shape ${formatShape(expected)}, got ${formatShape(actual)}`;
    }
  }
  return undefined;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.map((d) => (d < 0 ? '-1' : String(d))).join(',')}]`;
}

function parseShape(name: string, shape: unknown): number[] {
  if (
    !Array.isArray(shape) ||
    !shape.every((d): d is number => typeof d === 'number' && Number.isInteger(d) && d >= 0)
  ) {
    throw invalid(`input "${name}": "shape" must be an array of non-negative integers`);
  }
  return shape;
}

/** A V2 inference request decoded and checked against the model's inputs. */
export interface DecodedRequest {
  id?: string;
  inputs: Tensor[];
  /** Output names the client asked for (all outputs when absent), with binary flags. */
  outputs?: { name: string; binary: boolean }[];
  /** Whether outputs should use the binary data extension by default. */
  binaryOutputs: boolean;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Decodes a V2 infer request body: `header` is the parsed JSON; `binary` the bytes after the
 * JSON header when the client used the binary tensor data extension.
 */
export function decodeV2Request(
  header: unknown,
  binary: Buffer | undefined,
  modelInputs: readonly TensorSpec[],
  modelOutputs: readonly TensorSpec[],
): DecodedRequest {
  if (!isObject(header)) throw invalid('request body must be a JSON object');
  const inputs = decodeInputs(header.inputs, binary, modelInputs);
  const params = isObject(header.parameters) ? header.parameters : undefined;
  const binaryOutputs = params?.binary_data_output === true;
  const result: DecodedRequest = { inputs, binaryOutputs };
  if (typeof header.id === 'string') result.id = header.id;
  if (header.outputs !== undefined) {
    result.outputs = decodeOutputs(header.outputs, modelOutputs, binaryOutputs);
  }
  return result;
}

/**
 * Every input of the request, each named once, of the model's datatype and shape, its data
 * from JSON or from its slice of the binary bytes; together they are exactly the model's
 * inputs, of one batch size, and claim every binary byte.
 */
function decodeInputs(
  rawInputs: unknown,
  binary: Buffer | undefined,
  modelInputs: readonly TensorSpec[],
): Tensor[] {
  if (!Array.isArray(rawInputs) || rawInputs.length === 0) {
    throw invalid('request must have a non-empty "inputs" array');
  }
  const byName = new Map(modelInputs.map((s) => [s.name, s]));
  const seen = new Set<string>();
  let offset = 0;
  const inputs: Tensor[] = rawInputs.map((raw: unknown, index) => {
    if (!isObject(raw)) throw invalid(`inputs[${index}] must be an object`);
    const spec = inputSpec(raw, index, byName, seen);
    const name = spec.name;
    const datatype = raw.datatype;
    checkDatatype(name, datatype, spec);
    const shape = parseShape(name, raw.shape);
    const mismatch = shapeMismatch(shape, spec.shape);
    if (mismatch) throw invalid(`input "${name}": ${mismatch}`);
    const count = elementCount(shape);
    const binarySize = binaryDataSize(name, raw, datatype, shape, count);
    if (binarySize !== undefined) {
      const data = binaryData(name, datatype, count, binary, offset, binarySize);
      offset += binarySize;
      return { name, datatype, shape, data };
    }
    if (raw.data === undefined) throw invalid(`input "${name}" has no "data"`);
    return { name, datatype, shape, data: fillFromJson(name, datatype, raw.data, count) };
  });
  if (binary && offset !== binary.length) {
    throw invalid(`the body has ${binary.length - offset} binary bytes no input claims`);
  }
  const missing = modelInputs.filter((s) => !seen.has(s.name)).map((s) => s.name);
  if (missing.length > 0) throw invalid(`missing input(s): ${missing.join(', ')}`);
  const batch = inputs[0]!.shape[0];
  if (inputs.some((t) => t.shape[0] !== batch)) {
    throw invalid('all inputs must have the same first (batch) dimension');
  }
  return inputs;
}

/** The model's input this one names; adds the name to `seen` (a name given twice is refused). */
function inputSpec(
  raw: Record<string, unknown>,
  index: number,
  byName: ReadonlyMap<string, TensorSpec>,
  seen: Set<string>,
): TensorSpec {
  const name = raw.name;
  if (typeof name !== 'string') throw invalid(`inputs[${index}] needs a string "name"`);
  const spec = byName.get(name);
  if (!spec) {
    throw invalid(
      `unknown input ${preview(name)}; the model's inputs are: ${[...byName.keys()].join(', ')}`,
    );
  }
  if (seen.has(name)) throw invalid(`input "${name}" is given twice`);
  seen.add(name);
  return spec;
}

/** The input is of a datatype mcml serves, and of the model's. */
function checkDatatype(
  name: string,
  datatype: unknown,
  spec: TensorSpec,
): asserts datatype is Datatype {
  if (!isDatatype(datatype)) {
    throw invalid(
      `input "${name}": unsupported datatype ${preview(datatype)}; expected ${spec.datatype}`,
    );
  }
  if (datatype !== spec.datatype) {
    throw invalid(
      `input "${name}": datatype ${datatype} does not match the model's ${spec.datatype}`,
    );
  }
}

/** The input's `binary_data_size` parameter (undefined: its data is JSON), checked against its shape. */
function binaryDataSize(
  name: string,
  raw: Record<string, unknown>,
  datatype: Datatype,
  shape: readonly number[],
  count: number,
): number | undefined {
  const params = isObject(raw.parameters) ? raw.parameters : undefined;
  const binarySize = params?.binary_data_size;
  if (binarySize === undefined) return undefined;
  if (typeof binarySize !== 'number' || !Number.isInteger(binarySize) || binarySize < 0) {
    throw invalid(`input "${name}": binary_data_size must be a non-negative integer`);
  }
  const want = count * BYTES_PER_ELEMENT[datatype];
  if (binarySize !== want) {
    throw invalid(
      `input "${name}": binary_data_size ${binarySize} does not match shape ${formatShape(shape)} of ${datatype} (${want} bytes)`,
    );
  }
  return binarySize;
}

/** The input's elements copied out of the body's binary bytes at `offset`, checked. */
function binaryData(
  name: string,
  datatype: Datatype,
  count: number,
  binary: Buffer | undefined,
  offset: number,
  size: number,
): TensorData {
  if (!binary || offset + size > binary.length) {
    throw invalid(`input "${name}": the body holds fewer binary bytes than binary_data_size`);
  }
  const data = allocate(datatype, count);
  new Uint8Array(data.buffer).set(binary.subarray(offset, offset + size));
  checkBinaryValues(name, datatype, data);
  return data;
}

/** The outputs the client asked for, each a model output named once, binary or JSON. */
function decodeOutputs(
  rawOutputs: unknown,
  modelOutputs: readonly TensorSpec[],
  binaryOutputs: boolean,
): { name: string; binary: boolean }[] {
  if (!Array.isArray(rawOutputs)) throw invalid('"outputs" must be an array');
  const known = new Set(modelOutputs.map((o) => o.name));
  const asked = new Set<string>();
  return rawOutputs.map((raw: unknown, index) => {
    if (!isObject(raw) || typeof raw.name !== 'string') {
      throw invalid(`outputs[${index}] needs a string "name"`);
    }
    if (!known.has(raw.name)) {
      throw invalid(
        `unknown output ${preview(raw.name)}; the model's outputs are: ${[...known].join(', ')}`,
      );
    }
    if (asked.has(raw.name)) throw invalid(`output "${raw.name}" is asked for twice`);
    asked.add(raw.name);
    const p = isObject(raw.parameters) ? raw.parameters : undefined;
    const b = p?.binary_data;
    return { name: raw.name, binary: typeof b === 'boolean' ? b : binaryOutputs };
  });
}

/**
 * JSON-safe element values of output `name` (64-bit integers become numbers). NaN and
 * Infinity have no JSON form: rather than answer `null`, this throws INVALID_ARGUMENT (400)
 * saying so; `binaryHint` adds how to get the raw values (the binary data extension).
 */
export function toJsonData(
  data: TensorData,
  datatype: Datatype,
  name = 'output',
  binaryHint = false,
): (number | boolean)[] {
  if (datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return Array.from(data, (v) => Number(v));
  }
  const values = Array.from(data);
  if (datatype === 'FP32' || datatype === 'FP64') {
    const k = values.findIndex((v) => !Number.isFinite(v));
    if (k >= 0) {
      throw invalid(
        `the model's output "${name}" is ${values[k]} at element ${k}, which JSON cannot carry; ` +
          'check that the inputs are in the range the model was trained on' +
          (binaryHint
            ? ', or ask for binary output (parameters.binary_data_output: true) to receive the raw values'
            : ''),
      );
    }
  }
  return values;
}

/** The bytes of a tensor, for the binary data extension. */
export function toBytes(data: TensorData): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
