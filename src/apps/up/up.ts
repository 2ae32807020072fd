/**
 * `mcml up`: the whole deployment on this machine. For a planned spec it binds the public port
 * (answering 503 until ready), fills each target's bucket (model + data sets the plan sends
 * there), deploys each local target through the rollout engine onto the Local Cluster adapter
 * (real `mcml serve` replica processes, in waves by tier, each gated by a real inference), puts
 * a service endpoint in front of each target, runs the failover controller over those
 * endpoints, and serves the front door, the dashboard, the state API and one aggregated
 * /metrics on the public port.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  LocalCluster,
  LocalClusterOptions,
  ReplicaLaunch,
} from '../../adapters/local/local-cluster.js';
import { systemClock } from '../../adapters/local/system-clock.js';
import type { Plan } from '../../core/plan/types.js';
import type { Jurisdiction, Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { ObjectStore } from '../../ports/object-store.js';
import type { RunningFailover } from '../../engines/failover/index.js';
import type { DashboardState, EventView, SyncView } from '../dashboard/state.js';
import { fillBuckets } from './buckets.js';
import { clusterEventView, deployEventView } from './event-views.js';
import { deployLocalTargets } from './local-deploy.js';
import { bindPublicPort } from './public-port.js';
import { checkRemoteTargets } from './remote-targets.js';
import { RolloutRecord } from './rollout-view.js';
import { startRouting, startTargetServices, type Mounted } from './routing.js';
import { scrapeConfig } from './scrape-config.js';
import { alertRules } from '../../core/render/monitoring.js';
import { Timeline } from './timeline.js';
import { TrafficStats } from './traffic-stats.js';
import { upDashboard } from './up-dashboard.js';

export { failoverEventView } from './event-views.js';
export { scrapeConfig } from './scrape-config.js';

export type { ReplicaLaunch } from '../../adapters/local/local-cluster.js';

/** What a replica needs to know to start. */
export interface ReplicaContext {
  /** The port to listen on: `$(PORT)`, which the cluster expands for each replica. */
  port: string;
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
  /** How long a target's rollout may take at start. */
  readyTimeoutMs?: number;
  /** Progress lines for the terminal while starting. */
  onProgress?: (message: string) => void;
  /** Every timeline event, for the terminal. */
  onEvent?: (event: EventView) => void;
  /** Options passed to the local cluster driver (tests shorten its timings). */
  cluster?: LocalClusterOptions;
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

/** Starts everything; on any failure stops what it started and rethrows. */
export async function startUp(options: UpOptions): Promise<RunningUp> {
  const clock = options.clock ?? systemClock;
  const { spec, plan } = options;
  const startedAt = clock.now();
  const progress = options.onProgress ?? (() => undefined);
  const cleanups = new Cleanups();
  const timeline = new Timeline(options.onEvent);
  const sync: SyncView[] = [];
  const rollout = new RolloutRecord();
  const placements = [...plan.placements].sort((a, b) => a.tier - b.tier);
  const locals = placements.filter((p) => p.provider === 'local');
  const addEvent = (e: EventView) => timeline.add(e);
  try {
    const port = await bindPublicPort(options.host, options.port);
    cleanups.push(() => port.close());
    await checkRemoteTargets(spec, placements);
    const buckets = await fillBuckets({
      spec,
      placements,
      options,
      clock,
      sync,
      addEvent,
      progress,
    });

    progress(`deploying ${locals.map((p) => `${p.replicas.min || 1} × ${p.target}`).join(', ')}`);
    const deployment = await deployLocalTargets({
      spec,
      locals,
      modelUri: buckets.modelUri,
      replicaCommand: options.replicaCommand,
      clock,
      driverOptions: { intervalMs: 1000, ...options.cluster },
      rolloutTimeoutMs: options.readyTimeoutMs ?? 90_000,
      onDeployEvent: (e) => {
        rollout.record(e);
        const view = deployEventView(e);
        if (view) timeline.add(view);
        else timeline.changed();
      },
      onClusterEvent: (e) => timeline.add(clusterEventView(e)),
      onDriver: (stop) => cleanups.push(stop),
    });
    const driver = deployment.driver;

    const services = await startTargetServices({
      spec,
      locals,
      driver,
      clock,
      onStarted: (s) => cleanups.push(() => s.close()),
    });
    await mkdir(options.stateDir, { recursive: true });
    const traffic = new TrafficStats();
    // Set once the dashboard exists; until the port opens, every request gets a 503.
    const mounted: { dashboard?: Mounted } = {};
    const failover = await startRouting({
      spec,
      plan,
      services,
      port,
      clock,
      adminToken: options.adminToken,
      stateDir: options.stateDir,
      traffic,
      timeline,
      mounted: () => mounted.dashboard,
    });
    cleanups.push(() => failover.close());

    const ui = upDashboard({
      spec,
      plan,
      url: port.url,
      host: options.host,
      adminToken: options.adminToken,
      stateDir: options.stateDir,
      startedAt,
      clock,
      cluster: driver,
      failover,
      services,
      traffic,
      timeline,
      sync,
      rollout,
    });
    mounted.dashboard = ui.handler;
    const prometheusConfig = join(options.stateDir, 'prometheus.yml');
    // The rules `mcml render` writes for clusters, evaluated against this run's targets.
    await writeFile(
      join(options.stateDir, 'rules.yml'),
      alertRules(
        spec,
        locals.map((p) => ({ target: p.target, cloud: p.cloud })),
      ),
      'utf8',
    );
    await writeFile(prometheusConfig, scrapeConfig(spec, port.url), 'utf8');

    port.open();
    timeline.add({
      at: clock.now(),
      kind: 'info',
      level: 'ok',
      message: `mcml up: ${locals.length} local target(s) serving through ${port.url}`,
    });
    return {
      url: port.url,
      state: ui.state,
      cluster: driver,
      failover,
      prometheusConfig,
      close: () => cleanups.run(),
    };
  } catch (error) {
    await cleanups.run();
    throw error;
  }
}

/** What to undo, last started first; running it twice does it once. */
class Cleanups {
  readonly #steps: (() => Promise<void>)[] = [];
  #running: Promise<void> | undefined;

  push(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) await step().catch(() => undefined);
    })();
    return this.#running;
  }
}
