/**
 * npm run bench:deploy-cli — what a user waits for: the built CLI (`mcml deploy`, then
 * `mcml deploy status`) on three Kubernetes API server doubles, start-up included, against the
 * reference exercise's loop (`kubectl apply --server-side -k` of the rendered overlay +
 * `kubectl rollout status` per context, then `kubectl get deployment` per context). Each run
 * changes the model, so every deploy is a real rolling update (the doubles take
 * BENCH_ROLLOUT_MS, default 200 ms, to roll one out). Runs alternate; medians and spreads are
 * printed. bench:deploy measures the rollout engine in-process at 3 and 30 clusters; this one
 * adds what a process pays to start (and keeps V8's code cache warm, as a user's second run
 * would: the first run is left out).
 *
 *   BENCH_RUNS=5 [BENCH_MCML_BIN=other/bin/mcml] npm run bench:deploy-cli
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { CONTEXTS, NS, specText, threeClusters, type Target } from '../test/cli/deploy-clusters.js';
import { repo } from '../test/cli/run.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const run = promisify(execFile);
/** BENCH_MCML_BIN=path: another build's launcher (to compare builds). */
const BIN = process.env.BENCH_MCML_BIN ?? join(repo, 'bin/mcml');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  // One set of clusters per tool, as two teams would have (their field managers differ).
  const [c, k] = await Promise.all([threeClusters(), threeClusters()]);
  const mcmlIn = (clusters: typeof c) => (args: string[]) =>
    run(process.execPath, [BIN, ...args], {
      cwd: clusters.dir,
      env: { ...process.env, ...clusters.env, NO_COLOR: '1' },
    });
  const mcml = mcmlIn(c);
  const render = mcmlIn(k);
  const kubectl = (args: string[]) =>
    run('kubectl', args, { cwd: k.dir, env: { ...process.env, ...k.env } });
  const targets = Object.keys(CONTEXTS) as Target[];
  const times: Record<string, number[]> = {};
  const add = (k: string, ms: number) => (times[k] ??= []).push(ms);
  try {
    for (let i = 0; i <= RUNS; i++) {
      // mcml: the spec names the new model; deploy renders, applies and rolls it out.
      writeFileSync(join(c.dir, 'mcml.yaml'), specText({ model: `iris-${i}.onnx` }));
      const deploy = await timed(() => mcml(['deploy', '-f', 'mcml.yaml', '--json']));
      const status = await timed(() => mcml(['deploy', 'status', '-f', 'mcml.yaml']));
      // kubectl: render (not timed: done once by hand), then the loop over contexts.
      writeFileSync(join(k.dir, 'mcml.yaml'), specText({ model: `iris-${i}-b.onnx` }));
      await render(['render', '-f', 'mcml.yaml', '-o', 'out', '--force']);
      const loop = await timed(async () => {
        for (const t of targets) {
          const overlay = join('out', 'k8s', 'overlays', t);
          await kubectl(['--context', CONTEXTS[t], 'apply', '--server-side', '-k', overlay]);
          await kubectl([
            ...['--context', CONTEXTS[t], '-n', NS, 'rollout', 'status'],
            ...['deployment/ml-inference', '--timeout=5m'],
          ]);
        }
      });
      const get = await timed(async () => {
        for (const t of targets)
          await kubectl(['--context', CONTEXTS[t], '-n', NS, 'get', 'deployment', '-o', 'wide']);
      });
      if (i === 0) continue; // the first run writes the code cache
      add('deploy mcml', deploy);
      add('deploy kubectl', loop);
      add('status mcml', status);
      add('status kubectl', get);
    }
  } finally {
    await Promise.all([c.stop(), k.stop()]);
  }
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(`bench:deploy-cli — three clusters, ${RUNS} alternating runs, load ${load}`);
  console.log(
    '| what | mcml median s | spread s | kubectl loop median s | spread s | kubectl / mcml |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const what of ['deploy', 'status']) {
    const m = times[`${what} mcml`]!;
    const k = times[`${what} kubectl`]!;
    const spread = (xs: number[]) =>
      `${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)}`;
    console.log(
      `| ${what} | ${(median(m) / 1000).toFixed(2)} | ${spread(m)} | ${(median(k) / 1000).toFixed(2)} | ${spread(k)} | ${(median(k) / median(m)).toFixed(2)}× |`,
    );
  }
}

await main();
