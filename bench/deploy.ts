/**
 * npm run bench:deploy — apply + rollout of the rendered service to 3 and to 30 clusters
 * (Kubernetes API server doubles whose controller takes a fixed time to roll a Deployment
 * out), by mcml's rollout engine (every cluster at once, one wave) and by the reference
 * exercise's way: `kubectl apply --server-side` + `kubectl rollout status` in a loop over the
 * contexts. Each run changes the image, so every run is a real rolling update. Runs alternate;
 * medians are printed, with the wall time over the slowest single cluster (target ≤ 1.2×) and
 * the requests each tool sent per cluster.
 *
 * The doubles run in child processes (test/doubles/kube-fleet.ts), one per core, each serving a
 * slice of the fleet, so the client's own work is what the clock sees and no double waits on
 * another's event loop. They still share this machine's cores: the CPU
 * columns give mcml's and the doubles' CPU time per cluster, and the floor no schedule can beat
 * while both need the machine's every core, and the TLS connections mcml opened per cluster.
 * BENCH_DETAIL=1 lists one cluster's requests; BENCH_KUBECTL=0 leaves the kubectl loop out
 * (quick iterations); BENCH_PROFILE_DIR=dir has the doubles' process write a CPU profile there
 * (run the bench itself with `node --cpu-prof --cpu-prof-dir=dir --import tsx bench/deploy.ts`).
 *
 *   BENCH_SIZES=3,30 BENCH_RUNS=3 BENCH_ROLLOUT_MS=1000 npm run bench:deploy
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { KubernetesCluster } from '../src/adapters/kubernetes/index.js';
import { runDeploy, targetObjects, type DeployTarget } from '../src/engines/deploy/index.js';
import { systemClock } from '../src/engines/failover/clock.js';
import type { ClusterObject } from '../src/ports/cluster.js';
import { kubeconfigYaml, type RequestRecord } from '../test/doubles/kube-apiserver.js';
import { startKubeFleet } from '../test/doubles/kube-fleet.js';
import { examplePlan } from '../test/render/fixtures.js';

const SIZES = (process.env.BENCH_SIZES ?? '3,30').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ROLLOUT_MS = Number(process.env.BENCH_ROLLOUT_MS ?? 1000);
const DETAIL = process.env.BENCH_DETAIL === '1';
/** BENCH_KUBECTL=0 leaves out the kubectl loop (quick iterations on mcml alone). */
const KUBECTL = process.env.BENCH_KUBECTL !== '0';
/** BENCH_PROFILE_DIR=dir: the API doubles' process writes a --cpu-prof there when it stops. */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const run = promisify(execFile);

const base = targetObjects(examplePlan('three-clouds').files, 'aws-use1');
const NS = base.find((o) => o.kind === 'Namespace')!.metadata.name;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The rendered objects with the service's image at `tag`. */
function objectsAt(tag: string): ClusterObject[] {
  return JSON.parse(
    JSON.stringify(base).replaceAll('ghcr.io/mcml-dev/mcml:0.1.0', `ghcr.io/mcml-dev/mcml:${tag}`),
  ) as ClusterObject[];
}

interface Fleet {
  contexts: string[];
  /** The API doubles' process CPU so far, ms. */
  cpuMs(): number;
  kubeconfigFile: string;
  kubeconfig: KubeConfig;
  requests(): Promise<RequestRecord[]>;
  connections(): Promise<number>;
  stop(): Promise<void>;
}

/** N API doubles in child processes of their own: the client's CPU is what is measured. */
async function fleet(n: number, dir: string, name: string): Promise<Fleet> {
  const doubles = await startKubeFleet({
    name,
    size: n,
    rolloutDelayMs: ROLLOUT_MS,
    ...(PROFILE_DIR ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] } : {}),
  });
  const contexts = doubles.members.map((m) => m.name);
  const text = kubeconfigYaml(
    doubles.members.map((m) => ({ context: m.name, server: m.server, token: m.token })),
  );
  const kubeconfigFile = join(dir, `${name}.kubeconfig`);
  writeFileSync(kubeconfigFile, text);
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromString(text);
  return {
    contexts,
    kubeconfigFile,
    kubeconfig,
    requests: () => doubles.requests(),
    connections: () => doubles.connections(),
    cpuMs: () => doubles.cpuMs(),
    stop: () => doubles.stop(),
  };
}

