/** The Prometheus files `mcml up` writes: a scrape config for its one /metrics, and the rules. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alertRules } from '../../core/render/monitoring.js';
import { durationMs } from '../../core/spec/parse.js';
import type { Spec } from '../../core/spec/index.js';

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

/**
 * Writes `prometheus.yml` and beside it `rules.yml` — the alerting rules `mcml render` writes
 * for clusters, evaluated against this run's targets; returns the config's path.
 */
export async function writeScrapeConfig(
  spec: Spec,
  stateDir: string,
  url: string,
  targets: { target: string; cloud: string }[],
): Promise<string> {
  await writeFile(join(stateDir, 'rules.yml'), alertRules(spec, targets), 'utf8');
  const path = join(stateDir, 'prometheus.yml');
  await writeFile(path, scrapeConfig(spec, url), 'utf8');
  return path;
}
