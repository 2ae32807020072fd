/**
 * `npm run bench:serve`: throughput and latency of `mcml serve` on the large MLP
 * (784-1024-1024-10), with dynamic batching on and off, at concurrency 1, 16 and 64, against
 * the physical limit: raw in-process onnxruntime throughput at the best batch size.
 *
 * The server runs as its own process (`node bin/mcml serve`, as deployed); wrk (C, one thread)
 * drives it, so the load generator takes as little as possible of the cores the server needs.
 * Single-row requests (one sample each, JSON or the binary tensor extension) measure the
 * per-request path and dynamic batching; client-batched requests (64 rows each, as Triton's
 * perf_analyzer -b 64) measure what the server adds to onnxruntime. Run `npm run build` first.
 *
 * Flags: --duration S (per run, default 6), --threads N (server intra-op threads, default 1 =
 * what `--threads auto` picks on 2 cores), --max-batch N (batching on, default 32 as in mcml serve).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { freePort, waitForPort } from '../test/helpers/process.js';
import { requireWrk, runWrk } from './wrk.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = join(ROOT, 'models', 'mlp-large.onnx');

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const DURATION = flag('duration', 6);
const THREADS = flag('threads', 1);
const MAX_BATCH = flag('max-batch', 32); // the server's default
const CLIENT_ROWS = 64;
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
  /** Rows per request. */
  rows: number;
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

interface RequestFile {
  /** A wrk Lua script that POSTs the body with its headers. */
  script: string;
  rows: number;
}