/** What one tool sent to the first cluster in one run, by method and path, for BENCH_DETAIL=1. */
function breakdown(records: RequestRecord[], cluster: string): string {
  const counts = new Map<string, number>();
  for (const r of records.filter((x) => x.cluster === cluster)) {
    const key = `${r.method} ${r.path}${r.query.includes('watch=true') ? ' (watch)' : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, c]) => `    ${c} × ${k}`).join('\n');
}

/**
 * When each cluster's Deployment went out (ms after the run's first request: first, median and
 * last cluster) and when the run's last request came, for BENCH_DETAIL=1: the rollout delay
 * starts at the Deployment, so the last cluster's is what the wall time waits on.
 */
function timeline(records: RequestRecord[]): string {
  if (records.length === 0) return '';
  const t0 = Math.min(...records.map((r) => r.at));
  const at = (r: RequestRecord) => Math.round(r.at - t0);
  const deployments = records
    .filter((r) => r.method === 'PATCH' && r.path.includes('/deployments/'))
    .map(at)
    .sort((a, b) => a - b);
  const last = Math.max(...records.map(at));
  return `  mcml: Deployments applied at ${deployments[0]} / ${median(deployments)} / ${deployments[deployments.length - 1]} ms (first / median / last cluster), last request at ${last} ms`;
}

/**
 * mcml: every cluster in one wave; returns wall ms, the slowest cluster's own time, and the
 * CPU ms spent by mcml (this process) and by the API doubles (their process) meanwhile.
 */
async function mcmlRun(
  f: Fleet,
  tag: string,
): Promise<{ wall: number; slowest: number; clientCpu: number; serverCpu: number }> {
  const objects = objectsAt(tag);
  const targets: DeployTarget[] = f.contexts.map((context) => ({
    name: context,
    tier: 1,
    cluster: new KubernetesCluster({ target: context, context, kubeconfig: f.kubeconfig }),
    set: { name: 'ml-inference', namespace: NS, objects },
  }));
  const started = new Map<string, number>();
  const took: number[] = [];
  const cpu0 = process.cpuUsage();
  const server0 = f.cpuMs();
  const t0 = performance.now();
  const report = await runDeploy(targets, {
    clock: systemClock,
    waves: [targets.map((t) => t.name)],
    onEvent: (e) => {
      if (e.type !== 'phase') return;
      if (e.phase === 'connecting' && !started.has(e.target))
        started.set(e.target, performance.now());
      if (e.phase === 'done') took.push(performance.now() - started.get(e.target)!);
    },
  });
  const wall = performance.now() - t0;
  const used = process.cpuUsage(cpu0);
  const clientCpu = (used.user + used.system) / 1000;
  const serverCpu = f.cpuMs() - server0;
  await Promise.all(targets.map((t) => t.cluster.close()));
  if (!report.ok) {
    const bad = report.targets.filter((o) => o.phase !== 'done');
    throw new Error(`mcml deploy failed: ${JSON.stringify(bad.slice(0, 3))}`);
  }
  return { wall, slowest: Math.max(...took), clientCpu, serverCpu };
}

/** The reference exercise: apply and wait, one context after the other. */
async function kubectlRun(f: Fleet, tag: string, dir: string): Promise<number> {
  const file = join(dir, `manifests-${tag}.yaml`);
  writeFileSync(
    file,
    objectsAt(tag)
      .map((o) => stringify(o))
      .join('---\n'),
  );
  const env = { ...process.env, KUBECONFIG: f.kubeconfigFile, HOME: dir };
  const t0 = performance.now();
  for (const context of f.contexts) {
    await run('kubectl', ['--context', context, 'apply', '--server-side', '-f', file], { env });
    await run(
      'kubectl',
      [
        '--context',
        context,
        '-n',
        NS,
        'rollout',
        'status',
        'deployment/ml-inference',
        '--timeout=5m',
      ],
      { env },
    );
  }
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mcml-bench-deploy-'));
  console.log(
    `bench:deploy — rollout delay ${ROLLOUT_MS} ms per cluster, ${RUNS} alternating runs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    '| clusters | mcml wall s | one cluster alone s | wall / one alone | slowest target in the run s | kubectl loop s | kubectl / mcml | requests per cluster mcml | kubectl | TLS connections per cluster mcml | mcml CPU ms per cluster | API doubles CPU ms per cluster | CPU floor s (both CPUs / cores) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  try {
    for (const n of SIZES) {
      const m = await fleet(n, dir, 'm');
      const k = await fleet(n, dir, 'k');
      const one = await fleet(1, dir, 's');
      // The first apply creates everything; what is measured is the update after it.
      await mcmlRun(m, 'warm');
      await mcmlRun(one, 'warm');
      if (KUBECTL) await kubectlRun(k, 'warm', dir);
      const walls: number[] = [];
      const slowest: number[] = [];
      const inRun: number[] = [];
      const loops: number[] = [];
      const mReq: number[] = [];
      const mConn: number[] = [];
      const clientCpu: number[] = [];
      const serverCpu: number[] = [];
      const kReq: number[] = [];
      let mDetail = '';
      const mTimes: string[] = [];
      let kDetail = '';
      for (let i = 0; i < RUNS; i++) {
        const tag = `r${i}`;
        const order = i % 2 === 0 ? ['mcml', 'one', 'kubectl'] : ['kubectl', 'one', 'mcml'];
        for (const who of order) {
          if (who === 'mcml') {
            const before = (await m.requests()).length;
            const connected = await m.connections();
            const r = await mcmlRun(m, tag);
            walls.push(r.wall);
            inRun.push(r.slowest);
            clientCpu.push(r.clientCpu);
            serverCpu.push(r.serverCpu);
            const after = await m.requests();
            mReq.push((after.length - before) / n);
            mConn.push(((await m.connections()) - connected) / n);
            if (DETAIL && i === 0) mDetail = breakdown(after.slice(before), m.contexts[0]!);
            if (DETAIL) mTimes.push(timeline(after.slice(before)));
          } else if (who === 'one') {
            slowest.push((await mcmlRun(one, tag)).wall);
          } else if (KUBECTL) {
            const before = (await k.requests()).length;
            loops.push(await kubectlRun(k, tag, dir));
            const after = await k.requests();
            kReq.push((after.length - before) / n);
            if (DETAIL && i === 0) kDetail = breakdown(after.slice(before), k.contexts[0]!);
          }
        }
      }
      const wall = median(walls);
      const slow = median(slowest);
      const loop = median(loops);
      const client = median(clientCpu);
      const server = median(serverCpu);
      // With every CPU of this machine busy, no schedule finishes sooner than this.
      const floor = (client + server) / availableParallelism();
      console.log(
        `| ${n} | ${(wall / 1000).toFixed(2)} | ${(slow / 1000).toFixed(2)} | ${(wall / slow).toFixed(2)}× | ${(median(inRun) / 1000).toFixed(2)} | ${(loop / 1000).toFixed(2)} | ${(loop / wall).toFixed(1)}× | ${median(mReq).toFixed(0)} | ${median(kReq).toFixed(0)} | ${median(mConn).toFixed(1)} | ${(client / n).toFixed(0)} | ${(server / n).toFixed(0)} | ${(floor / 1000).toFixed(2)} |`,
      );
      if (DETAIL)
        console.log(
          `  mcml, one cluster:\n${mDetail}\n${mTimes.join('\n')}\n  kubectl, one cluster:\n${kDetail}`,
        );
      await m.stop();
      await k.stop();
      await one.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `load after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

await main();
