/**
 * KServe v1 prediction protocol: `{"instances": [...]}` in, `{"predictions": [...]}` out.
 * One instance is one row of the batch: a (nested) array for single-input models, or an
 * object keyed by input name for models with several inputs.
 */
import { McmlError } from '../../core/errors.js';
import { fillFromJson, shapeMismatch, toJsonData, type Tensor, type TensorSpec } from './tensor.js';

function invalid(message: string): McmlError {
  return new McmlError('INVALID_ARGUMENT', message);
}

/** The shape of a nested JSON array, following the first element at each level. */
function nestedShape(value: unknown): number[] {
  const shape: number[] = [];
  let cur = value;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Turns v1 instances into one input tensor per model input, with the batch as dimension 0. */
export function decodeV1Request(body: unknown, inputs: readonly TensorSpec[]): Tensor[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('request body must be a JSON object with "instances"');
  }
  const instances = (body as Record<string, unknown>).instances;
  if (!Array.isArray(instances) || instances.length === 0) {
    throw invalid('request must have a non-empty "instances" array');
  }
  const single = inputs.length === 1;
  return inputs.map((spec) => {
    const rows = instances.map((instance: unknown, i) => {
      if (single) return instance;
      if (typeof instance !== 'object' || instance === null || Array.isArray(instance)) {
        throw invalid(
          `instances[${i}] must be an object keyed by input name (${inputs.map((s) => s.name).join(', ')})`,
        );
      }
      // Own keys only: an input named like an Object.prototype member must not find it.
      if (!Object.hasOwn(instance, spec.name)) {
        throw invalid(`instances[${i}] has no "${spec.name}"`);
      }
      return (instance as Record<string, unknown>)[spec.name];
    });
    const rowShape = nestedShape(rows[0]);
    rows.forEach((row, i) => {
      if (!sameShape(nestedShape(row), rowShape)) {
        throw invalid(`instances[${i}] has a different shape than instances[0]`);
      }
    });
    const shape = [rows.length, ...rowShape];
    const mismatch = shapeMismatch(shape, spec.shape);
    if (mismatch) throw invalid(`input "${spec.name}": ${mismatch}`);
    const count = shape.reduce((n, d) => n * d, 1);
    // fillFromJson walks nested rows itself (no recursion: Array#flat overflows the stack on
    // deeply nested input).
    return {
      name: spec.name,
      datatype: spec.datatype,
      shape,
      data: fillFromJson(spec.name, spec.datatype, rows, count),
    };
  });
}

/** Nests flat row-major values into arrays of `shape`. */
export function nest(values: readonly unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return values[0];
  const build = (offset: number, dim: number): unknown[] => {
    const size = shape[dim]!;
    if (dim === shape.length - 1) return values.slice(offset, offset + size);
    const stride = shape.slice(dim + 1).reduce((n, d) => n * d, 1);
    return Array.from({ length: size }, (_, i) => build(offset + i * stride, dim + 1));
  };
  return build(0, 0);
}

/** One prediction per instance: the output row, or an object of rows for several outputs. */
export function encodeV1Response(outputs: readonly Tensor[]): { predictions: unknown[] } {
  const rows = outputs[0]?.shape[0] ?? 0;
  const perOutput = outputs.map((t) => {
    const values = toJsonData(t.data, t.datatype, t.name);
    const rowShape = t.shape.slice(1);
    const rowSize = rowShape.reduce((n, d) => n * d, 1);
    return Array.from({ length: rows }, (_, r) =>
      nest(values.slice(r * rowSize, (r + 1) * rowSize), rowShape),
    );
  });
  const predictions = Array.from({ length: rows }, (_, r) => {
    if (outputs.length === 1) return perOutput[0]![r];
    return Object.fromEntries(outputs.map((t, i) => [t.name, perOutput[i]![r]]));
  });
  return { predictions };
}
