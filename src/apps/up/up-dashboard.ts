/** The dashboard of a running `mcml up`: state, /metrics, and the admin actions. */
import { join } from 'node:path';
import type { LocalCluster } from '../../adapters/local/local-cluster.js';
import { dayOf } from '../../core/cost/range.js';
import { McmlError } from '../../core/errors.js';
import type { Plan } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { RunningFailover } from '../../engines/failover/index.js';
import { CostFeed, readBilledDays } from '../dashboard/costs.js';
import { createDashboardHandler, type DashboardHandler } from '../dashboard/server.js';
import type { DashboardState, SyncView } from '../dashboard/state.js';
import type { RolloutRecord } from './rollout-view.js';
import type { TargetService } from './target-service.js';
import { trafficSender } from './test-traffic.js';
import type { Timeline } from './timeline.js';
import type { TrafficStats } from './traffic-stats.js';
import { upMetrics } from './up-metrics.js';
import { upState } from './up-state.js';

export interface UpDashboardSources {
  spec: Spec;
  plan: Plan;
  url: string;
  host: string;
  adminToken: string;
  stateDir: string;
  startedAt: number;
  clock: Clock;
  cluster: LocalCluster;
  failover: RunningFailover;
  services: Map<string, TargetService>;
  traffic: TrafficStats;
  timeline: Timeline;
  sync: SyncView[];
  rollout: RolloutRecord;
}

/** The dashboard's request handler and the state it shows. */
export function upDashboard(s: UpDashboardSources): {
  handler: DashboardHandler;
  state: () => DashboardState;
} {
  // The Costs view: billed days from the cost store, this run estimated live.
  const costFeed = new CostFeed({
    plan: s.plan,
    startedAt: s.startedAt,
    ...(s.spec.budget ? { budgetMonthly: s.spec.budget.monthly } : {}),
  });
  void readBilledDays(
    join(s.stateDir, 'cost.duckdb'),
    s.spec.service.name,
    dayOf(s.startedAt),
  ).then((b) => costFeed.setBilled(b.daily, b.source));
  const state = upState({ ...s, costFeed });
  const placements = [...s.plan.placements].sort((a, b) => a.tier - b.tier);
  const handler = createDashboardHandler({
    adminToken: s.adminToken,
    allowedHosts: [s.host, ...s.spec.failover.frontDoor.allowedHosts],
    backend: {
      state,
      metrics: () => upMetrics({ ...s, placements }),
      sendTraffic: trafficSender(s.url, s.spec.service.model.name),
      fail: (target) => {
        s.failover.fail(target);
        return Promise.resolve();
      },
      restore: (target) => {
        s.failover.restore(target);
        return Promise.resolve();
      },
      rollout: async (target) => {
        if (!s.services.has(target)) {
          throw new McmlError('UNSUPPORTED', `target "${target}" does not run on this machine`);
        }
        await s.cluster.rollingRestart(target);
      },
      onChange: (listener) => s.timeline.onChange(listener),
    },
  });
  return { handler, state };
}
