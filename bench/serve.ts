/**
 * `npm run bench:serve`: throughput and latency of `mcml serve` on the large MLP
 * (784-1024-1024-10), with dynamic batching on and off, at concurrency 1, 16 and 64, against
 * the physical limit: raw in-process onnxruntime throughput at the best batch size.
 *
 * The server runs as its own process (`node bin/mcml serve`, as deployed); autocannon drives
 * it from this process. Run `npm run build` first.
 *
 * Flags: --duration S (per run, default 8), --threads N (server and raw, default 1),
 * --max-batch N (batching on, default 64), --binary (also measure the binary tensor extension).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import { freePort, waitForPort } from '../test/helpers/process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = join(ROOT, 'models', 'mlp-large.onnx');

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const DURATION = flag('duration', 8);
const THREADS = flag('threads', 1);
const MAX_BATCH = flag('max-batch', 64);
const BINARY = process.argv.includes('--binary');
const CONCURRENCY = [1, 16, 64];

function sample(seed: number): number[] {
  return Array.from({ length: 784 }, (_, i) => ((i * 31 + seed * 17) % 255) / 255);
}

async function rawThroughput(threads: number): Promise<{ batch: number; perSecond: number }[]> {
  const session = await ort.InferenceSession.create(MODEL, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const rows: { batch: number; perSecond: number }[] = [];
  for (const batch of [1, 16, 32, 64, 128]) {
    const data = new Float32Array(batch * 784);
    for (let b = 0; b < batch; b++) data.set(sample(b), b * 784);
    const feeds = { input: new ort.Tensor('float32', data, [batch, 784]) };
    for (let i = 0; i < 5; i++) await session.run(feeds);
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < 2000) {
      await session.run(feeds);
      n += batch;
    }
    rows.push({ batch, perSecond: n / ((performance.now() - started) / 1000) });
  }
  await session.release();
  return rows;
}

interface LoadResult {
  mode: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Mean rows per onnxruntime call during the run. */
  rowsPerCall: number;
  /** Share of the run's wall time the inference thread spent in onnxruntime. */
  inferenceBusy: number;
}

async function inferenceStats(
  url: string,
): Promise<{ calls: number; rows: number; seconds: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(name + '{'));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return {
    calls: value('mcml_inference_batch_size_count'),
    rows: value('mcml_inference_batch_size_sum'),
    seconds: value('mcml_inference_duration_seconds_sum'),
  };
}

async function withServer<T>(maxBatch: number, fn: (url: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin', 'mcml'),
      'serve',
      '--model',
      `mlp-large=${MODEL}`,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--max-batch',
      String(maxBatch),
      '--threads',
      String(THREADS),
      '--max-queue',
      '4096',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  try {
    await waitForPort(port, { child, timeoutMs: 60_000 });
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
      const r = await fetch(`${url}/v2/health/ready`).catch(() => undefined);
      if (r?.ok) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    return await fn(url);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

function jsonBody(): string {
  return JSON.stringify({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 784], data: sample(1) }],
  });
}

function binaryRequest(): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [1, 784],
          parameters: { binary_data_size: 784 * 4 },
        },
      ],
    }),
  );
  const data = Float32Array.from(sample(1));
  return {
    body: Buffer.concat([header, Buffer.from(data.buffer)]),
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
  };
}

async function load(
  url: string,
  mode: string,
  connections: number,
  binary: boolean,
  duration = DURATION,
): Promise<LoadResult> {
  const req = binary
    ? binaryRequest()
    : { body: jsonBody(), headers: { 'content-type': 'application/json' } };
  const before = await inferenceStats(url);
  const result = await autocannon({
    url: `${url}/v2/models/mlp-large/infer`,
    method: 'POST',
    body: req.body,
    headers: req.headers,
    connections,
    duration,
  });
  const after = await inferenceStats(url);
  return {
    mode,
    connections,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    rowsPerCall: (after.rows - before.rows) / Math.max(1, after.calls - before.calls),
    inferenceBusy: (after.seconds - before.seconds) / result.duration,
  };
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

async function main(): Promise<void> {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `mcml serve benchmark: mlp-large 784-1024-1024-10, ${cpus().length} cores (${cpu}), Node ${process.version}, ` +
      `${DURATION}s per run, onnxruntime intra-op threads ${THREADS}, ` +
      `load average at start ${loadavg()[0]!.toFixed(1)}\n\n`,
  );

  const results: LoadResult[] = [];
  const modes: [string, number, boolean][] = [
    ['batch=1 (off)', 1, false],
    [`batch<=${MAX_BATCH} JSON`, MAX_BATCH, false],
  ];
  if (BINARY) modes.push([`batch<=${MAX_BATCH} binary`, MAX_BATCH, true]);
  for (const [mode, maxBatch, binary] of modes) {
    await withServer(maxBatch, async (url) => {
      await load(url, mode, 16, binary, 2); // warm-up, discarded
      for (const c of CONCURRENCY) results.push(await load(url, mode, c, binary));
    });
  }

  const raw = await rawThroughput(THREADS);
  const rawOther = THREADS === 1 ? await rawThroughput(2) : await rawThroughput(1);
  const best = [...raw, ...rawOther].reduce((a, b) => (b.perSecond > a.perSecond ? b : a));

  process.stdout.write(
    `${pad('mode', 22)}${pad('conc', 6, true)}${pad('req/s', 10, true)}${pad('p50 ms', 9, true)}${pad('p99 ms', 9, true)}${pad('errors', 8, true)}${pad('rows/call', 11, true)}${pad('ort busy', 10, true)}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${pad(r.mode, 22)}${pad(String(r.connections), 6, true)}${pad(r.rps.toFixed(0), 10, true)}` +
        `${pad(r.p50.toFixed(1), 9, true)}${pad(r.p99.toFixed(1), 9, true)}${pad(String(r.errors), 8, true)}` +
        `${pad(r.rowsPerCall.toFixed(1), 11, true)}${pad(`${(r.inferenceBusy * 100).toFixed(0)}%`, 10, true)}\n`,
    );
  }
  process.stdout.write(`\nraw in-process onnxruntime (samples/s):\n`);
  for (const [label, rows] of [
    [`threads=${THREADS}`, raw],
    [`threads=${THREADS === 1 ? 2 : 1}`, rawOther],
  ] as const) {
    process.stdout.write(
      `  ${label}: ${rows.map((r) => `b${r.batch} ${r.perSecond.toFixed(0)}`).join(', ')}\n`,
    );
  }
  const off64 = results.find((r) => r.mode.startsWith('batch=1') && r.connections === 64)!;
  const on64 = results.filter((r) => !r.mode.startsWith('batch=1') && r.connections === 64);
  const bestOn = on64.reduce((a, b) => (b.rps > a.rps ? b : a));
  const batchingRatio = bestOn.rps / off64.rps;
  const rawRatio = bestOn.rps / best.perSecond;
  process.stdout.write(`\nload average at end ${loadavg()[0]!.toFixed(1)}\n`);
  process.stdout.write(
    `\nbatching vs batch size 1 at c=64: ${bestOn.rps.toFixed(0)} / ${off64.rps.toFixed(0)} = ${batchingRatio.toFixed(2)}x (target >= 3x) ${batchingRatio >= 3 ? 'PASS' : 'MISS'}\n` +
      `server vs raw in-process (best: batch ${best.batch}, ${best.perSecond.toFixed(0)}/s): ${(rawRatio * 100).toFixed(0)}% (target >= 70%) ${rawRatio >= 0.7 ? 'PASS' : 'MISS'}\n`,
  );
}

await main();
