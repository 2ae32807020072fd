/**
 * `mcml up`: the whole deployment on this machine. For a planned spec it fills each target's
 * bucket (model + data sets the plan sends there), runs each local target's replicas as real
 * `mcml serve` processes loading the model from that bucket (the local cluster driver keeps
 * them up and scales them), puts a service endpoint in front of each target, runs the
 * failover controller over those endpoints, and serves the front door, the dashboard, the
 * state API and one aggregated /metrics on one public port (the dashboard takes its paths
 * before the front door proxies the rest).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { McmlError } from '../../core/errors.js';
import { planFailover } from '../../core/failover/index.js';
import type { Placement, Plan } from '../../core/plan/types.js';
import type { Spec, Target } from '../../core/spec/index.js';
import { durationMs } from '../../core/spec/parse.js';
import { alertRules } from '../../core/render/monitoring.js';
import type { Clock } from '../../ports/clock.js';
import type { ObjectStore } from '../../ports/object-store.js';
import {
  startFailover,
  type FailoverLogEntry,
  type RunningFailover,
} from '../../engines/failover/index.js';
import { runDataSync, runSync, type DestinationReport } from '../../engines/sync/index.js';
import type { Jurisdiction } from '../../core/spec/index.js';
import { CostFeed, readBilledDays } from '../dashboard/costs.js';
import { createDashboardHandler } from '../dashboard/server.js';
import { dayOf } from '../../core/cost/range.js';
import type {
  DashboardState,
  EventView,
  SyncView,
  TargetView,
  TrafficResult,
} from '../dashboard/state.js';
import {
  LocalCluster,
  type AutoscalePolicy,
  type ClusterEvent,
  type LocalTargetConfig,
  type ReplicaLaunch,
} from './local-cluster.js';
import { escapeLabel, mergePrometheusText } from './prom-text.js';
import { systemClock } from './system-clock.js';
import { TargetService } from './target-service.js';
import { TrafficStats } from './traffic-stats.js';

/** What a replica needs to know to start. */
export interface ReplicaContext {
  port: number;
  target: string;
  cloud: string;
  region: string;
  modelName: string;
  /** The model in the target's own bucket. */
  modelUri: string;
}

export interface UpOptions {
  spec: Spec;
  plan: Plan;
  /** Directory relative paths in the spec resolve against (the spec file's). */
  baseDir: string;
  /** Where mcml up keeps its files: default buckets, prometheus.yml, events.jsonl. */
  stateDir: string;
  host: string;
  port: number;
  adminToken: string;
  /** The jurisdiction of a cloud region (from the catalog), for data residency. */
  jurisdictionOf: (cloud: string, region: string) => Jurisdiction | undefined;
  /** Opens a bucket (relative file paths against baseDir). */
  openStore: (uri: string) => Promise<ObjectStore>;
  /** The command for one replica (`mcml serve …` in production). */
  replicaCommand: (context: ReplicaContext) => ReplicaLaunch;
  clock?: Clock;
  /** How long replicas may take to become ready at start. */
  readyTimeoutMs?: number;
  /** Progress lines for the terminal while starting. */
  onProgress?: (message: string) => void;
  /** Every timeline event, for the terminal. */
  onEvent?: (event: EventView) => void;
  /** Options passed to the local cluster driver (tests shorten its timings). */
  cluster?: ConstructorParameters<typeof LocalCluster>[1];
}

/** A running `mcml up`. */
export interface RunningUp {
  /** The public URL: dashboard, front door and /metrics. */
  url: string;
  state(): DashboardState;
  cluster: LocalCluster;
  failover: RunningFailover;
  /** Path of the Prometheus scrape config written for this run. */
  prometheusConfig: string;
  close(): Promise<void>;
}

const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.2, 2.9, 4.3, 1.3],
  [7.7, 3.0, 6.1, 2.3],
  [4.9, 3.1, 1.5, 0.1],
  [5.9, 3.0, 5.1, 1.8],
];
const HISTORY_SECONDS = 120;
const MAX_EVENTS = 300;

