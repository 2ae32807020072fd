/**
 * Fuzzing `mcml serve` (issue 14, "beyond the list"): random methods, request targets, headers
 * and bodies (well-formed V2/V1 requests with hostile values, binary-extension bodies, random
 * JSON and bytes) against the real CLI serving iris. No response may be a 5xx or leak a stack
 * trace or an internal message, the server must log no error and keep serving.
 * Runs are bounded (MCML_FUZZ_RUNS, default 200); a failure prints the seed to replay it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS, spawnServe, type ServeProcess } from '../serve/spawn.js';
import {
  methodArb,
  send,
  targetArb,
  violation,
  type RawRequest,
  type RawResponse,
} from './serve-http.js';

const RUNS = Number(process.env.MCML_FUZZ_RUNS ?? 200);

const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength,
  });

/** Numbers a client may send: ordinary, huge, tiny, non-integers, beyond float32 and float64. */
const numberArb = fc.oneof(
  fc.double({ noNaN: true }),
  fc.integer(),
  fc.constantFrom(0, -0, 1e39, -1e39, 3e38, 3.4028235e38, 1e-46, 2 ** 53, 2 ** 64, 1.5),
);

/** JSON text of a number, including forms JSON.stringify never writes (1e309 is Infinity). */
const numberText = fc.oneof(
  { weight: 6, arbitrary: numberArb.map((n) => JSON.stringify(n)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('1e309', '-1e309', '1e-400', '123456789012345678901234567890'),
  },
);

/** `data`: flat or nested numbers, or the wrong types. */
const dataText: fc.Arbitrary<string> = fc.oneof(
  fc.array(numberText, { maxLength: 12 }).map((a) => `[${a.join(',')}]`),
  fc
    .array(fc.array(numberText, { maxLength: 5 }), { maxLength: 4 })
    .map((rows) => `[${rows.map((r) => `[${r.join(',')}]`).join(',')}]`),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.integer({ min: 1, max: 50_000 }).map((d) => `${'['.repeat(d)}1${']'.repeat(d)}`),
);

const nameArb = fc.oneof(
  fc.constantFrom('input', 'label', 'probabilities', '__proto__'),
  printable(8),
);
const shapeArb = fc.array(
  fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom(-1, 1.5, 1e300, 2 ** 40, 2 ** 31)),
  { maxLength: 4 },
);
const datatypeArb = fc.oneof(
  fc.constantFrom('FP32', 'FP64', 'INT64', 'INT32', 'BOOL', 'UINT8', 'FP16', 'BYTES'),
  printable(6),
);

/** One V2 input as JSON text (hand-built so numbers like 1e309 reach the server). */
const inputText = fc
  .record({
    name: nameArb,
    datatype: datatypeArb,
    shape: shapeArb,
    data: fc.option(dataText),
    size: fc.option(fc.oneof(fc.integer({ min: -4, max: 64 }), fc.constantFrom(2 ** 40, 1.5))),
  })
  .map(
    (i) =>
      `{"name":${JSON.stringify(i.name)},"datatype":${JSON.stringify(i.datatype)},` +
      `"shape":${JSON.stringify(i.shape)}` +
      (i.data === null ? '' : `,"data":${i.data}`) +
      (i.size === null ? '' : `,"parameters":{"binary_data_size":${i.size}}`) +
      '}',
  );

const v2Body = fc
  .record({
    inputs: fc.array(inputText, { maxLength: 3 }),
    outputs: fc.option(
      fc.array(fc.record({ name: nameArb, parameters: fc.record({ binary_data: fc.boolean() }) }), {
        maxLength: 3,
      }),
    ),
    binaryOut: fc.boolean(),
  })
  .map(
    (b) =>
      `{"inputs":[${b.inputs.join(',')}]` +
      (b.outputs === null ? '' : `,"outputs":${JSON.stringify(b.outputs)}`) +
      (b.binaryOut ? ',"parameters":{"binary_data_output":true}' : '') +
      '}',
  );

const v1Body = fc
  .array(
    fc.oneof(
      dataText,
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
    ),
    {
      maxLength: 4,
    },
  )
  .map((rows) => `{"instances":[${rows.join(',')}]}`);

/** A binary-extension body: a JSON header, then raw bytes (sometimes NaN/Inf floats). */
const binaryBody = fc
  .record({
    header: v2Body,
    floats: fc.array(fc.float(), { maxLength: 16 }),
    extra: fc.uint8Array({ maxLength: 8 }),
    declared: fc.option(fc.oneof(fc.integer({ min: -2, max: 4096 }), printable(6))),
  })
  .map((b) => {
    const header = Buffer.from(b.header);
    const bytes = Buffer.concat([
      header,
      Buffer.from(new Float32Array(b.floats).buffer),
      Buffer.from(b.extra),
    ]);
    const declared = b.declared === null ? String(header.length) : String(b.declared);
    return { bytes, declared };
  });

/** Iris rows of 4 numbers, hostile values included: requests that get as far as the model. */
const irisRows = fc.array(fc.array(numberText, { minLength: 4, maxLength: 4 }), {
  minLength: 1,
  maxLength: 3,
});

const irisBody = fc.oneof(
  irisRows.map((rows) => ({
    target: '/v2/models/iris/infer',
    body:
      `{"inputs":[{"name":"input","datatype":"FP32","shape":[${rows.length},4],` +
      `"data":[${rows.flat().join(',')}]}]}`,
  })),
  irisRows.map((rows) => ({
    target: '/v1/models/iris:predict',
    body: `{"instances":[${rows.map((r) => `[${r.join(',')}]`).join(',')}]}`,
  })),
);

