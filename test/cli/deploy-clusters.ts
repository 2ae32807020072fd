/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON events */
/**
 * Three Kubernetes API server doubles behind one kubeconfig (contexts aws, gcp, azure), a spec
 * that targets them, a model server behind each service proxy, and the built CLI run against
 * them: what the deploy end-to-end tests share.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  kubeconfigYaml,
  startKubeApi,
  type KubeApiDouble,
  type RequestRecord,
  type ServiceHandler,
} from '../doubles/kube-apiserver.js';
import { mcml, type Run } from './run.js';

export const NS = 'ml-inference';
export const CONTEXTS = { 'aws-use1': 'aws', 'gcp-usc1': 'gcp', 'azure-eus': 'azure' } as const;
export type Target = keyof typeof CONTEXTS;

export function specText(
  o: { model?: string; scrape?: string; contexts?: Record<string, string | undefined> } = {},
) {
  const ctx = (t: Target) => {
    const c = o.contexts ? o.contexts[t] : CONTEXTS[t];
    return c === undefined ? '' : `, context: ${c}`;
  };
  return `version: 1
service:
  name: ml-inference
  image: ghcr.io/mcml-dev/mcml:0.1.0
  port: 8000
  model: { uri: s3://acme-models/${o.model ?? 'iris-1.onnx'}, name: iris }
  resources: { cpu: 4, memory: 16Gi, gpu: { model: T4, count: 1 } }
  replicas: { min: 2, max: 10, targetCpuUtilization: 70 }
targets:
  - { name: aws-use1, provider: aws, region: us-east-1, tier: 1, bucket: s3://acme-use1${ctx('aws-use1')} }
  - { name: gcp-usc1, provider: gcp, region: us-central1, tier: 2, bucket: gs://acme-usc1${ctx('gcp-usc1')} }
  - { name: azure-eus, provider: azure, region: eastus, tier: 3, bucket: az://acmestore/models${ctx('azure-eus')} }
strategy: { type: high-availability, minClouds: 3 }
monitoring: { scrapeInterval: ${o.scrape ?? '15s'} }
`;
}

/** A model server behind the service proxy: KServe v2 metadata and inference. */
function modelServer(failing: () => boolean): ServiceHandler {
  return (req) => {
    if (req.method === 'GET' && req.path === '/v2/models/iris') {
      return {
        status: 200,
        body: JSON.stringify({
          name: 'iris',
          inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
        }),
      };
    }
    if (req.method === 'POST' && req.path === '/v2/models/iris/infer') {
      if (failing())
        return { status: 500, body: JSON.stringify({ error: 'model failed to load' }) };
      const rows = (JSON.parse(req.body) as { inputs: { shape: number[] }[] }).inputs[0]!.shape[0]!;
      return {
        status: 200,
        body: JSON.stringify({
          model_name: 'iris',
          outputs: [{ name: 'label', datatype: 'INT64', shape: [rows], data: [0] }],
        }),
      };
    }
    return { status: 404, body: JSON.stringify({ path: req.path }) };
  };
}

export interface Clusters {
  apis: Record<Target, KubeApiDouble>;
  log: RequestRecord[];
  failing: Set<Target>;
  dir: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function threeClusters(
  options: {
    tokens?: Partial<Record<Target, string>>;
    withoutKinds?: Partial<Record<Target, string[]>>;
  } = {},
): Promise<Clusters> {
  const log: RequestRecord[] = [];
  const failing = new Set<Target>();
  const targets = Object.keys(CONTEXTS) as Target[];
  const started = await Promise.all(
    targets.map((t) =>
      startKubeApi({
        name: CONTEXTS[t],
        rolloutDelayMs: 200,
        log,
        ...(options.withoutKinds?.[t] ? { withoutKinds: options.withoutKinds[t] } : {}),
      }),
    ),
  );
  const apis = Object.fromEntries(targets.map((t, i) => [t, started[i]!])) as Record<
    Target,
    KubeApiDouble
  >;
  for (const t of targets)
    apis[t].routeService(
      NS,
      'ml-inference',
      modelServer(() => failing.has(t)),
    );
  const dir = mkdtempSync(join(tmpdir(), 'mcml-deploy-'));
  writeFileSync(
    join(dir, 'kubeconfig'),
    kubeconfigYaml(
      targets.map((t) => ({
        context: CONTEXTS[t],
        server: apis[t].server,
        token: options.tokens?.[t] ?? apis[t].token,
      })),
    ),
  );
  writeFileSync(join(dir, 'mcml.yaml'), specText());
  return {
    apis,
    log,
    failing,
    dir,
    env: { KUBECONFIG: join(dir, 'kubeconfig'), HOME: dir },
    stop: async () => {
      await Promise.all(targets.map((t) => apis[t].stop().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function deploy(c: Clusters, args: string[]): Promise<Run> {
  return mcml(args, { cwd: c.dir, env: c.env, timeoutMs: 120_000 });
}

export function events(run: Run): Record<string, any>[] {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

export function report(run: Run): Record<string, any> {
  return events(run).find((e) => e.type === 'done')!.report as Record<string, any>;
}

export function outcome(run: Run, target: Target): Record<string, any> {
  return (report(run).targets as Record<string, any>[]).find((o) => o.target === target)!;
}
