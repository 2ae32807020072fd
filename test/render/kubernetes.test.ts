/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- parsed JSON/YAML/HCL documents */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { render } from '../../src/core/render/index.js';
import { examplePlan, loadSpec, threeCloudsPlan } from './fixtures.js';
import { validateObject } from './k8s-schema.js';

type Obj = Record<string, any>;

function kubectlPresent(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('Kubernetes manifests', { timeout: 120_000 }, () => {
  let dir: string;
  const built: Record<string, Obj[]> = {};
  const spec = loadSpec('three-clouds.yaml');
  const identities = {
    'aws-primary': {
      annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/x' },
    },
    'gcp-secondary': {
      annotations: { 'iam.gke.io/gcp-service-account': 'svc@proj.iam.gserviceaccount.com' },
    },
    'azure-tertiary': {
      annotations: { 'azure.workload.identity/client-id': '11111111-2222-3333-4444-555555555555' },
    },
  };
  const result = render(spec, threeCloudsPlan(spec), { identities });

  beforeAll(() => {
    if (!kubectlPresent()) {
      throw new Error(
        'kubectl is missing: install it (https://kubernetes.io/docs/tasks/tools/), e.g. apt-get install -y kubectl',
      );
    }
    dir = mkdtempSync(join(tmpdir(), 'mcml-k8s-'));
    for (const [path, content] of Object.entries(result.files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    for (const target of ['aws-primary', 'gcp-secondary', 'azure-tertiary']) {
      const out = execFileSync('kubectl', ['kustomize', join(dir, 'k8s/overlays', target)], {
        encoding: 'utf8',
      });
      built[target] = parseAllDocuments(out).map((d) => d.toJSON() as Obj);
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const find = (target: string, kind: string) =>
    built[target]!.find((o) => o.kind === kind && o.metadata.name.startsWith('ml-inference'))!;
  const container = (target: string) => find(target, 'Deployment').spec.template.spec.containers[0];
  const env = (target: string) =>
    Object.fromEntries(container(target).env.map((e: Obj) => [e.name, e.value]));

  it('every overlay builds with kubectl kustomize', () => {
    for (const objs of Object.values(built)) {
      expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        expect.stringMatching(/^ConfigMap\/mcml-front-door-[a-z0-9]+$/),
        expect.stringMatching(/^ConfigMap\/mcml-prometheus-[a-z0-9]+$/),
        'DaemonSet/mcml-dcgm-exporter',
        'Deployment/mcml-front-door',
        'Deployment/mcml-prometheus',
        'Deployment/ml-inference',
        'HorizontalPodAutoscaler/ml-inference',
        'Namespace/ml-inference',
        'PodDisruptionBudget/mcml-front-door',
        'PodDisruptionBudget/ml-inference',
        'Service/mcml-dcgm-exporter',
        'Service/mcml-front-door',
        'Service/mcml-front-door-pods',
        'Service/mcml-prometheus',
        'Service/ml-inference',
        'Service/ml-inference-pods',
        'ServiceAccount/ml-inference',
      ]);
    }
  });

  it('labels every object, and every pod template, with its service, target and cloud', () => {
    for (const [target, objs] of Object.entries(built)) {
      const cloud = target.split('-')[0];
      for (const o of objs) {
        const want = {
          'mcml.io/service': 'ml-inference',
          'mcml.io/target': target,
          'mcml.io/cloud': cloud,
        };
        expect(o.metadata.labels, `${target} ${o.kind}/${o.metadata.name}`).toMatchObject(want);
        if (o.spec?.template) expect(o.spec.template.metadata.labels).toMatchObject(want);
      }
    }
  });

  it('pods keep serving a few seconds after removal from endpoints (preStop before SIGTERM)', () => {
    for (const objs of Object.values(built)) {
      for (const d of objs.filter(
        (o) => o.kind === 'Deployment' && o.metadata.name !== 'mcml-prometheus',
      )) {
        const pod = d.spec.template.spec;
        const seconds = pod.containers[0].lifecycle.preStop.sleep.seconds as number;
        expect(seconds).toBeGreaterThanOrEqual(3);
        // The drain after SIGTERM (serve --drain-timeout 10s) still fits in the grace period.
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(seconds + 10);
      }
    }
  });

  it('GPU nodes run the DCGM exporter, scraped by the cluster Prometheus and federated', () => {
    for (const [target, objs] of Object.entries(built)) {
      const ds = objs.find((o) => o.kind === 'DaemonSet')!;
      const pod = ds.spec.template.spec;
      expect(pod.nodeSelector).toEqual({ workload: 'ml' });
      expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
      const c = pod.containers[0];
      expect(c.image).toMatch(/^nvcr\.io\/nvidia\/k8s\/dcgm-exporter:/);
      // It must not take a GPU from the service.
      expect(c.resources.limits['nvidia.com/gpu']).toBeUndefined();
      expect(c.ports[0].containerPort).toBe(9400);
      if (target.startsWith('gcp')) {
        expect(c.securityContext.privileged).toBe(true);
        expect(c.volumeMounts.map((m: Obj) => m.mountPath)).toContain('/usr/local/nvidia');
      } else expect(c.securityContext.privileged).toBeUndefined();
    }
    expect(result.files['k8s/base/prometheus-cluster.yml']).toContain(
      'mcml-dcgm-exporter.ml-inference.svc.cluster.local',
    );
  });

  describe('TLS at the edge and inference auth', () => {
    const edged = loadSpec('three-clouds.yaml', (t) =>
      t.replace(
        '    LOG_LEVEL: info\n',
        '    LOG_LEVEL: info\n  tls:\n    hosts: [ml.example.com]\n    issuer: letsencrypt-dns\n    gatewayClassName: { aws: envoy }\n  auth:\n    bearerTokenSecret: ml-inference-token\n',
      ),
    );
    const files = render(edged, threeCloudsPlan(edged)).files;
    let objects: Record<string, Obj[]> = {};
    beforeAll(() => {
      const tmp = mkdtempSync(join(tmpdir(), 'mcml-edge-'));
      try {
        for (const [path, content] of Object.entries(files)) {
          mkdirSync(dirname(join(tmp, path)), { recursive: true });
          writeFileSync(join(tmp, path), content);
        }
        objects = Object.fromEntries(
          ['aws-primary', 'gcp-secondary', 'azure-tertiary'].map((target) => [
            target,
            parseAllDocuments(
              execFileSync('kubectl', ['kustomize', join(tmp, 'k8s/overlays', target)], {
                encoding: 'utf8',
              }),
            ).map((d) => d.toJSON() as Obj),
          ]),
        );
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
    const of = (target: string, kind: string, name: string) =>
      objects[target]!.find((o) => o.kind === kind && o.metadata.name === name)!;

    it('every object, Gateway API and cert-manager ones too, is valid', async () => {
      for (const [target, objs] of Object.entries(objects)) {
        for (const o of objs) expect(await validateObject(o), `${target} ${o.kind}`).toEqual([]);
      }
      // The CRD check can fail.
      const bad = structuredClone(of('aws-primary', 'Gateway', 'mcml-edge'));
      bad.spec.listeners[0].protocol = 7;
      expect((await validateObject(bad)).join()).toMatch(/protocol/);
    });

    it('terminates TLS at a Gateway with a cert-manager certificate; Services stay inside', () => {
      for (const [target, objs] of Object.entries(objects)) {
        for (const svc of objs.filter((o) => o.kind === 'Service')) {
          expect(svc.spec.type ?? 'ClusterIP', `${target} ${svc.metadata.name}`).toBe('ClusterIP');
          expect(svc.metadata.annotations).toBeUndefined();
        }
        const cert = of(target, 'Certificate', 'mcml-edge');
        expect(cert.spec.issuerRef).toEqual({
          name: 'letsencrypt-dns',
          kind: 'ClusterIssuer',
          group: 'cert-manager.io',
        });
        const gw = of(target, 'Gateway', 'mcml-edge');
        expect(gw.spec.listeners[0]).toMatchObject({
          protocol: 'HTTPS',
          port: 443,
          tls: { certificateRefs: [{ name: cert.spec.secretName }] },
        });
        const route = of(target, 'HTTPRoute', 'mcml-edge');
        expect(route.spec.hostnames).toEqual(['ml.example.com']);
        expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'mcml-front-door', port: 80 }]);
        const redirect = of(target, 'HTTPRoute', 'mcml-edge-redirect');
        expect(redirect.spec.rules[0].filters[0].requestRedirect.scheme).toBe('https');
      }
      expect(of('aws-primary', 'Gateway', 'mcml-edge').spec.gatewayClassName).toBe('envoy');
      expect(of('gcp-secondary', 'Gateway', 'mcml-edge').spec.gatewayClassName).toBe(
        'gke-l7-regional-external-managed',
      );
      expect(of('azure-tertiary', 'Gateway', 'mcml-edge').spec.gatewayClassName).toBe(
        'azure-alb-external',
      );
      // aws-primary's endpoint is https://aws.ml.example.com: its Gateway answers that name
      // with the service itself (other clusters' front doors and health checks use it).
      expect(of('aws-primary', 'Certificate', 'mcml-edge').spec.dnsNames).toEqual([
        'ml.example.com',
        'aws.ml.example.com',
      ]);
      expect(of('aws-primary', 'HTTPRoute', 'mcml-edge-direct').spec.rules[0].backendRefs).toEqual([
        { name: 'ml-inference', port: 80 },
      ]);
      expect(of('gcp-secondary', 'Certificate', 'mcml-edge').spec.dnsNames).toEqual([
        'ml.example.com',
      ]);
    });

    it('serve requires the bearer token from the Secret; no token in any file', () => {
      const server = of('aws-primary', 'Deployment', 'ml-inference').spec.template.spec
        .containers[0];
      expect(server.args.slice(-2)).toEqual(['--auth-token-env', 'MCML_INFERENCE_TOKEN']);
      expect(server.env).toContainEqual({
        name: 'MCML_INFERENCE_TOKEN',
        valueFrom: { secretKeyRef: { name: 'ml-inference-token', key: 'token' } },
      });
      expect(Object.keys(files).some((p) => /secret/i.test(p))).toBe(false);
      for (const objs of Object.values(objects)) {
        expect(objs.some((o) => o.kind === 'Secret')).toBe(false);
      }
    });
  });

  it('a CPU service renders no DCGM exporter', () => {
    const cpu = loadSpec('three-clouds.yaml', (t) => t.replace(/\n {4}gpu:\n(?: {6}.*\n)+/, '\n'));
    expect(cpu.service.resources.gpu).toBeUndefined();
    const files = render(cpu, threeCloudsPlan(cpu)).files;
    expect(files['k8s/base/dcgm-exporter.yaml']).toBeUndefined();
    expect(files['k8s/base/prometheus-cluster.yml']).not.toContain('dcgm');
    expect(files['monitoring/rules.yml']).not.toContain('DCGM');
  });

  it("sizes a large model's cache, start-up budget and node disks from cacheSize", () => {
    const big = loadSpec('three-clouds.yaml', (t) =>
      t.replace('    name: iris\n', '    name: iris\n    cacheSize: 200Gi\n'),
    );
    const files = render(big, threeCloudsPlan(big)).files;
    const deployment = parseAllDocuments(files['k8s/base/deployment.yaml']!)
      .map((d) => d.toJSON() as Obj)
      .find((o) => o.kind === 'Deployment')!;
    const pod = deployment.spec.template.spec;
    const server = pod.containers.find((c: Obj) => c.name === 'server');
    expect(pod.volumes).toContainEqual({ name: 'model-cache', emptyDir: { sizeLimit: '200Gi' } });
    expect(server.resources.requests['ephemeral-storage']).toBe('200Gi');
    // 10 s per GiB: 2,000 s to start, probed every 5 s; the rollout is stuck only past that.
    expect(server.startupProbe.failureThreshold).toBe(400);
    expect(deployment.spec.progressDeadlineSeconds).toBe(2120);
    for (const cloud of ['aws', 'gcp', 'azure'])
      expect(files[`terraform/${cloud}/main.tf`]).toMatch(/node_disk_gb\s+= 280\n/);

    // The default (20Gi) keeps the modules' disks and Kubernetes' 10-minute deadline.
    const small = render(spec, threeCloudsPlan(spec)).files;
    expect(small['terraform/aws/main.tf']).toMatch(/node_disk_gb\s+= 100\n/);
    expect(small['terraform/azure/main.tf']).toMatch(/node_disk_gb\s+= 128\n/);
  });

  it('every object is valid against the Kubernetes OpenAPI schema', async () => {
    for (const [target, objs] of Object.entries(built)) {
      for (const o of objs) expect(await validateObject(o), `${target} ${o.kind}`).toEqual([]);
    }
  });

  it('the validator catches unknown fields, wrong types and missing required fields', async () => {
    const d = structuredClone(find('aws-primary', 'Deployment'));
    d.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
    d.spec.template.spec.containers[0].ports[0].containerPort = '8000';
    delete d.spec.selector;
    const problems = (await validateObject(d)).join('\n');
    expect(problems).toMatch(/imagePullPolicyy: unknown field/);
    expect(problems).toMatch(/containerPort must be integer/);
    expect(problems).toMatch(/required property selector/);
  });

  it('configures each cloud without placeholders: env, model path, identity, load balancer', () => {
    expect(env('aws-primary')).toMatchObject({
      CLOUD_PROVIDER: 'aws',
      REGION: 'us-east-1',
      TARGET: 'aws-primary',
      MODEL_PATH: 's3://mcml-demo-models/ml-inference/models/iris.onnx',
      MODEL_NAME: 'iris',
    });
    expect(env('gcp-secondary')).toMatchObject({
      CLOUD_PROVIDER: 'gcp',
      MODEL_PATH: 'gs://mcml-demo-models-gcp/models/iris.onnx',
    });
    expect(env('azure-tertiary')).toMatchObject({
      CLOUD_PROVIDER: 'azure',
      LOG_LEVEL: 'debug',
    });
    expect(env('azure-tertiary').MODEL_PATH).toMatch(
      /^az:\/\/[a-z0-9]{3,24}\/mcml\/models\/iris\.onnx$/,
    );
    expect(env('aws-primary').LOG_LEVEL).toBe('info');
    for (const objs of Object.values(built))
      expect(JSON.stringify(objs)).not.toMatch(/REPLACE|TODO|CHANGEME/);

    expect(find('aws-primary', 'ServiceAccount').metadata.annotations).toEqual(
      identities['aws-primary'].annotations,
    );
    expect(find('gcp-secondary', 'ServiceAccount').metadata.annotations).toEqual(
      identities['gcp-secondary'].annotations,
    );
    expect(find('azure-tertiary', 'ServiceAccount').metadata.annotations).toEqual(
      identities['azure-tertiary'].annotations,
    );
    expect(
      find('azure-tertiary', 'Deployment').spec.template.metadata.labels[
        'azure.workload.identity/use'
      ],
    ).toBe('true');

    expect(
      find('aws-primary', 'Service').metadata.annotations[
        'service.beta.kubernetes.io/aws-load-balancer-type'
      ],
    ).toBe('nlb');
    expect(find('gcp-secondary', 'Service').metadata.annotations['cloud.google.com/l4-rbs']).toBe(
      'enabled',
    );
    expect(
      find('azure-tertiary', 'Service').metadata.annotations[
        'service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path'
      ],
    ).toBe('/v2/health/ready');
    expect(container('azure-tertiary').image).toBe('ghcr.io/mcml-dev/mcml:0.1.0-azure');
    expect(container('aws-primary').image).toBe('ghcr.io/mcml-dev/mcml:0.1.0');
  });

  it('schedules on GPUs per cloud, probes the v2 health endpoints and is scraped', () => {
    for (const target of Object.keys(built)) {
      const c = container(target);
      expect(c.resources.limits['nvidia.com/gpu']).toBe('1');
      expect(c.resources.requests['nvidia.com/gpu']).toBe('1');
      expect(c.ports[0].containerPort).toBe(8000);
      expect(c.livenessProbe.httpGet.path).toBe('/v2/health/live');
      expect(c.readinessProbe.httpGet.path).toBe('/v2/health/ready');
      expect(c.args).toEqual([
        'serve',
        '--port',
        '8000',
        '--download-streams',
        '4',
        '--device',
        'cuda',
      ]);
      const pod = find(target, 'Deployment').spec.template;
      expect(pod.metadata.annotations['prometheus.io/scrape']).toBe('true');
      expect(pod.spec.tolerations).toContainEqual({
        key: 'nvidia.com/gpu',
        operator: 'Exists',
        effect: 'NoSchedule',
      });
      expect(pod.spec.nodeSelector.workload).toBe('ml');
    }
    expect(
      find('gcp-secondary', 'Deployment').spec.template.spec.nodeSelector[
        'cloud.google.com/gke-accelerator'
      ],
    ).toBe('nvidia-tesla-t4');
    expect(
      find('aws-primary', 'Deployment').spec.template.spec.nodeSelector[
        'cloud.google.com/gke-accelerator'
      ],
    ).toBeUndefined();
    // AKS spot nodes carry a taint of their own.
    expect(find('azure-tertiary', 'Deployment').spec.template.spec.tolerations).toContainEqual({
      key: 'kubernetes.azure.com/scalesetpriority',
      operator: 'Equal',
      value: 'spot',
      effect: 'NoSchedule',
    });
  });

  it("autoscales between the plan's min and max on the spec's CPU target", () => {
    const hpa = find('aws-primary', 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(hpa.spec.metrics[0].resource.target.averageUtilization).toBe(70);
    expect(find('aws-primary', 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  });
});

describe('Kubernetes manifests of the examples', { timeout: 120_000 }, () => {
  it.each(['three-clouds', 'residency'])('%s: every overlay builds and validates', async (name) => {
    const dir = mkdtempSync(join(tmpdir(), 'mcml-k8s-ex-'));
    try {
      const { files } = examplePlan(name);
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      const overlays = Object.keys(files)
        .filter((p) => p.endsWith('/kustomization.yaml') && p.includes('/overlays/'))
        .map((p) => dirname(p));
      expect(overlays.length).toBeGreaterThan(0);
      for (const overlay of overlays) {
        const out = execFileSync('kubectl', ['kustomize', join(dir, overlay)], {
          encoding: 'utf8',
        });
        for (const doc of parseAllDocuments(out)) {
          const o = doc.toJSON() as Obj;
          expect(await validateObject(o), `${overlay} ${o.kind}`).toEqual([]);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
