/**
 * GPU smoke test: `mcml serve --device cuda` end to end on a machine with an NVIDIA GPU (a GPU
 * node, or a VM with the driver and CUDA 12 + cuDNN 9 libraries, as the image carries).
 *
 *   npm run build && npm run bench:gpu-smoke [-- --model path/to/model.onnx --requests 200]
 *
 * Checks, failing with exit 1 and the reason:
 *   1. nvidia-smi sees a GPU (else: this is not a GPU machine);
 *   2. `mcml serve --device cuda` starts (it exits 1 when the CUDA execution provider cannot
 *      load: it never falls back to CPU under --device cuda) and says so in its ready line;
 *   3. /metrics reports mcml_inference_device_info{device="cuda",requested="cuda"} 1;
 *   4. the server process holds GPU memory (nvidia-smi --query-compute-apps);
 *   5. inferences answer 200, with the same outputs as `--device cpu`.
 * Prints the median latency of both devices, measured alternately in one run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'mcml');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, 'models', 'iris.onnx') },
    requests: { type: 'string', default: '200' },
  },
});
const requests = Number(values.requests);

function fail(message: string): never {
  process.stderr.write(`gpu-smoke: FAIL: ${message}\n`);
  process.exit(1);
}

function ok(message: string): void {
  process.stdout.write(`gpu-smoke: ok   ${message}\n`);
}

interface Server {
  child: ChildProcess;
  url: string;
  devices: Record<string, string>;
  output(): string;
}

function startServe(device: 'cuda' | 'cpu'): Promise<Server> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--model', `m=${values.model}`, '--device', device, '--port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  return new Promise((resolveStart, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as {
          msg?: string;
          url?: string;
          devices?: Record<string, string>;
        };
        if (entry.msg === 'ready' && entry.url && entry.devices) {
          child.stdout.off('data', onData);
          resolveStart({ child, url: entry.url, devices: entry.devices, output: () => out });
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) =>
      reject(new Error(`mcml serve --device ${device} exited with ${code}:\n${out}`)),
    );
  });
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

async function modelInput(
  url: string,
): Promise<{ name: string; datatype: string; shape: number[] }> {
  const meta = (await (await fetch(`${url}/v2/models/m`)).json()) as {
    inputs: { name: string; datatype: string; shape: number[] }[];
  };
  const input = meta.inputs[0]!;
  return { ...input, shape: input.shape.map((d) => (d < 0 ? 1 : d)) };
}

async function infer(
  url: string,
  input: { name: string; datatype: string; shape: number[] },
): Promise<{ ms: number; outputs: unknown }> {
  const size = input.shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: size }, (_, i) => ((i % 7) + 1) / 2);
  const started = performance.now();
  const res = await fetch(`${url}/v2/models/m/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ ...input, data }] }),
  });
  const body = (await res.json()) as { outputs?: unknown };
  const ms = performance.now() - started;
  if (res.status !== 200) fail(`inference answered ${res.status}: ${JSON.stringify(body)}`);
  return { ms, outputs: body.outputs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js')))
    fail('dist/ is missing: run npm run build');
  if (!existsSync(values.model)) fail(`${values.model} is missing: run npm run models`);
  const smi = spawnSync(
    'nvidia-smi',
    ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
    {
      encoding: 'utf8',
    },
  );
  if (smi.error || smi.status !== 0 || smi.stdout.trim() === '') {
    fail(
      'no NVIDIA GPU here: nvidia-smi is missing or lists no GPU. Run this on a machine with an NVIDIA GPU, its driver, and the CUDA 12 / cuDNN 9 runtime libraries (see docs/render.md, "GPU smoke test").',
    );
  }
  ok(`GPU: ${smi.stdout.trim().split('\n').join('; ')}`);

  const cuda = await startServe('cuda').catch((e: Error) => fail(e.message));
  const cpu = await startServe('cpu').catch(async (e: Error) => {
    await stop(cuda);
    return fail(e.message);
  });
  try {
    if (cuda.devices.m !== 'cuda')
      fail(`--device cuda runs on ${cuda.devices.m}:\n${cuda.output()}`);
    ok('mcml serve --device cuda started and reports device cuda');
    const metrics = await (await fetch(`${cuda.url}/metrics`)).text();
    if (
      !/mcml_inference_device_info\{[^}]*device="cuda"[^}]*requested="cuda"[^}]*\} 1/.test(metrics)
    ) {
      fail('/metrics does not report mcml_inference_device_info{device="cuda",requested="cuda"} 1');
    }
    ok('/metrics: mcml_inference_device_info{device="cuda",requested="cuda"} 1');
    const apps = spawnSync(
      'nvidia-smi',
      ['--query-compute-apps=pid,used_memory', '--format=csv,noheader'],
      {
        encoding: 'utf8',
      },
    );
    const pids = apps.stdout.split('\n').map((l) => Number(l.split(',')[0]));
    if (!pids.includes(cuda.child.pid!)) {
      fail(
        `nvidia-smi shows no GPU memory held by the server (pid ${cuda.child.pid}):\n${apps.stdout}`,
      );
    }
    ok(`the server (pid ${cuda.child.pid}) holds GPU memory`);

    const input = await modelInput(cuda.url);
    const first = [await infer(cuda.url, input), await infer(cpu.url, input)];
    const close = (a: unknown, b: unknown): boolean =>
      typeof a === 'number' && typeof b === 'number'
        ? Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(b))
        : Array.isArray(a) && Array.isArray(b)
          ? a.length === b.length && a.every((x, i) => close(x, b[i]))
          : a !== null && b !== null && typeof a === 'object' && typeof b === 'object'
            ? Object.keys(b).every((k) =>
                close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
              )
            : a === b;
    if (!close(first[0]!.outputs, first[1]!.outputs)) {
      fail(
        `cuda and cpu outputs differ:\n${JSON.stringify(first[0]!.outputs)}\n${JSON.stringify(first[1]!.outputs)}`,
      );
    }
    ok('cuda outputs match cpu outputs');
    const times = { cuda: [] as number[], cpu: [] as number[] };
    for (let i = 0; i < requests; i++) {
      times.cuda.push((await infer(cuda.url, input)).ms);
      times.cpu.push((await infer(cpu.url, input)).ms);
    }
    process.stdout.write(
      `\n| device | requests | median ms |\n|---|---|---|\n| cuda | ${requests} | ${median(times.cuda).toFixed(2)} |\n| cpu | ${requests} | ${median(times.cpu).toFixed(2)} |\n`,
    );
    ok('GPU path works end to end');
  } finally {
    await Promise.all([stop(cuda), stop(cpu)]);
  }
}

await main();
