/** The dashboard state of a running `mcml up`: targets, health, replicas, traffic, costs, rollout. */
import type { LocalCluster } from '../../adapters/local/local-cluster.js';
import type { Plan } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { FailoverStatus, RunningFailover } from '../../engines/failover/index.js';
import type { CostFeed } from '../dashboard/costs.js';
import type { DashboardState, SyncView, TargetView } from '../dashboard/state.js';
import type { RolloutRecord } from './rollout-view.js';
import type { TargetService } from './target-service.js';
import type { Timeline } from './timeline.js';
import type { TrafficStats } from './traffic-stats.js';

const HISTORY_SECONDS = 120;

export interface UpStateSources {
  spec: Spec;
  plan: Plan;
  url: string;
  startedAt: number;
  clock: Clock;
  cluster: LocalCluster;
  failover: RunningFailover;
  services: Map<string, TargetService>;
  traffic: TrafficStats;
  costFeed: CostFeed;
  timeline: Timeline;
  sync: SyncView[];
  rollout: RolloutRecord;
}

/** A function that reads the state now. */
export function upState(s: UpStateSources): () => DashboardState {
  const placements = [...s.plan.placements].sort((a, b) => a.tier - b.tier);
  return () => {
    const now = s.clock.now();
    const fo = s.failover.status();
    const clusterStatus = new Map(s.cluster.status().map((t) => [t.name, t]));
    const nowSec = Math.floor(now / 1000);
    const t = Array.from({ length: HISTORY_SECONDS }, (_, i) => nowSec - HISTORY_SECONDS + i);
    const series: Record<string, number[]> = {};
    const targets: TargetView[] = placements.map((p) => {
      const health = fo.targets.find((x) => x.name === p.target);
      const cs = clusterStatus.get(p.target);
      const service = s.services.get(p.target);
      const summary = service?.stats.summary(now);
      series[p.target] = service
        ? service.stats.history(now, HISTORY_SECONDS).map((h) => h.count)
        : t.map(() => 0);
      const bucket = s.spec.targets.find((x) => x.name === p.target)?.bucket;
      return targetView(p, { health, cs, summary, active: fo.active === p.target, bucket });
    });
    s.costFeed.observe(
      now,
      targets.map((x) => ({ target: x.name, ready: x.replicas.ready })),
    );
    return dashboardState(s, now, fo, targets, { t, series });
  };
}

type Placement = Plan['placements'][number];

/** What is known about one placement now, from the failover controller, cluster and traffic. */
interface TargetNow {
  health: FailoverStatus['targets'][number] | undefined;
  cs: ReturnType<LocalCluster['status']>[number] | undefined;
  summary: ReturnType<TargetService['stats']['summary']> | undefined;
  active: boolean;
  bucket: string | undefined;
}

/** One target's card: the placement, its health, replicas, traffic and cost. */
function targetView(p: Placement, { health, cs, summary, active, bucket }: TargetNow): TargetView {
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
    active,
    replicas: {
      ready: cs?.ready ?? 0,
      desired: cs?.desired ?? 0,
      min: p.replicas.min,
      max: p.replicas.max,
      restarts: cs?.restarts ?? 0,
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
}

/** The whole page: service, front door, totals, the target cards, events, sync, traffic, costs. */
function dashboardState(
  s: UpStateSources,
  now: number,
  fo: FailoverStatus,
  targets: TargetView[],
  traffic: DashboardState['traffic'],
): DashboardState {
  const rollout = s.rollout.view();
  return {
    service: s.spec.service.name,
    model: s.spec.service.model.name,
    startedAt: s.startedAt,
    now,
    frontDoor: s.url,
    routing: fo.routing,
    active: fo.active ?? null,
    totals: {
      hourly: s.plan.totals.hourly,
      monthly: s.plan.totals.monthly,
      rps: s.traffic.summary(now).rps,
    },
    targets,
    events: s.timeline.events(),
    sync: s.sync.map((x) => ({ ...x })),
    traffic,
    costs: s.costFeed.view(now),
    ...(rollout ? { rollout } : {}),
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
