/**
 * One /metrics for the whole run: every ready replica's page relabelled with its cloud, region,
 * target and replica, the failover controller's metrics, and mcml up's own series.
 */
import type { LocalCluster } from '../../adapters/local/local-cluster.js';
import { escapeLabel, mergePrometheusText } from '../../core/metrics/prom-text.js';
import type { Placement } from '../../core/plan/types.js';
import type { Clock } from '../../ports/clock.js';
import type { RunningFailover } from '../../engines/failover/index.js';
import type { TargetService } from './target-service.js';

/** The aggregated Prometheus page. */
export async function upMetrics(args: {
  cluster: LocalCluster;
  placements: Placement[];
  services: Map<string, TargetService>;
  failover: RunningFailover;
  clock: Clock;
}): Promise<string> {
  const { cluster, placements, services, failover, clock } = args;
  const pages: { text: string; labels: Record<string, string> }[] = [];
  const replicas = cluster.status().flatMap((t) => t.replicas);
  const texts = await Promise.all(
    replicas.map((r) =>
      r.state === 'ready' ? fetchText(`${r.url}/metrics`) : Promise.resolve(undefined),
    ),
  );
  replicas.forEach((r, i) => {
    const text = texts[i];
    const p = placements.find((x) => x.target === r.target);
    if (text && p) {
      pages.push({
        text,
        labels: { cloud: p.cloud, region: p.region, target: r.target, replica: r.id },
      });
    }
  });
  pages.push({ text: await failover.metrics.registry.metrics(), labels: {} });
  pages.push({ text: ownMetrics(cluster, placements, services, clock.now()), labels: {} });
  return mergePrometheusText(pages);
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
    lines.push(`mcml_up_replica_restarts_total{target="${escapeLabel(t.name)}"} ${t.restarts}`);
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

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
    const text = await res.text();
    return res.ok ? text : undefined;
  } catch {
    return undefined;
  }
}