/** Iris rows as binary float32 (NaN and Infinity included), in a well-formed request. */
const irisBinary = fc
  .array(fc.float(), { minLength: 4, maxLength: 12 })
  .map((values) => values.slice(0, values.length - (values.length % 4)))
  .map((values) => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'input',
            datatype: 'FP32',
            shape: [values.length / 4, 4],
            parameters: { binary_data_size: values.length * 4 },
          },
        ],
      }),
    );
    return {
      header: String(header.length),
      body: Buffer.concat([header, Buffer.from(new Float32Array(values).buffer)]),
    };
  });

const INFER_TARGETS = [
  '/v2/models/iris/infer',
  '/v2/models/iris/versions/1/infer',
  '/v1/models/iris:predict',
];

const inferRequest: fc.Arbitrary<RawRequest> = fc.oneof(
  irisBody.map(({ target, body }) => ({
    method: 'POST',
    target,
    headers: [
      ['Host', 'fuzz'],
      ['Content-Type', 'application/json'],
    ] as [string, string][],
    body: Buffer.from(body),
  })),
  irisBinary.map(({ header, body }) => ({
    method: 'POST',
    target: '/v2/models/iris/infer',
    headers: [
      ['Host', 'fuzz'],
      ['Inference-Header-Content-Length', header],
    ] as [string, string][],
    body,
  })),
  fc
    .record({
      target: fc.constantFrom(...INFER_TARGETS),
      kind: fc.constantFrom('v2', 'v1', 'binary', 'json', 'bytes'),
      v2: v2Body,
      v1: v1Body,
      binary: binaryBody,
      json: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? ''),
      bytes: fc.uint8Array({ maxLength: 64 }),
      contentType: fc.constantFrom('application/json', 'application/octet-stream', 'text/plain'),
    })
    .map((r) => {
      const headers: [string, string][] = [
        ['Host', 'fuzz'],
        ['Content-Type', r.contentType],
      ];
      let body: Buffer;
      if (r.kind === 'binary') {
        headers.push(['Inference-Header-Content-Length', r.binary.declared]);
        body = r.binary.bytes;
      } else {
        body = Buffer.from(
          r.kind === 'v2' ? r.v2 : r.kind === 'v1' ? r.v1 : r.kind === 'json' ? r.json : r.bytes,
        );
      }
      return { method: 'POST', target: r.target, headers, body };
    }),
);

const anyRequest: fc.Arbitrary<RawRequest> = fc
  .record({
    method: methodArb,
    target: targetArb(
      [
        '/{}',
        '/v2/{}',
        '/v2/models/{}',
        '/v2/models/{}/{}',
        '/v2/models/{}/infer',
        '/v2/models/{}/versions/{}/{}',
        '/v1/models/{}',
        '/v1/models/{}:predict',
        '/health',
        '/metrics',
      ],
      ['iris', 'infer', 'ready', 'versions', '1', 'health', 'live', 'models', ':predict'],
    ),
    // Node refuses HTTP/1.1 without exactly one Host (400): mostly send one.
    host: fc.oneof({ weight: 5, arbitrary: fc.constant('fuzz') }, printable(16)),
    headers: fc.array(
      fc.tuple(
        fc.constantFrom(
          'Accept',
          'Inference-Header-Content-Length',
          'X-Fuzz',
          'Content-Type',
          'Authorization',
        ),
        printable(16),
      ),
      { maxLength: 4 },
    ),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      v2Body.map((t) => Buffer.from(t)),
    ),
  })
  .map((r) => ({
    method: r.method,
    target: r.target,
    headers: [['Host', r.host] as [string, string], ...r.headers],
    body: r.method === 'GET' || r.method === 'HEAD' ? Buffer.alloc(0) : r.body,
  }));

/** A 200 whose JSON outputs hold `null` where the model computed a number (NaN, Infinity). */
function nullOutput(request: RawRequest, response: RawResponse): string | undefined {
  const json = response.headers.get('content-type')?.includes('json') === true;
  // A HEAD answer has the headers of a JSON body and no body.
  if (response.status !== 200 || !json || request.method === 'HEAD') return undefined;
  const body = JSON.parse(response.body) as {
    outputs?: { data?: unknown[] }[];
    predictions?: unknown[];
  };
  const values = [
    ...(body.outputs ?? []).flatMap((o) => o.data ?? []),
    ...(body.predictions ?? []),
  ];
  return JSON.stringify(values).includes('null')
    ? `a 200 with null outputs for ${request.target} ${request.body.toString('latin1').slice(0, 200)}: ${response.body.slice(0, 300)}`
    : undefined;
}

describe('fuzzing mcml serve', () => {
  let server: ServeProcess;
  beforeAll(async () => {
    server = await spawnServe(['--model', IRIS, '--threads', '1', '--max-body', '2mb']);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('never answers a client with a 5xx or an internal detail, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: inferRequest }, { weight: 2, arbitrary: anyRequest }),
        async (request) => {
          const response = await send(server.port, request);
          const problem = violation(request, response) ?? nullOutput(request, response);
          if (problem) throw new Error(problem);
        },
      ),
      { numRuns: RUNS },
    );
    expect(server.child.exitCode).toBeNull();
    const ready = await fetch(`${server.url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    expect(server.records().filter((r) => (r.level as number) >= 50)).toEqual([]);
  });
});
