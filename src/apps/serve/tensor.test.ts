import { describe, expect, it } from 'vitest';
import { McmlError } from '../../core/errors.js';
import {
  decodeV2Request,
  fillFromJson,
  shapeMismatch,
  toJsonData,
  type TensorSpec,
} from './tensor.js';
import { decodeV1Request, encodeV1Response } from './v1.js';

const INPUTS: TensorSpec[] = [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }];
const OUTPUTS: TensorSpec[] = [
  { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
  { name: 'label', datatype: 'INT64', shape: [-1] },
];

function request(input: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4], ...input }],
    ...extra,
  };
}

function errorOf(fn: () => unknown): McmlError {
  try {
    fn();
  } catch (error) {
    if (error instanceof McmlError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

describe('decodeV2Request', () => {
  it('decodes flat and nested FP32 data into a Float32Array', () => {
    const flat = decodeV2Request(
      request({ shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] }),
      undefined,
      INPUTS,
      OUTPUTS,
    );
    const nested = decodeV2Request(
      request({
        shape: [2, 4],
        data: [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
      }),
      undefined,
      INPUTS,
      OUTPUTS,
    );
    for (const r of [flat, nested]) {
      expect(r.inputs[0]!.data).toBeInstanceOf(Float32Array);
      expect(Array.from(r.inputs[0]!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(r.inputs[0]!.shape).toEqual([2, 4]);
    }
  });

  it.each([
    [
      'a datatype other than the model’s',
      { datatype: 'FP64' },
      /datatype FP64 does not match the model's FP32/,
    ],
    ['an unknown datatype', { datatype: 'FLOAT' }, /unsupported datatype "FLOAT"/],
    [
      'a wrong inner dimension',
      { shape: [1, 5], data: [1, 2, 3, 4, 5] },
      /expected shape \[-1,4\], got \[1,5\]/,
    ],
    ['a wrong rank', { shape: [4], data: [1, 2, 3, 4] }, /expected rank 2/],
    ['too few elements', { shape: [2, 4] }, /shape holds 8 elements but "data" has 4/],
    ['too many elements', { data: [1, 2, 3, 4, 5] }, /more data elements than the shape holds/],
    ['strings in FP32 data', { data: [1, 2, 'x', 4] }, /FP32 data must be numbers/],
    ['a negative dimension', { shape: [-1, 4] }, /non-negative integers/],
    [
      'an unknown input',
      { name: 'pixels' },
      /unknown input "pixels"; the model's inputs are: input/,
    ],
  ])('rejects %s', (_what, input, message) => {
    const error = errorOf(() => decodeV2Request(request(input), undefined, INPUTS, OUTPUTS));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(message);
  });

  it('rejects a body without inputs, or not an object', () => {
    expect(errorOf(() => decodeV2Request({}, undefined, INPUTS, OUTPUTS)).message).toMatch(
      /non-empty "inputs"/,
    );
    expect(errorOf(() => decodeV2Request([1], undefined, INPUTS, OUTPUTS)).message).toMatch(
      /JSON object/,
    );
  });

  it('checks integer data for INT32 and INT64 inputs', () => {
    const spec: TensorSpec[] = [{ name: 'ids', datatype: 'INT64', shape: [-1, 2] }];
    const ok = decodeV2Request(
      { inputs: [{ name: 'ids', datatype: 'INT64', shape: [1, 2], data: [3, -7] }] },
      undefined,
      spec,
      [],
    );
    expect(ok.inputs[0]!.data).toEqual(new BigInt64Array([3n, -7n]));
    const frac = errorOf(() =>
      decodeV2Request(
        { inputs: [{ name: 'ids', datatype: 'INT64', shape: [1, 2], data: [3, 1.5] }] },
        undefined,
        spec,
        [],
      ),
    );
    expect(frac.message).toMatch(/1.5 is not a valid INT64 value/);
    const int32: TensorSpec[] = [{ name: 'x', datatype: 'INT32', shape: [2] }];
    expect(
      errorOf(() =>
        decodeV2Request(
          { inputs: [{ name: 'x', datatype: 'INT32', shape: [2], data: [1, 2 ** 31] }] },
          undefined,
          int32,
          [],
        ),
      ).message,
    ).toMatch(/not a valid INT32/);
    const fp64 = decodeV2Request(
      { inputs: [{ name: 'x', datatype: 'FP64', shape: [2], data: [0.1, 0.2] }] },
      undefined,
      [{ name: 'x', datatype: 'FP64', shape: [2] }],
      [],
    );
    expect(fp64.inputs[0]!.data).toEqual(new Float64Array([0.1, 0.2]));
  });

  it('reads tensors from the binary data extension', () => {
    const values = new Float32Array([1.5, 2.5, 3.5, 4.5]);
    const header = {
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } },
      ],
      outputs: [{ name: 'label', parameters: { binary_data: true } }],
    };
    const r = decodeV2Request(header, Buffer.from(values.buffer), INPUTS, OUTPUTS);
    expect(Array.from(r.inputs[0]!.data as Float32Array)).toEqual([1.5, 2.5, 3.5, 4.5]);
    expect(r.outputs).toEqual([{ name: 'label', binary: true }]);
    const short = errorOf(() => decodeV2Request(header, Buffer.alloc(8), INPUTS, OUTPUTS));
    expect(short.message).toMatch(/fewer binary bytes/);
    const wrongSize = { inputs: [{ ...header.inputs[0], parameters: { binary_data_size: 12 } }] };
    expect(
      errorOf(() => decodeV2Request(wrongSize, Buffer.alloc(12), INPUTS, OUTPUTS)).message,
    ).toMatch(/binary_data_size 12 does not match/);
  });

  it('rejects unknown requested outputs and accepts known ones', () => {
    const r = decodeV2Request(
      request({}, { outputs: [{ name: 'label' }] }),
      undefined,
      INPUTS,
      OUTPUTS,
    );
    expect(r.outputs).toEqual([{ name: 'label', binary: false }]);
    expect(
      errorOf(() =>
        decodeV2Request(request({}, { outputs: [{ name: 'nope' }] }), undefined, INPUTS, OUTPUTS),
      ).message,
    ).toMatch(/unknown output "nope"/);
  });
});

describe('values that cannot go into a tensor', () => {
  const spec = (datatype: TensorSpec['datatype']): TensorSpec[] => [
    { name: 'x', datatype, shape: [-1] },
  ];
  const one = (datatype: string, data: unknown[]) => ({
    inputs: [{ name: 'x', datatype, shape: [data.length], data }],
  });

  it('refuses JSON floats that overflow FP32, and Infinity for FP64', () => {
    expect(
      errorOf(() => decodeV2Request(one('FP32', [0, 3.5e38]), undefined, spec('FP32'), [])).message,
    ).toMatch(/element 1: 3\.5e\+38 overflows FP32/);
    // The largest float32 still fits, also as it is usually printed (3.4028235e38 rounds to it).
    for (const value of [3.4028234663852886e38, 3.4028235e38, -3.4028235e38, 1e-46]) {
      const fits = decodeV2Request(one('FP32', [value, value]), undefined, spec('FP32'), []);
      expect(Array.from(fits.inputs[0]!.data as Float32Array)).toEqual([
        Math.fround(value),
        Math.fround(value),
      ]);
    }
    expect(
      errorOf(() => decodeV2Request(one('FP32', [3.4028236e38]), undefined, spec('FP32'), []))
        .message,
    ).toMatch(/overflows FP32/);
    expect(
      errorOf(() => decodeV2Request(one('FP64', [1, -Infinity]), undefined, spec('FP64'), []))
        .message,
    ).toMatch(/element 1: -Infinity is not a valid FP64 input/);
  });

  it('says why a large integer is refused for INT64', () => {
    expect(
      errorOf(() => decodeV2Request(one('INT64', [2 ** 60]), undefined, spec('INT64'), [])).message,
    ).toMatch(/exact only up to ±9007199254740991: send larger values with the binary data/);
  });

  it('checks binary FP64 and BOOL values', () => {
    const header = (datatype: string, size: number) => ({
      inputs: [{ name: 'x', datatype, shape: [2], parameters: { binary_data_size: size } }],
    });
    const nan = Buffer.from(new Float64Array([1, NaN]).buffer);
    expect(
      errorOf(() => decodeV2Request(header('FP64', 16), nan, spec('FP64'), [])).message,
    ).toMatch(/element 1 of the binary data is NaN/);
    expect(
      errorOf(() => decodeV2Request(header('BOOL', 2), Buffer.from([1, 7]), spec('BOOL'), []))
        .message,
    ).toMatch(/element 1 of the binary data is 7; BOOL bytes must be 0 or 1/);
    const ok = decodeV2Request(header('BOOL', 2), Buffer.from([1, 0]), spec('BOOL'), []);
    expect(toJsonData(ok.inputs[0]!.data, 'BOOL')).toEqual([true, false]);
  });

  it('counts the data before allocating what the shape asks for', () => {
    const huge = { inputs: [{ name: 'x', datatype: 'FP32', shape: [2 ** 40], data: [[1], 2] }] };
    expect(errorOf(() => decodeV2Request(huge, undefined, spec('FP32'), [])).message).toMatch(
      /shape holds 1099511627776 elements but "data" has 2/,
    );
  });

  it('refuses NaN outputs in JSON, naming the output', () => {
    expect(
      errorOf(() => toJsonData(new Float32Array([0.5, NaN]), 'FP32', 'scores', true)).message,
    ).toMatch(/output "scores" is NaN at element 1, which JSON cannot carry.*binary_data_output/);
  });
});

describe('helpers', () => {
  it('shapeMismatch treats -1 as any size', () => {
    expect(shapeMismatch([7, 4], [-1, 4])).toBeUndefined();
    expect(shapeMismatch([7, 3], [-1, 4])).toMatch(/expected shape/);
  });
  it('fillFromJson maps BOOL to bytes and toJsonData back', () => {
    const data = fillFromJson('b', 'BOOL', [true, false, true], 3);
    expect(toJsonData(data, 'BOOL')).toEqual([true, false, true]);
    expect(toJsonData(new BigInt64Array([5n]), 'INT64')).toEqual([5]);
  });
});

describe('KServe v1', () => {
  it('turns instances into a batch and predictions back into rows', () => {
    const inputs = decodeV1Request(
      {
        instances: [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
      },
      INPUTS,
    );
    expect(inputs[0]!.shape).toEqual([2, 4]);
    expect(Array.from(inputs[0]!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const out = encodeV1Response([
      {
        name: 'probabilities',
        datatype: 'FP32',
        shape: [2, 3],
        data: new Float32Array([1, 0, 0, 0, 0, 1]),
      },
      { name: 'label', datatype: 'INT64', shape: [2], data: new BigInt64Array([0n, 2n]) },
    ]);
    expect(out.predictions).toEqual([
      { probabilities: [1, 0, 0], label: 0 },
      { probabilities: [0, 0, 1], label: 2 },
    ]);
  });

  it('rejects ragged or wrongly shaped instances', () => {
    expect(
      errorOf(() =>
        decodeV1Request(
          {
            instances: [
              [1, 2, 3, 4],
              [5, 6, 7],
            ],
          },
          INPUTS,
        ),
      ).message,
    ).toMatch(/instances\[1\] has a different shape/);
    expect(errorOf(() => decodeV1Request({ instances: [[1, 2, 3]] }, INPUTS)).message).toMatch(
      /expected shape/,
    );
    expect(errorOf(() => decodeV1Request({ rows: [] }, INPUTS)).message).toMatch(/"instances"/);
  });
});
