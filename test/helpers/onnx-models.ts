/**
 * Small ONNX models for tests, encoded with onnx-proto: y = x · W, with W stored inline or in
 * an external data file (how models over 2 GiB are saved), and variants that put external
 * tensors where onnx.proto allows them (an If node's branches).
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

function shape(dims: (number | string)[]) {
  return { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) };
}

/** W of side × side float32, every element `value`: its bytes for a weights file. */
export function weightBytes(side: number, value: number): Buffer {
  return Buffer.from(new Float32Array(side * side).fill(value).buffer);
}

export interface MatMulModel {
  side: number;
  /** Where W lives: inline, or this location in an external data file. */
  external?: { location: string; offset?: number };
  /** Inline W's value (default 0.5). */
  value?: number;
}

function weightTensor(m: MatMulModel): OnnxTypes.ITensorProto {
  const base = { name: 'w', dims: [m.side, m.side], dataType: onnx.TensorProto.DataType.FLOAT };
  if (!m.external) return { ...base, rawData: weightBytes(m.side, m.value ?? 0.5) };
  return {
    ...base,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: m.external.location },
      { key: 'offset', value: String(m.external.offset ?? 0) },
      { key: 'length', value: String(m.side * m.side * 4) },
    ],
  };
}

function encode(graph: OnnxTypes.IGraphProto): Buffer {
  const model = { irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph };
  return Buffer.from(onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish());
}

/** The .onnx bytes of y = x · W (input x [batch, side], output y [batch, side]). */
export function matMulModel(m: MatMulModel): Buffer {
  return encode({
    name: 'matmul',
    node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'], name: 'y' }],
    initializer: [weightTensor(m)],
    input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: shape(['batch', m.side]) } } }],
    output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: shape(['batch', m.side]) } } }],
  });
}

/** A model whose external tensor is a Constant inside an If node's then-branch. */
export function subgraphModel(location: string): Buffer {
  const constant = {
    opType: 'Constant',
    output: ['c'],
    name: 'c',
    attribute: [
      {
        name: 'value',
        type: onnx.AttributeProto.AttributeType.TENSOR,
        t: weightTensor({ side: 2, external: { location } }),
      },
    ],
  };
  const branch = (name: string) => ({
    name,
    node: name === 'then' ? [constant] : [],
    output: [{ name: 'c', type: { tensorType: { elemType: 1, shape: shape([2, 2]) } } }],
  });
  return encode({
    name: 'if',
    node: [
      {
        opType: 'If',
        input: ['cond'],
        output: ['y'],
        name: 'y',
        attribute: [
          { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('then') },
          { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('else') },
        ],
      },
    ],
    input: [{ name: 'cond', type: { tensorType: { elemType: 9, shape: shape([]) } } }],
    output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: shape([2, 2]) } } }],
  });
}

/** A graph of `count` initializers, each in its own external file `w<i>.bin` (scan tests). */
export function manyFilesModel(count: number, side = 2): Buffer {
  return encode({
    name: 'many',
    initializer: Array.from({ length: count }, (_, i) => ({
      ...weightTensor({ side, external: { location: `w${i}.bin` } }),
      name: `w${i}`,
    })),
  });
}

/** y for x = a row of ones, from a server serving a matMulModel as `model` (KServe v2). */
export async function inferOnes(url: string, model: string, side: number): Promise<number[]> {
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, side], data: Array(side).fill(1) }],
    }),
  });
  if (res.status !== 200) throw new Error(`inference answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
}
