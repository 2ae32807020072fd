/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects and Prometheus configs parsed from YAML */
/**
 * The rendered monitoring of the in-cluster front doors, end to end on real Prometheus servers
 * (Debian's `prometheus`): for two clusters, the front door runs as its kubelet would run it
 * (argv composed from the Dockerfile and the built overlay, its spec from the ConfigMap), a
 * "cluster" Prometheus runs the rendered k8s/base/prometheus-cluster.yml, and the global
 * Prometheus runs the rendered monitoring/prometheus.yml and rules.yml, federating each
 * cluster through a stand-in for the API server's service proxy (the path kubectl proxy
 * forwards). Only what cannot exist here is replaced: cluster DNS (the headless Service's
 * answer becomes the front door's address, the in-cluster service URL a local upstream) and the
 * fixed kubectl-proxy ports. Every tier is then killed and McmlFrontDoorNoTier must fire for
 * both front doors from their scraped series; one front door is killed and McmlFrontDoorDown
 * must fire for it. Every server listens on 127.0.0.1 and is stopped by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { render } from '../../src/core/render/index.js';
import { startUpstream, type Upstream } from '../failover/upstreams.js';
import { freePort, startServer, type RunningServer } from '../helpers/process.js';
import { PROMETHEUS_HINT, promApi, until, type PromAlert } from '../helpers/prometheus.js';
import { frontDoorCommand, readImageConfig } from '../production/kubelet.js';
import { buildOverlays } from '../production/rendered.js';
import { loadSpec, REPO, threeCloudsPlan } from './fixtures.js';

type Obj = Record<string, any>;

const SCRAPE_S = 1;
const DOWN_FOR_S = 4;
/** The two clusters whose front doors run here (azure-tertiary's stays unreachable). */
const CLUSTERS = ['aws-primary', 'gcp-secondary'] as const;
const IN_CLUSTER = 'http://ml-inference.ml-inference.svc.cluster.local';
const PUBLIC: Record<string, string> = {
  'aws-primary': 'https://aws.ml.example.com',
  'gcp-secondary': 'http://34.120.10.20',
};

const scratch = mkdtempSync(join(tmpdir(), 'mcml-fd-prom-'));
const stops: (() => Promise<unknown>)[] = [];
const upstreams: Record<string, Upstream> = {};
const frontDoors: Record<string, ChildProcess> = {};
let globalProm: RunningServer;

/** The rendered fixture in front-door mode, scraped every second, alerting after 4 s. */
function rendered(): Record<string, string> {
  const spec = loadSpec('three-clouds.yaml', (t) =>
    t
      .replace(
        'mode: both',
        'mode: front-door\n  check: { interval: 300ms, timeout: 2s, failureThreshold: 2 }',
      )
      .replace('scrapeInterval: 15s', `scrapeInterval: ${SCRAPE_S}s`)
      .replace('  alerts:\n', `  alerts:\n    downFor: ${DOWN_FOR_S}s\n`),
  );
  return render(spec, threeCloudsPlan(spec)).files;
}

/** Starts a cluster's front door as its kubelet would: ConfigMap mounted, argv composed. */
async function startFrontDoor(target: string, objects: Obj[]): Promise<number> {
  const image = readImageConfig(join(REPO, 'Dockerfile'));
  const root = join(scratch, target);
  const port = await freePort();
  const { env, argv } = frontDoorCommand(image, objects, root, {
    // What cluster DNS and the other clusters' load balancers would answer.
    rewrite: (text) =>
      Object.entries(PUBLIC).reduce(
        (t, [name, url]) => t.replaceAll(url, upstreams[name]!.url),
        text.replace(IN_CLUSTER, upstreams[target]!.url),
      ),
    flags: { '--port': String(port), '--host': '127.0.0.1' },
  });
  expect(env.TARGET).toBe(target);
  const [bin, ...args] = argv;
  const child = spawn(bin === 'node' ? process.execPath : bin!, args, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: join(root, 'home'), ...env },
    stdio: 'ignore',
    detached: true,
  });
  frontDoors[target] = child;
  stops.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  });
  await until(
    `${target}'s front door answering`,
    () =>
      fetch(`http://127.0.0.1:${port}/_mcml/status`).then(
        (r) => r.status,
        () => 0,
      ),
    (s) => s === 200,
  );
  return port;
}