/** Writes the request body and a wrk script that sends it. */
async function requestFile(dir: string, rows: number, binary: boolean): Promise<RequestFile> {
  const data = new Float32Array(rows * 784);
  for (let r = 0; r < rows; r++) data.set(sample(r + 1), r * 784);
  let body: Buffer;
  const headers: Record<string, string> = {};
  if (binary) {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'input',
            datatype: 'FP32',
            shape: [rows, 784],
            parameters: { binary_data_size: data.byteLength },
          },
        ],
      }),
    );
    body = Buffer.concat([header, Buffer.from(data.buffer)]);
    headers['Content-Type'] = 'application/octet-stream';
    headers['Inference-Header-Content-Length'] = String(header.length);
  } else {
    body = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 784], data: Array.from(data) }],
      }),
    );
    headers['Content-Type'] = 'application/json';
  }
  const name = `rows${rows}-${binary ? 'binary' : 'json'}`;
  const bodyPath = join(dir, `${name}.body`);
  await writeFile(bodyPath, body);
  const script = join(dir, `${name}.lua`);
  await writeFile(
    script,
    [
      `local f = io.open(${JSON.stringify(bodyPath)}, "rb")`,
      'wrk.body = f:read("*a")',
      'f:close()',
      'wrk.method = "POST"',
      ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = "${v}"`),
      '',
    ].join('\n'),
  );
  return { script, rows };
}

async function load(
  url: string,
  mode: string,
  connections: number,
  file: RequestFile,
  duration = DURATION,
): Promise<LoadResult> {
  const target = `${url}/v2/models/mlp-large/infer`;
  const before = await inferenceStats(url);
  const result = await runWrk({ url: target, connections, seconds: duration, script: file.script });
  const after = await inferenceStats(url);
  return {
    mode,
    connections,
    rows: file.rows,
    ...result,
    rowsPerCall: (after.rows - before.rows) / Math.max(1, after.calls - before.calls),
    inferenceBusy: (after.seconds - before.seconds) / duration,
  };
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

async function main(): Promise<void> {
  await requireWrk('bench:serve');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `mcml serve benchmark: mlp-large 784-1024-1024-10, ${cpus().length} cores (${cpu}), Node ${process.version}, ` +
      `${DURATION}s per run, server intra-op threads ${THREADS}, wrk -t1, ` +
      `load average at start ${loadavg()[0]!.toFixed(1)}\n\n`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'mcml-bench-serve-'));
  try {
    const json = await requestFile(dir, 1, false);
    const binary = await requestFile(dir, 1, true);
    const batched = await requestFile(dir, CLIENT_ROWS, true);

    const results: LoadResult[] = [];
    const modes: [string, number, RequestFile][] = [
      ['batch off, JSON', 1, json],
      ['batch off, binary', 1, binary],
      [`batch<=${MAX_BATCH}, JSON`, MAX_BATCH, json],
      [`batch<=${MAX_BATCH}, binary`, MAX_BATCH, binary],
    ];
    for (const [mode, maxBatch, file] of modes) {
      await withServer(maxBatch, async (url) => {
        await load(url, mode, 16, file, 2); // warm-up, discarded
        for (const c of CONCURRENCY) results.push(await load(url, mode, c, file));
      });
    }
    // Client-batched requests: a batch of two requests per session call.
    const clientBatched: LoadResult[] = [];
    await withServer(2 * CLIENT_ROWS, async (url) => {
      const mode = `${CLIENT_ROWS} rows/request, binary`;
      await load(url, mode, 8, batched, 2);
      for (const c of [2, 8]) clientBatched.push(await load(url, mode, c, batched));
    });

    const raw = await rawThroughput(1);
    const raw2 = await rawThroughput(2);
    const rawSame = (THREADS === 1 ? raw : raw2).reduce((a, b) =>
      b.perSecond > a.perSecond ? b : a,
    );
    const best = [...raw, ...raw2].reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const bestThreads = raw.includes(best) ? 1 : 2;

    process.stdout.write(
      `${pad('mode', 26)}${pad('conc', 6, true)}${pad('req/s', 9, true)}${pad('rows/s', 9, true)}${pad('p50 ms', 9, true)}${pad('p99 ms', 9, true)}${pad('errors', 8, true)}${pad('rows/call', 11, true)}${pad('ort busy', 10, true)}\n`,
    );
    for (const r of [...results, ...clientBatched]) {
      process.stdout.write(
        `${pad(r.mode, 26)}${pad(String(r.connections), 6, true)}${pad(r.rps.toFixed(0), 9, true)}` +
          `${pad((r.rps * r.rows).toFixed(0), 9, true)}` +
          `${pad(r.p50.toFixed(1), 9, true)}${pad(r.p99.toFixed(1), 9, true)}${pad(String(r.errors), 8, true)}` +
          `${pad(r.rowsPerCall.toFixed(1), 11, true)}${pad(`${(r.inferenceBusy * 100).toFixed(0)}%`, 10, true)}\n`,
      );
    }
    process.stdout.write(`\nraw in-process onnxruntime (samples/s, nothing else running):\n`);
    for (const [label, rows] of [
      ['threads=1', raw],
      ['threads=2', raw2],
    ] as const) {
      process.stdout.write(
        `  ${label}: ${rows.map((r) => `b${r.batch} ${r.perSecond.toFixed(0)}`).join(', ')}\n`,
      );
    }
    const at64 = (mode: string) => results.find((r) => r.mode === mode && r.connections === 64)!;
    const ratio = (on: string, off: string) => at64(on).rps / at64(off).rps;
    const binaryRatio = ratio(`batch<=${MAX_BATCH}, binary`, 'batch off, binary');
    const jsonRatio = ratio(`batch<=${MAX_BATCH}, JSON`, 'batch off, JSON');
    const bestServer = Math.max(...[...results, ...clientBatched].map((r) => r.rps * r.rows));
    const bestSingle = Math.max(...results.map((r) => r.rps));
    const pct = (n: number) => `${(n * 100).toFixed(0)}%`;
    process.stdout.write(`\nload average at end ${loadavg()[0]!.toFixed(1)}\n\n`);
    process.stdout.write(
      `batching vs batch size 1 at c=64, same encoding: binary ${binaryRatio.toFixed(2)}x, JSON ${jsonRatio.toFixed(2)}x (target >= 3x)\n` +
        `server vs raw in-process, best server ${bestServer.toFixed(0)} rows/s:\n` +
        `  vs raw with the server's ${THREADS} thread(s) (best: b${rawSame.batch}, ${rawSame.perSecond.toFixed(0)}/s): ${pct(bestServer / rawSame.perSecond)} (target >= 70%)\n` +
        `  vs the best raw (threads=${bestThreads}, b${best.batch}, ${best.perSecond.toFixed(0)}/s, both cores to onnxruntime alone): ${pct(bestServer / best.perSecond)}\n` +
        `  single-row requests (best ${bestSingle.toFixed(0)} req/s): ${pct(bestSingle / rawSame.perSecond)} and ${pct(bestSingle / best.perSecond)}\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
