/** The Prometheus scrape config `mcml up` writes for its one /metrics endpoint. */
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
