/** The dashboard of a running `mcml up`: state, /metrics, and the admin actions. */
import { join } from 'node:path';
import type { LocalCluster } from '../../adapters/local/local-cluster.js';
import { dayOf } from '../../core/cost/range.js';
import { McmlError } from '../../core/errors.js';
import type { RunningFailover } from '../../engines/failover/index.js';
import { CostFeed, readBilledDays } from '../dashboard/costs.js';
import { createDashboardHandler, type DashboardHandler } from '../dashboard/server.js';
import type { DashboardState } from '../dashboard/state.js';
import type { TargetService } from './target-service.js';
import { trafficSender } from './test-traffic.js';
import type { TrafficStats } from './traffic-stats.js';
import type { UpContext } from './up-context.js';
import { upMetrics } from './up-metrics.js';
import { upState } from './up-state.js';

/** The running parts the dashboard reads and acts on. */
export interface UpDashboardParts {
  url: string;
  cluster: LocalCluster;
  failover: RunningFailover;
  services: Map<string, TargetService>;
  traffic: TrafficStats;
}

/** The dashboard's request handler and the state it shows. */
export function upDashboard(
  ctx: UpContext,
  parts: UpDashboardParts,
): { handler: DashboardHandler; state: () => DashboardState } {
  const { spec, plan, startedAt, options } = ctx;
  const s = { ...parts, spec, plan, startedAt, clock: ctx.clock };
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
  const state = upState({
    ...s,
    costFeed,
    timeline: ctx.timeline,
    sync: ctx.sync,
    rollout: ctx.rollout,
  });
  const placements = ctx.placements;
  const handler = createDashboardHandler({
    adminToken: options.adminToken,
    allowedHosts: [options.host, ...spec.failover.frontDoor.allowedHosts],
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
      onChange: (listener) => ctx.timeline.onChange(listener),
    },
  });
  return { handler, state };
}