/**
 * The rendered cluster Prometheus config with the front door job only, its DNS discovery of
 * the headless Service replaced by the address it would answer (the service's own pods and
 * GPU exporters do not run here).
 */
function clusterConfig(text: string, frontDoorPort: number): string {
  const cfg = parseYaml(text);
  const job = cfg.scrape_configs.find((j: Obj) => j.job_name === 'mcml-front-door');
  expect(job.dns_sd_configs[0].names).toEqual([
    'mcml-front-door-pods.ml-inference.svc.cluster.local',
  ]);
  delete job.dns_sd_configs;
  job.static_configs = [{ targets: [`127.0.0.1:${frontDoorPort}`] }];
  cfg.scrape_configs = [job];
  return stringify(cfg);
}

/** What the API server's service proxy does for the federation path: forward to Prometheus. */
async function serviceProxy(prometheusPort: number): Promise<number> {
  const path = '/api/v1/namespaces/ml-inference/services/mcml-prometheus:9090/proxy/federate';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== path) {
      res.writeHead(404).end();
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: prometheusPort, path: `/federate${url.search}` },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    upstream.end();
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  stops.push(() => new Promise((r) => server.close(r)));
  return port;
}

async function startPrometheus(
  name: string,
  config: string,
  rules?: string,
): Promise<RunningServer> {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), config);
  if (rules !== undefined) writeFileSync(join(dir, 'rules.yml'), rules);
  const port = await freePort();
  const prom = await startServer(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--log.level=warn',
    ],
    port,
    { timeoutMs: 60_000, installHint: PROMETHEUS_HINT },
  );
  stops.push(() => prom.stop());
  // The port opens before the TSDB and rules are loaded: the API answers 503 until ready.
  await until(
    `${name} Prometheus ready`,
    () =>
      fetch(`http://127.0.0.1:${port}/-/ready`).then(
        (r) => r.status,
        () => 0,
      ),
    (s) => s === 200,
  );
  return prom;
}

const api = promApi;

const query = (promql: string) =>
  api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
    globalProm,
    `/api/v1/query?query=${encodeURIComponent(promql)}`,
  ).then((d) => d.result);

const alerts = async (name: string): Promise<PromAlert[]> =>
  (await api<{ alerts: PromAlert[] }>(globalProm, '/api/v1/alerts')).alerts.filter(
    (a) => a.labels.alertname === name,
  );

const firingFor = (list: PromAlert[]) =>
  list
    .filter((a) => a.state === 'firing')
    .map((a) => a.labels.front_door)
    .sort();

