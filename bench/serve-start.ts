/**
 * `npm run bench:serve-start`: how long `mcml serve` takes to be ready with a large model, on
 * its first start and on a restart. Every start verifies the model file's sha256; a restart
 * finds it in the hash index (the file's stamp unchanged) instead of reading every byte again.
 *
 * The model is one MatMul with a float32 weight of --mib MiB (default 512), written to a temp
 * directory; both kinds of start read it from the page cache. Runs alternate (a first start
 * with an empty index, then a restart), --repeat times (default 3); medians are printed with the
 * spread, and the time to ready is measured from spawn to the "ready" log line. Run
 * `npm run build` first.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import onnxProto from 'onnx-proto';
import { spawnServe } from '../test/serve/spawn.js';

const { onnx } = onnxProto;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const MIB = flag('mib', 512);
const REPEAT = flag('repeat', 3);

/** y = x · W, W [side, side] float32 of about `mib` MiB (deterministic bytes). */
function bigModel(mib: number): Uint8Array {
  const side = Math.floor(Math.sqrt((mib * 1024 * 1024) / 4));
  const weights = new Float32Array(side * side);
  for (let i = 0; i < weights.length; i += 4099) weights[i] = (i % 97) / 97;
  const shape = (dims: (number | string)[]) => ({
    dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
  });
  const graph = {
    name: 'big',
    node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'], name: 'y' }],
    initializer: [
      {
        name: 'w',
        dims: [side, side],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(weights.buffer),
      },
    ],
    input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: shape(['batch', side]) } } }],
    output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: shape(['batch', side]) } } }],
  };
  const model = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'mcml bench',
    graph,
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Seconds from spawn to ready, and the "model ready" record. */
async function startOnce(
  model: string,
  indexDir: string,
): Promise<{ seconds: number; from: string; load: number; peakMiB: number }> {
  const t0 = performance.now();
  const server = await spawnServe(['--model', `big=${model}`], {
    MCML_HASH_INDEX_DIR: indexDir,
  });
  try {
    const seconds = (performance.now() - t0) / 1000;
    const ready = await server.waitForLog('model ready');
    // The server's peak resident memory so far (the kernel's high-water mark).
    const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8');
    const peakMiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    return { seconds, from: String(ready.sha256From), load: Number(ready.seconds), peakMiB };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mcml-bench-start-'));
  try {
    const model = join(dir, 'big.onnx');
    await writeFile(model, bigModel(MIB));
    const size = (await stat(model)).size;
    // The hash index does not record a file changed in the two seconds before it was read.
    await new Promise((r) => setTimeout(r, 2100));
    const runs: Record<'first' | 'restart', { seconds: number; load: number; peakMiB: number }[]> =
      {
        first: [],
        restart: [],
      };
    for (let i = 0; i < REPEAT; i++) {
      const index = join(dir, `index-${i}`);
      const first = await startOnce(model, index);
      const again = await startOnce(model, index);
      if (first.from !== 'read' || again.from !== 'index')
        throw new Error(`unexpected sha256 sources: ${first.from}, ${again.from}`);
      runs.first.push(first);
      runs.restart.push(again);
      console.log(
        `run ${i + 1}: first start ${first.seconds.toFixed(2)} s (model load ${first.load.toFixed(2)} s), ` +
          `restart ${again.seconds.toFixed(2)} s (model load ${again.load.toFixed(2)} s)`,
      );
    }
    console.log(
      `\nmcml serve, one ${(size / 2 ** 20).toFixed(0)} MiB model, ${REPEAT} alternating runs, load average ${loadavg()[0]!.toFixed(2)}:`,
    );
    console.log('| start | median s to ready | spread s | median model load s | peak RSS MiB |');
    console.log('|---|---:|---|---:|---:|');
    for (const [name, rs] of Object.entries(runs)) {
      const s = rs.map((r) => r.seconds);
      console.log(
        `| ${name === 'first' ? 'first (sha256 read from the file)' : 'restart (sha256 from the index)'} | ${median(s).toFixed(2)} | ${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)} | ${median(rs.map((r) => r.load)).toFixed(2)} | ${median(rs.map((r) => r.peakMiB)).toFixed(0)} |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
