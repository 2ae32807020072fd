/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- parsed JSON/YAML/HCL documents */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { render } from '../../src/core/render/index.js';
import { loadSpec, threeCloudsPlan } from './fixtures.js';

function promtool(args: string[], cwd: string): { code: number; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (r.error) {
    throw new Error(
      'promtool is missing: apt-get update && apt-get install -y prometheus (or run scripts/test-deps.sh)',
    );
  }
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

describe('monitoring', () => {
  const spec = loadSpec('three-clouds.yaml');
  const files = render(spec, threeCloudsPlan(spec)).files;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcml-mon-'));
    mkdirSync(join(dir, 'monitoring'));
    for (const [p, c] of Object.entries(files))
      if (p.startsWith('monitoring/')) writeFileSync(join(dir, p), c);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('promtool accepts prometheus.yml and rules.yml', () => {
    const config = promtool(['check', 'config', 'prometheus.yml'], join(dir, 'monitoring'));
    expect(config.out).toMatch(/SUCCESS/);
    expect(config.code).toBe(0);
    const rules = promtool(['check', 'rules', 'rules.yml'], join(dir, 'monitoring'));
    expect(rules.code, rules.out).toBe(0);
    // 5 recording + 3 GPU recording; 5 alerts + one McmlNoReadyReplica per target + 3 GPU
    // + McmlFrontDoorDown and McmlFrontDoorNoTier per cluster.
    expect(rules.out).toMatch(/SUCCESS: 25 rules found/);
  });

  it('promtool rejects a broken rule file (the check can fail)', () => {
    writeFileSync(
      join(dir, 'monitoring/broken.yml'),
      files['monitoring/rules.yml']!.replace('histogram_quantile(0.99,', 'histogram_quantile(0.99'),
    );
    expect(promtool(['check', 'rules', 'broken.yml'], join(dir, 'monitoring')).code).not.toBe(0);
  });

  it('federates every cluster through its API server with a cloud label, no made-up servers', () => {
    const cfg = parseYaml(files['monitoring/prometheus.yml']!);
    const jobs = cfg.scrape_configs.filter((j: any) => j.job_name !== 'mcml-failover');
    expect(jobs.map((j: any) => j.job_name)).toEqual([
      'mcml-aws-primary',
      'mcml-gcp-secondary',
      'mcml-azure-tertiary',
    ]);
    jobs.forEach((j: any, i: number) => {
      expect(j.static_configs[0].targets).toEqual([`127.0.0.1:${18001 + i}`]);
      expect(j.static_configs[0].labels.cloud).toBe(['aws', 'gcp', 'azure'][i]);
      expect(j.metrics_path).toBe(
        '/api/v1/namespaces/ml-inference/services/mcml-prometheus:9090/proxy/federate',
      );
      // The service's pods, for a GPU service the DCGM exporters, and the front doors.
      expect(j.params['match[]']).toEqual([
        '{job="mcml"}',
        '{job="dcgm"}',
        '{job="mcml-front-door"}',
      ]);
      // A front door's series keep the upstream's target and cloud; these say whose it is.
      const target = ['aws-primary', 'gcp-secondary', 'azure-tertiary'][i];
      expect(j.metric_relabel_configs).toEqual([
        {
          source_labels: ['job'],
          regex: 'mcml-front-door',
          target_label: 'front_door',
          replacement: target,
        },
        {
          source_labels: ['job'],
          regex: 'mcml-front-door',
          target_label: 'front_door_cloud',
          replacement: ['aws', 'gcp', 'azure'][i],
        },
      ]);
      expect(files['monitoring/start-proxies.sh']).toContain(`--port ${18001 + i}`);
    });
    expect(cfg.scrape_configs.find((j: any) => j.job_name === 'mcml-failover').metrics_path).toBe(
      '/_mcml/metrics',
    );
    expect(cfg.global.scrape_interval).toBe('15s');
  });

  it('the in-cluster Prometheus config is valid and finds the pods by DNS', () => {
    writeFileSync(join(dir, 'monitoring/cluster.yml'), files['k8s/base/prometheus-cluster.yml']!);
    const r = promtool(['check', 'config', 'cluster.yml'], join(dir, 'monitoring'));
    expect(r.code, r.out).toBe(0);
    const cfg = parseYaml(files['k8s/base/prometheus-cluster.yml']!);
    expect(cfg.scrape_configs[0].dns_sd_configs[0]).toMatchObject({
      names: ['ml-inference-pods.ml-inference.svc.cluster.local'],
      port: 8000,
    });
    // The front door pods, through a headless Service that lists the unready ones too.
    const fd = cfg.scrape_configs.find((j: any) => j.job_name === 'mcml-front-door');
    expect(fd.metrics_path).toBe('/_mcml/metrics');
    expect(fd.dns_sd_configs[0]).toMatchObject({
      names: ['mcml-front-door-pods.ml-inference.svc.cluster.local'],
      port: 8080,
    });
    const pods = parseYaml(files['k8s/base/front-door.yaml']!.split(/^---$/m)[2]!);
    expect(pods).toMatchObject({
      kind: 'Service',
      metadata: { name: 'mcml-front-door-pods' },
      spec: { clusterIP: 'None', publishNotReadyAddresses: true },
    });
  });

  it('without a front door (dns mode) nothing scrapes or alerts on one', () => {
    const direct = loadSpec('three-clouds.yaml', (t) => t.replace('mode: both', 'mode: dns'));
    const f = render(direct, threeCloudsPlan(direct)).files;
    expect(f['k8s/base/prometheus-cluster.yml']).not.toContain('mcml-front-door');
    expect(f['monitoring/prometheus.yml']).not.toContain('front_door');
    expect(f['monitoring/rules.yml']).not.toContain('McmlFrontDoor');
  });

  it('alerts fire as specified (promtool test rules)', () => {
    const test = {
      rule_files: ['rules.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // 10 req/s on aws, 1 in 10 a 500; p99 ~ 0.75 s; gcp fine.
            {
              series:
                'mcml_http_requests_total{route="/v2/models/{name}/infer",status="200",cloud="aws",target="aws-primary"}',
              values: '0+540x15',
            },
            {
              series:
                'mcml_http_requests_total{route="/v2/models/{name}/infer",status="500",cloud="aws",target="aws-primary"}',
              values: '0+60x15',
            },
            {
              series:
                'mcml_http_request_duration_seconds_bucket{route="/v2/models/{name}/infer",cloud="aws",le="0.5"}',
              values: '0+0x15',
            },
            {
              series:
                'mcml_http_request_duration_seconds_bucket{route="/v2/models/{name}/infer",cloud="aws",le="1"}',
              values: '0+600x15',
            },
            {
              series:
                'mcml_http_request_duration_seconds_bucket{route="/v2/models/{name}/infer",cloud="aws",le="+Inf"}',
              values: '0+600x15',
            },
            { series: 'mcml_target_up{target="aws-primary"}', values: '1 1 0 0 0 0 0 0' },
            // aws-primary: ready replicas until minute 3, then every pod gone (no series at
            // all: headless discovery lists ready pods only); gcp one ready pod throughout;
            // azure never reported (its cluster cannot be reached).
            {
              series: 'mcml_server_ready{cloud="aws",target="aws-primary",instance="a"}',
              values: '1 1 1 _ _ _ _ _ _ _ _',
            },
            {
              series: 'mcml_server_ready{cloud="aws",target="aws-primary",instance="b"}',
              values: '1 1 1 0 _ _ _ _ _ _ _',
            },
            {
              series: 'mcml_server_ready{cloud="gcp",target="gcp-secondary",instance="c"}',
              values: '1 1 1 1 1 1 1 1 1 1 1',
            },
            // GPU: hot and full on gcp.
            {
              series:
                'DCGM_FI_DEV_GPU_TEMP{cloud="gcp",target="gcp-secondary",Hostname="n1",gpu="0"}',
              values: '90+0x15',
            },
            {
              series:
                'DCGM_FI_DEV_FB_USED{cloud="gcp",target="gcp-secondary",Hostname="n1",gpu="0"}',
              values: '15000+0x15',
            },
            {
              series:
                'DCGM_FI_DEV_FB_FREE{cloud="gcp",target="gcp-secondary",Hostname="n1",gpu="0"}',
              values: '100+0x15',
            },
            {
              series: 'mcml_failovers_total{from="aws-primary",to="gcp-secondary",reason="health"}',
              values: '0 0 0 1 1 1 1 1',
            },
            // Front doors, as federated: aws's answers until 3m, then its pods are gone (no
            // series); gcp's answers throughout but has no tier from 1m; azure's never reported.
            {
              series:
                'up{job="mcml-front-door",front_door="aws-primary",front_door_cloud="aws",instance="10.0.0.1:8080"}',
              values: '1 1 1 _ _ _ _ _ _ _ _',
            },
            {
              series:
                'up{job="mcml-front-door",front_door="gcp-secondary",front_door_cloud="gcp",instance="10.1.0.1:8080"}',
              values: '1+0x15',
            },
            {
              series:
                'mcml_active_target{job="mcml-front-door",front_door="gcp-secondary",front_door_cloud="gcp",target="gcp-secondary",cloud="gcp"}',
              values: '1 0 0 0 0 0 0 0 0 0 0 0 0 0 0',
            },
            {
              series:
                'mcml_active_target{job="mcml-front-door",front_door="gcp-secondary",front_door_cloud="gcp",target="aws-primary",cloud="aws"}',
              values: '0+0x15',
            },
          ],
          alert_rule_test: [
            {
              eval_time: '10m',
              alertname: 'McmlHighErrorRatio',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', cloud: 'aws' },
                  exp_annotations: {
                    summary: 'More than 5% of requests on aws fail',
                    description: 'Error ratio is 10% over 5 minutes.',
                  },
                },
              ],
            },
            {
              eval_time: '10m',
              alertname: 'McmlHighP99Latency',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', cloud: 'aws' },
                  exp_annotations: {
                    summary: 'p99 latency on aws is above 500 ms',
                    description: 'p99 is 995ms over 5 minutes.',
                  },
                },
              ],
            },
            {
              eval_time: '5m',
              alertname: 'McmlTargetDown',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', target: 'aws-primary' },
                  exp_annotations: {
                    summary: 'Target aws-primary fails its health checks',
                    description:
                      'The failover controller has marked aws-primary down for 1 minute.',
                  },
                },
              ],
            },
            {
              eval_time: '4m',
              alertname: 'McmlFailover',
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'warning',
                    from: 'aws-primary',
                    to: 'gcp-secondary',
                    reason: 'health',
                  },
                  exp_annotations: {
                    summary: 'Traffic failed over from aws-primary to gcp-secondary',
                    description: 'Reason: health.',
                  },
                },
              ],
            },
            { eval_time: '1m', alertname: 'McmlTargetDown', exp_alerts: [] },
            // Ready until 3m; the last series goes stale 5m after its last sample (the rule
            // sees it until then, as a real Prometheus would without a staleness marker), and
            // downFor (2m) later the alert fires for aws; azure fires from the start.
            {
              eval_time: '2m',
              alertname: 'McmlNoReadyReplica',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', cloud: 'azure', target: 'azure-tertiary' },
                  exp_annotations: {
                    summary:
                      'No ready replica of azure-tertiary (azure), or its cluster cannot be reached',
                    description: 'No replica of azure-tertiary has reported ready for 2m.',
                  },
                },
              ],
            },
            {
              eval_time: '10m',
              alertname: 'McmlNoReadyReplica',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', cloud: 'aws', target: 'aws-primary' },
                  exp_annotations: {
                    summary:
                      'No ready replica of aws-primary (aws), or its cluster cannot be reached',
                    description: 'No replica of aws-primary has reported ready for 2m.',
                  },
                },
                {
                  exp_labels: { severity: 'critical', cloud: 'azure', target: 'azure-tertiary' },
                  exp_annotations: {
                    summary:
                      'No ready replica of azure-tertiary (azure), or its cluster cannot be reached',
                    description: 'No replica of azure-tertiary has reported ready for 2m.',
                  },
                },
              ],
            },
            {
              eval_time: '10m',
              alertname: 'McmlFrontDoorDown',
              exp_alerts: ['aws', 'azure'].map((cloud) => {
                const t = cloud === 'aws' ? 'aws-primary' : 'azure-tertiary';
                return {
                  exp_labels: { severity: 'critical', cloud, target: t, front_door: t },
                  exp_annotations: {
                    summary: `No front door answers in ${t}'s cluster (${cloud}), or the cluster cannot be reached`,
                    description: `No front door pod of ${t} has been scraped for 2m; the DNS failover records send its clients to the next tier's front door.`,
                  },
                };
              }),
            },
            {
              eval_time: '2m',
              alertname: 'McmlFrontDoorNoTier',
              exp_alerts: [],
            },
            {
              eval_time: '4m',
              alertname: 'McmlFrontDoorNoTier',
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'critical',
                    cloud: 'gcp',
                    target: 'gcp-secondary',
                    front_door: 'gcp-secondary',
                  },
                  exp_annotations: {
                    summary:
                      "The front door in gcp-secondary's cluster (gcp) has no healthy tier to send traffic to",
                    description:
                      "Every target is down as seen from gcp-secondary's cluster for 2m.",
                  },
                },
              ],
            },
            {
              eval_time: '12m',
              alertname: 'McmlGpuHot',
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'warning',
                    cloud: 'gcp',
                    target: 'gcp-secondary',
                    Hostname: 'n1',
                    gpu: '0',
                  },
                  exp_annotations: {
                    summary: 'GPU 0 on n1 (gcp-secondary) is above 85 °C',
                    description: 'It is at 90 °C and will throttle.',
                  },
                },
              ],
            },
            {
              eval_time: '12m',
              alertname: 'McmlGpuMemoryFull',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', cloud: 'gcp', target: 'gcp-secondary' },
                  exp_annotations: {
                    summary: 'GPU memory of gcp-secondary (gcp) is over 95% used',
                    description: 'Used: 99.34%.',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'monitoring/rules.test.yml'), JSON.stringify(test));
    const r = promtool(['test', 'rules', 'rules.test.yml'], join(dir, 'monitoring'));
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });

  it('the Grafana dashboard shows traffic, latency, errors by cloud, the active target and replicas', () => {
    const d = JSON.parse(files['monitoring/grafana-dashboard.json']!);
    const exprs = d.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr)).join('\n');
    for (const m of [
      'cloud:mcml_requests:rate5m',
      'cloud:mcml_request_duration_seconds:p99_5m',
      'cloud:mcml_request_errors:ratio_rate5m',
      'mcml_active_target',
      'target:mcml_ready_replicas:count',
      // Each cluster's front door: its traffic and where it sends it.
      'sum by (front_door, code) (rate(mcml_proxy_requests_total{job="mcml-front-door"}[5m]))',
      'mcml_active_target{job="mcml-front-door"} == 1',
    ]) {
      expect(exprs).toContain(m);
    }
    void execFileSync;
  });
});