beforeAll(async () => {
  const files = rendered();
  const built = buildOverlays(files);
  for (const name of CLUSTERS) {
    upstreams[name] = await startUpstream(name);
    stops.push(() => upstreams[name]!.stop());
  }
  const proxyPorts: number[] = [];
  for (const name of CLUSTERS) {
    const objects = built[`k8s/overlays/${name}`]!;
    const fdPort = await startFrontDoor(name, objects);
    // The cluster Prometheus's config as the overlay ships it (its ConfigMap).
    const cm = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('mcml-prometheus-'),
    )!;
    const cluster = await startPrometheus(
      `cluster-${name}`,
      clusterConfig(cm.data['prometheus.yml'] as string, fdPort),
    );
    proxyPorts.push(await serviceProxy(cluster.port));
  }
  // The global config as rendered; only the local kubectl-proxy ports move (azure-tertiary's
  // to a port nothing listens on: its cluster cannot be reached).
  const unreachable = await freePort();
  const globalConfig = files['monitoring/prometheus.yml']!.replace(
    /127\.0\.0\.1:1800([123])/g,
    (_, i: string) => `127.0.0.1:${proxyPorts[Number(i) - 1] ?? unreachable}`,
  );
  globalProm = await startPrometheus('global', globalConfig, files['monitoring/rules.yml']);
}, 300_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe('a real Prometheus on the rendered front door monitoring', { timeout: 300_000 }, () => {
  it('federates every front door with the cluster it runs in, and fires the front door alerts', async () => {
    // Each front door's view of each target arrives federated: the upstream's target and cloud
    // kept, the cluster it runs in added.
    const seen = await until(
      'both front doors federated',
      () => query('mcml_target_up{job="mcml-front-door"} == 1'),
      (r) => r.length === 4,
    );
    expect(
      seen
        .map((s) => [
          s.metric.front_door,
          s.metric.front_door_cloud,
          s.metric.target,
          s.metric.cloud,
        ])
        .sort(),
    ).toEqual([
      ['aws-primary', 'aws', 'aws-primary', 'aws'],
      ['aws-primary', 'aws', 'gcp-secondary', 'gcp'],
      ['gcp-secondary', 'gcp', 'aws-primary', 'aws'],
      ['gcp-secondary', 'gcp', 'gcp-secondary', 'gcp'],
    ]);
    // Each front door prefers its own cluster's target.
    const active = await until(
      'each front door active on its own target',
      () => query('mcml_active_target{job="mcml-front-door"} == 1'),
      (r) => r.length === 2,
    );
    expect(active.map((s) => [s.metric.front_door, s.metric.target]).sort()).toEqual([
      ['aws-primary', 'aws-primary'],
      ['gcp-secondary', 'gcp-secondary'],
    ]);
    // With both up, their McmlFrontDoorDown is inactive (it may have fired while the global
    // Prometheus started before a cluster was first federated); azure's cluster cannot be
    // reached, so its McmlFrontDoorDown fires.
    const before = await until(
      'McmlFrontDoorDown for the unreachable azure-tertiary only',
      () => alerts('McmlFrontDoorDown'),
      (a) => a.length === 1 && firingFor(a).join() === 'azure-tertiary',
    );
    expect(before[0]!.labels).toMatchObject({ cloud: 'azure', target: 'azure-tertiary' });
    expect(await alerts('McmlFrontDoorNoTier')).toEqual([]);

    // Every tier goes down: both front doors are left with nowhere to send traffic.
    const killedAt = Date.now();
    for (const name of CLUSTERS) await upstreams[name]!.kill();
    const noTier = await until(
      'McmlFrontDoorNoTier firing for both front doors',
      () => alerts('McmlFrontDoorNoTier'),
      (a) => firingFor(a).length === 2,
    );
    expect(firingFor(noTier)).toEqual(['aws-primary', 'gcp-secondary']);
    expect(noTier.find((a) => a.labels.front_door === 'gcp-secondary')!.labels).toMatchObject({
      severity: 'critical',
      cloud: 'gcp',
      target: 'gcp-secondary',
    });
    console.log(
      `McmlFrontDoorNoTier: pending ${Date.parse(noTier[0]!.activeAt) - killedAt} ms after the kill (health checks, two scrape levels), for: ${DOWN_FOR_S}s`,
    );

    // aws-primary's front door itself goes away: McmlFrontDoorDown fires for it.
    process.kill(-frontDoors['aws-primary']!.pid!, 'SIGKILL');
    const down = await until(
      'McmlFrontDoorDown firing for aws-primary',
      () => alerts('McmlFrontDoorDown'),
      (a) => firingFor(a).includes('aws-primary'),
    );
    expect(firingFor(down)).toEqual(['aws-primary', 'azure-tertiary']);
    expect(down.find((a) => a.labels.front_door === 'aws-primary')!.labels).toMatchObject({
      severity: 'critical',
      cloud: 'aws',
    });
  });
});
