/**
 * `mcml up`: the whole deployment on this machine. For a planned spec it binds the public port
 * (answering 503 until ready), fills each target's bucket (model + data sets the plan sends
 * there), deploys each local target through the rollout engine onto the Local Cluster adapter
 * (real `mcml serve` replica processes, in waves by tier, each gated by a real inference), puts
 * a service endpoint in front of each target, runs the failover controller over those
 * endpoints, and serves the front door, the dashboard, the state API and one aggregated
 * /metrics on the public port.
 */
import type {
  LocalCluster,
  LocalClusterOptions,
  ReplicaLaunch,
} from '../../adapters/local/local-cluster.js';
import type { Plan } from '../../core/plan/types.js';
import type { Jurisdiction, Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { ObjectStore } from '../../ports/object-store.js';
import type { RunningFailover } from '../../engines/failover/index.js';
import type { DashboardState, EventView } from '../dashboard/state.js';
import { fillBuckets } from './buckets.js';
import { deployLocal } from './local-deploy.js';
import { bindPublicPort } from './public-port.js';
import { checkRemoteTargets } from './remote-targets.js';
import { startRouting, startTargetServices } from './routing.js';
import { writeScrapeConfig } from './scrape-config.js';
import { upContext, type UpContext } from './up-context.js';
import { upDashboard } from './up-dashboard.js';

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
  const ctx = upContext(options);
  try {
    const port = await bindPublicPort(options.host, options.port);
    ctx.cleanups.push(() => port.close());
    await checkRemoteTargets(ctx.spec, ctx.placements);
    const buckets = await fillBuckets(ctx);
    const cluster = await deployLocal(ctx, buckets.modelUri);
    const services = await startTargetServices(ctx, cluster);
    const { failover, traffic, mount } = await startRouting(ctx, services, port);
    const ui = upDashboard(ctx, { url: port.url, cluster, failover, services, traffic });
    mount(ui.handler);
    const prometheusConfig = await writeScrapeConfig(
      ctx.spec,
      options.stateDir,
      port.url,
      ctx.locals.map((p) => ({ target: p.target, cloud: p.cloud })),
    );
    port.open();
    announce(ctx, port.url);
    return {
      url: port.url,
      state: ui.state,
      cluster,
      failover,
      prometheusConfig,
      close: () => ctx.cleanups.run(),
    };
  } catch (error) {
    await ctx.cleanups.run();
    throw error;
  }
}

function announce(ctx: UpContext, url: string): void {
  ctx.timeline.add({
    at: ctx.clock.now(),
    kind: 'info',
    level: 'ok',
    message: `mcml up: ${ctx.locals.length} local target(s) serving through ${url}`,
  });
}