/** Starts everything; on any failure stops what it started and rethrows. */
export async function startUp(options: UpOptions): Promise<RunningUp> {
  const clock = options.clock ?? systemClock;
  const { spec, plan } = options;
  const startedAt = clock.now();
  const progress = options.onProgress ?? (() => undefined);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
    cleanups.length = 0;
  };

  const events: EventView[] = [];
  const listeners = new Set<() => void>();
  const addEvent = (event: EventView) => {
    events.push(event);
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
    options.onEvent?.(event);
    for (const l of listeners) l();
  };
  const sync: SyncView[] = [];
  const placements = [...plan.placements].sort((a, b) => a.tier - b.tier);
  const targetsByName = new Map(spec.targets.map((t) => [t.name, t]));

  try {
    // 1. The public port first, so "port in use" fails before anything starts.
    const server = createServer();
    await listen(server, options.host, options.port);
    cleanups.push(() => closeServer(server));
    const { port } = server.address() as AddressInfo;
    const url = `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`;

    // 2. Remote targets must be reachable; local ones need nothing yet.
    await checkRemoteTargets(spec, placements);

    // 3. Buckets: the model and the data sets the plan sends to each target.
    const modelKey = `models/${spec.service.model.name}/${basename(spec.service.model.uri)}`;
    const stores = new Map<string, ObjectStore>();
    for (const p of placements) {
      const bucket = bucketOf(targetsByName.get(p.target)!, options.stateDir);
      if (bucket) stores.set(p.target, await options.openStore(bucket));
    }
    await syncBuckets({ spec, placements, stores, modelKey, sync, addEvent, progress, options });

    // 4. Local targets: replicas + a service endpoint each.
    const locals = placements.filter((p) => p.provider === 'local');
    const clusterTargets: LocalTargetConfig[] = locals.map((p) => {
      const store = stores.get(p.target)!;
      const modelUri = store.uri.replace(/\/?$/, '/') + modelKey;
      return {
        name: p.target,
        minReplicas: p.replicas.min,
        maxReplicas: Math.max(p.replicas.max, 1),
        initialReplicas: Math.max(1, p.replicas.min),
        readinessPath: spec.service.healthPath,
        metricsPath: '/metrics',
        autoscale: autoscalePolicy(spec),
        launch: (replicaPort) =>
          options.replicaCommand({
            port: replicaPort,
            target: p.target,
            cloud: p.cloud,
            region: p.region,
            modelName: spec.service.model.name,
            modelUri,
          }),
      };
    });
    const cluster = new LocalCluster(clusterTargets, {
      clock,
      intervalMs: 1000,
      ...options.cluster,
    });
    cluster.on((e) => addEvent(clusterEventView(e)));
    cleanups.push(() => cluster.stop());
    const services = new Map<string, TargetService>();
    for (const p of locals) {
      const service = new TargetService({
        target: p.target,
        endpoints: () => cluster.readyUrls(p.target),
        clock,
        maxBodyBytes: spec.failover.frontDoor.maxBodyBytes,
        quietPaths: ['/v2/health', '/health', '/metrics'],
      });
      await service.listen();
      cleanups.push(() => service.close());
      services.set(p.target, service);
    }
    progress(`starting ${locals.map((p) => `${p.replicas.min || 1} × ${p.target}`).join(', ')}`);
    await cluster.start();
    await cluster.waitReady({ timeoutMs: options.readyTimeoutMs ?? 90_000 });

    // 5. The failover controller over the targets' endpoints; its front door serves on the
    //    public port, after the dashboard (step 6) has had a look at each request.
    const routed: Spec = {
      ...spec,
      targets: spec.targets.map((t) => {
        const service = services.get(t.name);
        return service ? { ...t, endpoint: service.url } : t;
      }),
    };
    const jurisdictions = new Map(plan.placements.map((p) => [p.target, p.jurisdiction]));
    const byRegion = new Map(plan.placements.map((p) => [`${p.provider}/${p.region}`, p.target]));
    const failoverPlan = planFailover(routed, (t) =>
      jurisdictions.get(byRegion.get(`${t.provider}/${t.region}`) ?? ''),
    );
    await mkdir(options.stateDir, { recursive: true });
    const traffic = new TrafficStats();
    // Set in step 6; until then every request goes to the front door.
    const mounted: { dashboard?: (req: IncomingMessage, res: ServerResponse) => boolean } = {};
    const failover = await startFailover({
      spec: routed,
      plan: failoverPlan,
      clock,
      adminToken: options.adminToken,
      server,
      intercept: (req, res) => {
        if (mounted.dashboard?.(req, res)) return true;
        const started = performance.now();
        res.once('finish', () => {
          traffic.record(clock.now(), performance.now() - started, res.statusCode >= 500);
        });
        return false;
      },
      eventsFile: join(options.stateDir, 'events.jsonl'),
    });
    cleanups.push(() => failover.close());
    for (const entry of failover.events.tail(200)) {
      const view = failoverEventView(entry);
      if (view) addEvent(view);
    }
    failover.events.on('event', (entry) => {
      const view = failoverEventView(entry);
      if (view) addEvent(view);
    });

    // 6. State, actions and metrics for the dashboard.
    // The Costs view: billed days from the cost store, this run estimated live.
    const costFeed = new CostFeed({
      plan,
      startedAt,
      ...(spec.budget ? { budgetMonthly: spec.budget.monthly } : {}),
    });
    void readBilledDays(
      join(options.stateDir, 'cost.duckdb'),
      spec.service.name,
      dayOf(startedAt),
    ).then((b) => costFeed.setBilled(b.daily, b.source));

    const state = (): DashboardState => {
      const now = clock.now();
      const fo = failover.status();
      const clusterStatus = new Map(cluster.status().map((t) => [t.name, t]));
      const nowSec = Math.floor(now / 1000);
      const t = Array.from({ length: HISTORY_SECONDS }, (_, i) => nowSec - HISTORY_SECONDS + i);
      const series: Record<string, number[]> = {};
      const targets: TargetView[] = placements.map((p) => {
        const health = fo.targets.find((x) => x.name === p.target);
        const cs = clusterStatus.get(p.target);
        const service = services.get(p.target);
        const summary = service?.stats.summary(now);
        series[p.target] = service
          ? service.stats.history(now, HISTORY_SECONDS).map((h) => h.count)
          : t.map(() => 0);
        const bucket = targetsByName.get(p.target)?.bucket;
        return {
          name: p.target,
          provider: p.provider,
          cloud: p.cloud,
          region: p.region,
          tier: p.tier,
          instanceType: p.instanceType,
          capacity: p.capacity,
          health: health?.state ?? 'unknown',
          disabled: health?.disabled ?? false,
          active: fo.active === p.target,
          replicas: {
            ready: cs?.ready ?? 0,
            desired: cs?.desired ?? 0,
            min: p.replicas.min,
            max: p.replicas.max,
            restarts: cs?.replicas.reduce((a, r) => a + r.restarts, 0) ?? 0,
            pids: cs?.replicas.flatMap((r) => (r.pid === undefined ? [] : [r.pid])) ?? [],
          },
          endpoint: health?.endpoint ?? p.endpoint ?? '',
          ...(bucket ? { bucket } : {}),
          rps: summary?.rps ?? 0,
          errorRatio: summary?.errorRatio ?? 0,
          ...(summary?.p50Ms === undefined ? {} : { p50Ms: round2(summary.p50Ms) }),
          ...(summary?.p99Ms === undefined ? {} : { p99Ms: round2(summary.p99Ms) }),
          hourly: p.hourly,
          ...(health?.latencyMs === undefined ? {} : { checkLatencyMs: health.latencyMs }),
          ...(health?.lastError === undefined ? {} : { lastError: health.lastError }),
        };
      });
      costFeed.observe(
        now,
        targets.map((x) => ({ target: x.name, ready: x.replicas.ready })),
      );
      return {
        service: spec.service.name,
        model: spec.service.model.name,
        startedAt,
        now,
        frontDoor: url,
        routing: fo.routing,
        active: fo.active ?? null,
        totals: {
          hourly: plan.totals.hourly,
          monthly: plan.totals.monthly,
          rps: traffic.summary(now).rps,
        },
        targets,
        events: [...events],
        sync: sync.map((s) => ({ ...s })),
        traffic: { t, series },
        costs: costFeed.view(now),
      };
    };

    const metrics = async (): Promise<string> => {
      const pages: { text: string; labels: Record<string, string> }[] = [];
      const replicas = cluster.status().flatMap((t) => t.replicas);
      const texts = await Promise.all(
        replicas.map((r) =>
          r.state === 'ready' ? fetchText(`${r.url}/metrics`) : Promise.resolve(undefined),
        ),
      );
      replicas.forEach((r, i) => {
        const text = texts[i];
        const p = placements.find((x) => x.target === r.target)!;
        if (text) {
          pages.push({
            text,
            labels: { cloud: p.cloud, region: p.region, target: r.target, replica: r.id },
          });
        }
      });
      pages.push({ text: await failover.metrics.registry.metrics(), labels: {} });
      pages.push({ text: ownMetrics(cluster, placements, services, clock.now()), labels: {} });
      return mergePrometheusText(pages);
    };

    let trafficMeta: { input: string; datatype: string; shape: number[] } | undefined;
    const sendTraffic = async (count: number): Promise<TrafficResult> => {
      trafficMeta ??= await modelInput(url, spec.service.model.name);
      const meta = trafficMeta;
      const started = performance.now();
      const result: TrafficResult = { sent: count, ok: 0, failed: 0, byTarget: {}, ms: 0 };
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          try {
            const res = await fetch(`${url}/v2/models/${spec.service.model.name}/infer`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(inferBody(meta, i)),
              signal: AbortSignal.timeout(10_000),
            });
            await res.arrayBuffer();
            if (res.ok) result.ok += 1;
            else result.failed += 1;
            const by = res.headers.get('x-mcml-target') ?? 'none';
            result.byTarget[by] = (result.byTarget[by] ?? 0) + 1;
          } catch {
            result.failed += 1;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, count) }, worker));
      result.ms = Math.round(performance.now() - started);
      return result;
    };

    mounted.dashboard = createDashboardHandler({
      adminToken: options.adminToken,
      allowedHosts: [options.host, ...spec.failover.frontDoor.allowedHosts],
      backend: {
        state,
        metrics,
        sendTraffic,
        fail: (target) => {
          failover.fail(target);
          return Promise.resolve();
        },
        restore: (target) => {
          failover.restore(target);
          return Promise.resolve();
        },
        rollout: async (target) => {
          if (!services.has(target)) {
            throw new McmlError('UNSUPPORTED', `target "${target}" does not run on this machine`);
          }
          await cluster.rollingRestart(target);
        },
        onChange: (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
    });
    // 7. A scrape config for Prometheus, with the rules `mcml render` writes for clusters.
    const prometheusConfig = join(options.stateDir, 'prometheus.yml');
    await writeFile(
      join(options.stateDir, 'rules.yml'),
      alertRules(
        spec,
        locals.map((p) => ({ target: p.target, cloud: p.cloud })),
      ),
      'utf8',
    );
    await writeFile(prometheusConfig, scrapeConfig(spec, url), 'utf8');

    addEvent({
      at: clock.now(),
      kind: 'info',
      level: 'ok',
      message: `mcml up: ${locals.length} local target(s) serving through ${url}`,
    });
    let closing: Promise<void> | undefined;
    return {
      url,
      state,
      cluster,
      failover,
      prometheusConfig,
      close: () => (closing ??= cleanup()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function bucketOf(target: Target, stateDir: string): string | undefined {
  if (target.bucket) return target.bucket;
  if (target.provider === 'local') return `file://${join(stateDir, 'buckets', target.name)}`;
  return undefined;
}

function autoscalePolicy(spec: Spec): AutoscalePolicy {
  const r = spec.service.replicas;
  if (r.targetQueueDepth !== undefined) {
    return {
      metric: 'queue-depth',
      target: r.targetQueueDepth,
      metricName: 'mcml_inference_queue_depth',
    };
  }
  return {
    metric: 'cpu',
    targetPercent: r.targetCpuUtilization,
    cpuPerReplica: spec.service.resources.cpu,
  };
}

/** A non-local target is served elsewhere: it needs an endpoint that answers. */
async function checkRemoteTargets(spec: Spec, placements: Placement[]): Promise<void> {
  for (const p of placements) {
    if (p.provider === 'local') continue;
    const target = spec.targets.find((t) => t.name === p.target)!;
    if (!target.endpoint) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `target "${p.target}" runs on ${p.provider}, so mcml up cannot start it here, and it has no endpoint to route to`,
        {
          hint: `set targets[].endpoint to its service URL (deploy it with "mcml render"), or make it provider: local with emulates: ${p.cloud}`,
        },
      );
    }
    const probe = target.endpoint.replace(/\/+$/, '') + spec.service.healthPath;
    try {
      const res = await fetch(probe, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
    } catch (error) {
      throw new McmlError(
        'UNAVAILABLE',
        `target "${p.target}" endpoint ${target.endpoint} does not answer (${probe})`,
        {
          hint: 'check the endpoint, or remove the target from the spec',
          cause: error,
        },
      );
    }
  }
}

/** The model and the data sets into every bucket, through the sync engine. */
async function syncBuckets(args: {
  spec: Spec;
  placements: Placement[];
  stores: Map<string, ObjectStore>;
  modelKey: string;
  sync: SyncView[];
  addEvent: (e: EventView) => void;
  progress: (m: string) => void;
  options: UpOptions;
}): Promise<void> {
  const { spec, placements, stores, modelKey, sync, addEvent, progress, options } = args;
  const clock = options.clock ?? systemClock;
  const modelUri = spec.service.model.uri;
  let modelSource: ObjectStore;
  try {
    modelSource = await options.openStore(parentUri(modelUri));
  } catch (error) {
    throw new McmlError('NOT_FOUND', `cannot open the model's location ${modelUri}`, {
      cause: error,
    });
  }
  const modelFile = basename(modelUri);
  if (!(await modelSource.stat(modelFile))) {
    throw new McmlError('NOT_FOUND', `the model ${modelUri} does not exist`, {
      hint: modelUri.includes('models/iris.onnx')
        ? 'build the sample models with "npm run models"'
        : 'fix service.model.uri in the spec',
    });
  }
  const record = (item: string, targets: string[], reports: (DestinationReport | undefined)[]) => {
    targets.forEach((target, i) => {
      const d = reports[i];
      const failed = d === undefined || d.failed.length > 0;
      const view: SyncView = {
        item,
        target,
        state: failed ? 'failed' : 'done',
        objects: d ? d.copied + d.unchanged : 0,
        bytes: d?.bytesWritten ?? 0,
        at: clock.now(),
        message: !d
          ? 'not synced'
          : d.failed.length > 0
            ? d.failed.map((f) => `${f.key}: ${f.error}`).join('; ')
            : d.copied === 0
              ? 'up to date'
              : `copied ${d.copied} object(s)`,
      };
      sync.push(view);
      addEvent({
        at: view.at!,
        kind: 'sync',
        level: failed ? 'error' : 'ok',
        target,
        message: `${item} → ${target}: ${view.message} (${view.objects} object(s))`,
      });
    });
  };

  // The model: read once, written to every target's bucket, verified.
  const modelTargets = placements.filter((p) => stores.has(p.target)).map((p) => p.target);
  progress(`syncing the model to ${modelTargets.join(', ') || 'no target'}`);
  const modelDirs = await Promise.all(
    modelTargets.map((t) => options.openStore(joinUri(stores.get(t)!.uri, dirname(modelKey)))),
  );
  const modelReport = await runSync({
    source: modelSource,
    destinations: modelDirs,
    include: [modelFile],
  });
  record('model', modelTargets, modelReport.destinations);
  if (!modelReport.ok) {
    throw new McmlError('UNAVAILABLE', 'the model could not be copied to every target', {
      details: { destinations: modelReport.destinations },
    });
  }

  // Data sets: the sync engine routes each to the targets of its jurisdiction only, and
  // refuses before any byte moves when a bucket lies outside it.
  if (spec.data.length === 0) return;
  progress(`syncing data sets ${spec.data.map((d) => d.name).join(', ')}`);
  const withBuckets: Spec = {
    ...spec,
    targets: spec.targets.map((t) => {
      const bucket = bucketOf(t, options.stateDir);
      return bucket ? { ...t, bucket } : t;
    }),
  };
  const reports = await runDataSync({
    spec: withBuckets,
    specDir: options.baseDir,
    lookup: options.jurisdictionOf,
    open: options.openStore,
  });
  for (const r of reports) record(r.dataset, r.targets, r.report?.destinations ?? []);
  if (reports.some((r) => r.report && !r.report.ok)) {
    throw new McmlError('UNAVAILABLE', 'a data set could not be copied to every target');
  }
}

function joinUri(root: string, path: string): string {
  return root.replace(/\/?$/, '/') + path.replace(/^\/+/, '').replace(/\/?$/, '/');
}

function parentUri(uri: string): string {
  const cut = uri.replace(/\/+$/, '').lastIndexOf('/');
  if (cut < 0) return '.';
  const parent = uri.slice(0, cut);
  // "file:///x" → "file://" would lose the root; keep "/" then.
  return /^[a-z0-9]+:\/\/?$/i.test(parent + '/') ? parent + '/' : parent || '/';
}

function clusterEventView(e: ClusterEvent): EventView {
  const level: EventView['level'] =
    e.type === 'replica-exited'
      ? 'error'
      : e.type === 'replica-timeout' || e.type === 'replica-unready'
        ? 'warn'
        : e.type === 'replica-ready' || e.type === 'rollout-finished'
          ? 'ok'
          : 'info';
  return {
    at: e.time,
    kind: e.type === 'scaled' ? 'scale' : 'replica',
    level,
    target: e.target,
    message: e.message,
  };
}

/** Maps the failover event log to timeline lines; returns undefined for noise. */
export function failoverEventView(entry: FailoverLogEntry): EventView | undefined {
  const at = Date.parse(entry.time);
  const str = (v: unknown) =>
    typeof v === 'string' ? v : v === undefined || v === null ? 'none' : JSON.stringify(v);
  switch (entry.type) {
    case 'state': {
      const to = str(entry.to);
      const level: EventView['level'] =
        to === 'unhealthy' ? 'error' : to === 'suspect' ? 'warn' : to === 'healthy' ? 'ok' : 'info';
      return {
        at,
        kind: 'health',
        level,
        target: str(entry.target),
        message: `${str(entry.target)} ${str(entry.from)} → ${to}${entry.reason ? ` (${str(entry.reason)})` : ''}`,
      };
    }
    case 'active': {
      const reason = str(entry.reason);
      const level: EventView['level'] =
        reason === 'all-down'
          ? 'error'
          : reason === 'failover' || reason === 'manual'
            ? 'warn'
            : 'ok';
      const kind = reason === 'failback' ? 'failback' : 'failover';
      const text =
        reason === 'initial'
          ? `${str(entry.to)} is active`
          : `${reason}: ${str(entry.from)} → ${str(entry.to)}`;
      return { at, kind, level, ...(entry.to ? { target: str(entry.to) } : {}), message: text };
    }
    case 'start':
      return entry.active
        ? {
            at,
            kind: 'failover',
            level: 'ok',
            target: str(entry.active),
            message: `${str(entry.active)} is active`,
          }
        : { at, kind: 'failover', level: 'error', message: 'no healthy target at start' };
    case 'disabled':
      return {
        at,
        kind: 'admin',
        level: 'warn',
        target: str(entry.target),
        message: `${str(entry.target)} taken out of rotation by hand`,
      };
    case 'enabled':
      return {
        at,
        kind: 'admin',
        level: 'info',
        target: str(entry.target),
        message: `${str(entry.target)} restored by hand`,
      };
    default:
      if (entry.type.startsWith('dns')) {
        return {
          at,
          kind: 'info',
          level: 'info',
          message: `${entry.type}: ${JSON.stringify(entry)}`,
        };
      }
      return undefined;
  }
}

function ownMetrics(
  cluster: LocalCluster,
  placements: Placement[],
  services: Map<string, TargetService>,
  now: number,
): string {
  const lines = [
    '# HELP mcml_up_replicas Replicas of each local target, desired and ready.',
    '# TYPE mcml_up_replicas gauge',
  ];
  const status = cluster.status();
  for (const t of status) {
    lines.push(`mcml_up_replicas{target="${escapeLabel(t.name)}",kind="desired"} ${t.desired}`);
    lines.push(`mcml_up_replicas{target="${escapeLabel(t.name)}",kind="ready"} ${t.ready}`);
  }
  lines.push(
    '# HELP mcml_up_replica_restarts_total Restarts of crashed replicas.',
    '# TYPE mcml_up_replica_restarts_total counter',
  );
  for (const t of status) {
    const restarts = t.replicas.reduce((a, r) => a + r.restarts, 0);
    lines.push(`mcml_up_replica_restarts_total{target="${escapeLabel(t.name)}"} ${restarts}`);
  }
  lines.push(
    '# HELP mcml_up_target_requests_total Requests served by each target (health checks excluded).',
    '# TYPE mcml_up_target_requests_total counter',
  );
  for (const [name, service] of services) {
    lines.push(
      `mcml_up_target_requests_total{target="${escapeLabel(name)}"} ${service.stats.summary(now).total}`,
    );
  }
  lines.push(
    '# HELP mcml_plan_hourly_usd Planned USD per hour of each target (baseline replicas).',
    '# TYPE mcml_plan_hourly_usd gauge',
  );
  for (const p of placements) {
    lines.push(
      `mcml_plan_hourly_usd{target="${escapeLabel(p.target)}",cloud="${p.cloud}"} ${p.hourly}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The Prometheus scrape config for this run's aggregated /metrics. */
export function scrapeConfig(spec: Spec, url: string): string {
  const { host } = new URL(url);
  const interval = Math.max(1, Math.round(durationMs(spec.monitoring.scrapeInterval) / 1000));
  return `# Written by mcml up: Prometheus scrapes every target's replicas through one endpoint,
# and evaluates the alerting rules mcml render writes for clusters (rules.yml, next to this).
# Run: prometheus --config.file=${'<this file>'}
global:
  scrape_interval: ${interval}s
  evaluation_interval: ${interval}s
rule_files: [rules.yml]
scrape_configs:
  - job_name: mcml
    metrics_path: /metrics
    static_configs:
      - targets: ['${host}']
        labels:
          service: ${JSON.stringify(spec.service.name)}
`;
}

async function modelInput(
  base: string,
  model: string,
): Promise<{ input: string; datatype: string; shape: number[] }> {
  const res = await fetch(`${base}/v2/models/${model}`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) {
    throw new McmlError('UNAVAILABLE', `cannot read model metadata: HTTP ${res.status}`);
  }
  const meta = (await res.json()) as {
    inputs?: { name: string; datatype: string; shape: number[] }[];
  };
  const input = meta.inputs?.[0];
  if (!input) throw new McmlError('UNAVAILABLE', `model ${model} declares no input`);
  return {
    input: input.name,
    datatype: input.datatype,
    shape: input.shape.map((d) => (d < 0 ? 1 : d)),
  };
}

function inferBody(meta: { input: string; datatype: string; shape: number[] }, i: number) {
  const size = meta.shape.reduce((a, b) => a * b, 1);
  const row = IRIS_ROWS[i % IRIS_ROWS.length]!;
  const data = Array.from({ length: size }, (_, k) => row[k % row.length]!);
  return { inputs: [{ name: meta.input, datatype: meta.datatype, shape: meta.shape, data }] };
}

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
    const text = await res.text();
    return res.ok ? text : undefined;
  } catch {
    return undefined;
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new McmlError('CONFLICT', `port ${port} on ${host} is already in use`, {
              hint: 'stop what listens there, or pass --port N (0 picks a free port)',
            })
          : error.code === 'EACCES'
            ? new McmlError('PERMISSION_DENIED', `not allowed to listen on ${host}:${port}`, {
                hint: 'use a port above 1023, e.g. --port 8080',
              })
            : new McmlError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${error.message}`),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
