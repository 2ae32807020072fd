/**
 * The local targets deployed through the same rollout engine as real clusters: each local
 * target is a Cluster (the Local adapter over one shared process driver), and the engine runs
 * waves by failover tier — apply → rollout → health gate (ready replicas and a real inference
 * through the target's Service) → next wave. A failed wave stops start-up with the reason.
 */
import {
  LocalCluster,
  type ClusterEvent,
  type LocalClusterOptions,
} from '../../adapters/local/local-cluster.js';
import { LocalTargetCluster } from '../../adapters/local/target-cluster.js';
import { McmlError } from '../../core/errors.js';
import type { Placement } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import {
  planWaves,
  runDeploy,
  type DeployEvent,
  type DeployReport,
  type DeployTarget,
} from '../../engines/deploy/index.js';
import { localApplySet } from './local-objects.js';
import { clusterEventView, deployEventView } from './event-views.js';
import type { UpContext } from './up-context.js';
import type { ReplicaContext, ReplicaLaunch } from './up.js';

export interface LocalDeployment {
  /** The process driver every local target runs on. */
  driver: LocalCluster;
  /** Each local target's cluster. */
  clusters: Map<string, LocalTargetCluster>;
  report: DeployReport;
  stop(): Promise<void>;
}

/** Starts the driver and rolls every local target out; throws (after stopping) when it fails. */
export async function deployLocalTargets(args: {
  spec: Spec;
  locals: Placement[];
  modelUri: (target: string) => string;
  replicaCommand: (context: ReplicaContext) => ReplicaLaunch;
  clock: Clock;
  driverOptions: LocalClusterOptions;
  rolloutTimeoutMs: number;
  onDeployEvent: (e: DeployEvent) => void;
  onClusterEvent: (e: ClusterEvent) => void;
  /** Called once the driver runs, so a failure later still stops it. */
  onDriver: (stop: () => Promise<void>) => void;
}): Promise<LocalDeployment> {
  const { spec, locals, clock } = args;
  const driver = new LocalCluster([], { ...args.driverOptions, clock });
  driver.on(args.onClusterEvent);
  await driver.start();
  const clusters = new Map(
    locals.map((p) => [
      p.target,
      new LocalTargetCluster({ target: p.target, driver, workloadName: () => p.target, clock }),
    ]),
  );
  // The driver first: its loop stops before any target is removed under it.
  const stop = async () => {
    await driver.stop();
    await Promise.all([...clusters.values()].map((c) => c.close()));
  };
  args.onDriver(stop);
  const targets: DeployTarget[] = locals.map((p) => {
    const { set, probe } = localApplySet({
      spec,
      placement: p,
      modelUri: args.modelUri(p.target),
      replicaCommand: args.replicaCommand,
    });
    return { name: p.target, tier: p.tier, cluster: clusters.get(p.target)!, set, probe };
  });
  const report = await runDeploy(targets, {
    clock,
    waves: planWaves(targets),
    rolloutTimeoutMs: args.rolloutTimeoutMs,
    reach: { attempts: 1 },
    onEvent: args.onDeployEvent,
  });
  if (!report.ok) throw rolloutError(report, driver);
  return { driver, clusters, report, stop };
}

/** The local targets of this run, deployed with its options, events on its timeline. */
export async function deployLocal(
  ctx: UpContext,
  modelUri: (target: string) => string,
): Promise<LocalCluster> {
  const { locals, timeline, options } = ctx;
  ctx.progress(`deploying ${locals.map((p) => `${p.replicas.min || 1} × ${p.target}`).join(', ')}`);
  const deployment = await deployLocalTargets({
    spec: ctx.spec,
    locals,
    modelUri,
    replicaCommand: options.replicaCommand,
    clock: ctx.clock,
    driverOptions: { intervalMs: 1000, ...options.cluster },
    rolloutTimeoutMs: options.readyTimeoutMs ?? 90_000,
    onDeployEvent: (e) => {
      ctx.rollout.record(e);
      const view = deployEventView(e);
      if (view) timeline.add(view);
      else timeline.changed();
    },
    onClusterEvent: (e) => timeline.add(clusterEventView(e)),
    onDriver: (stop) => ctx.cleanups.push(stop),
  });
  return deployment.driver;
}

/** Why start-up stops: each target that did not make it, with its replicas' last lines. */
function rolloutError(report: DeployReport, driver: LocalCluster): McmlError {
  const lines = report.targets
    .filter((t) => t.phase !== 'done')
    .map((t) => {
      const reason = t.error?.message ?? t.state;
      let tail: string[] = [];
      try {
        tail = driver.logs(t.target).slice(-5);
      } catch {
        // The target never reached the driver.
      }
      return `${t.target} (wave ${t.wave}): ${t.phase}: ${reason}${tail.length ? `\n    ${tail.join('\n    ')}` : ''}`;
    });
  return new McmlError(
    'UNAVAILABLE',
    `the rollout of the local targets failed:\n  ${lines.join('\n  ')}`,
    {
      hint: "the replicas' last lines are above; --ready-timeout gives slow replicas longer",
      details: { report },
    },
  );
}
