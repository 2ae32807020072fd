/**
 * Traffic into the local targets: a service endpoint per target (balancing over its ready
 * replicas, as a Kubernetes Service does) and the failover controller over those endpoints,
 * whose front door serves on the public port after the dashboard has had a look at each request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { LocalCluster } from '../../adapters/local/local-cluster.js';
import { planFailover } from '../../core/failover/index.js';
import type { Placement, Plan } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import { startFailover, type RunningFailover } from '../../engines/failover/index.js';
import { failoverEventView } from './event-views.js';
import type { PublicPort } from './public-port.js';
import { TargetService } from './target-service.js';
import type { Timeline } from './timeline.js';
import type { TrafficStats } from './traffic-stats.js';

/** A service endpoint per local target; `onStarted` registers each for clean-up. */
export async function startTargetServices(args: {
  spec: Spec;
  locals: Placement[];
  driver: LocalCluster;
  clock: Clock;
  onStarted: (service: TargetService) => void;
}): Promise<Map<string, TargetService>> {
  const services = new Map<string, TargetService>();
  for (const p of args.locals) {
    const service = new TargetService({
      target: p.target,
      endpoints: () => args.driver.readyUrls(p.target),
      clock: args.clock,
      maxBodyBytes: args.spec.failover.frontDoor.maxBodyBytes,
      quietPaths: ['/v2/health', '/health', '/metrics'],
    });
    await service.listen();
    args.onStarted(service);
    services.set(p.target, service);
  }
  return services;
}

/** A request handler mounted on the public port ahead of the front door. */
export type Mounted = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The failover controller over the targets' endpoints, its front door on the public port. */
export async function startRouting(args: {
  spec: Spec;
  plan: Plan;
  services: Map<string, TargetService>;
  port: PublicPort;
  clock: Clock;
  adminToken: string;
  stateDir: string;
  traffic: TrafficStats;
  timeline: Timeline;
  /** Looked up on every request: the dashboard, once it is mounted. */
  mounted: () => Mounted | undefined;
}): Promise<RunningFailover> {
  const { spec, plan, services, port, clock, traffic, timeline } = args;
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
  const failover = await startFailover({
    spec: routed,
    plan: failoverPlan,
    clock,
    adminToken: args.adminToken,
    server: port.server,
    intercept: (req, res) => {
      if (port.answerWhileStarting(req, res)) return true;
      if (args.mounted()?.(req, res)) return true;
      const started = performance.now();
      res.once('finish', () => {
        traffic.record(clock.now(), performance.now() - started, res.statusCode >= 500);
      });
      return false;
    },
    eventsFile: join(args.stateDir, 'events.jsonl'),
  });
  for (const entry of failover.events.tail(200)) {
    const view = failoverEventView(entry);
    if (view) timeline.add(view);
  }
  failover.events.on('event', (entry) => {
    const view = failoverEventView(entry);
    if (view) timeline.add(view);
  });
  return failover;
}
