/**
 * `mcml failover run` with Route 53 failover records, end to end (bin/mcml against moto with
 * authentication enforced): the spec's three tiers become the chained PRIMARY/SECONDARY
 * record sets the rendered Terraform creates, each tier with a Route 53 health check, read
 * back from moto; the controller does not rewrite the record meanwhile (Route 53 fails over
 * by itself), and SIGTERM stops it (issue 12 #7, issue 14 #22).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateHostedZoneCommand,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto, type Moto } from '../helpers/moto.js';
import { startUpstream, type Upstream } from './upstreams.js';

const bin = join(import.meta.dirname, '../../bin/mcml');

describe('mcml failover run with Route 53 failover records (moto)', () => {
  let moto: Moto;
  let ups: Upstream[] = [];
  let dir: string;
  let client: Route53Client;
  let zoneId: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcml-r53-run-'));
    [moto, ...ups] = await Promise.all([
      startMoto({ auth: true }),
      startUpstream('aws', { host: '127.0.0.1' }),
      startUpstream('gcp', { host: '127.0.0.2' }),
      startUpstream('azure', { host: '127.0.0.3' }),
    ]);
    client = new Route53Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: moto.credentials,
    });
    const zone = await client.send(
      new CreateHostedZoneCommand({ Name: 'run.test', CallerReference: `run-${Date.now()}` }),
    );
    zoneId = zone.HostedZone!.Id!;
  });
  afterAll(async () => {
    client?.destroy();
    await Promise.all([moto?.stop(), ...ups.map((u) => u.stop())]);
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every tier as a chain with health checks, leaves the record to Route 53, stops on SIGTERM', async () => {
    const spec = join(dir, 'mcml.yaml');
    await writeFile(
      spec,
      `service:
  name: iris
  model: { uri: models/iris.onnx }
  resources: { cpu: 1, memory: 1Gi }
targets:
${ups.map((u) => `  - { name: ${u.name}, provider: local, region: local, endpoint: "${u.url}" }`).join('\n')}
failover:
  mode: both
  check: { interval: 500ms, timeout: 2s }
  frontDoor: { port: 0 }
  dns: { provider: route53, zone: run.test, record: ml.run.test, ttl: 30, route53Failover: true, endpoint: "${moto.endpoint}" }
`,
    );
    const child = spawn(process.execPath, [bin, 'failover', 'run', '-f', spec], {
      env: { ...process.env, ...moto.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not running: ${out}`)), 30_000);
        const check = () => {
          if (out.includes('Press Ctrl-C')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on('data', check);
        void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(out).toContain('route53: failover records aws → gcp → azure with health checks');
      const sets = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
      const chain = (sets.ResourceRecordSets ?? [])
        .filter((s) => s.Type === 'A' || s.Type === 'CNAME')
        .map((s) =>
          [
            s.Name,
            s.Type,
            s.Failover ?? '-',
            s.SetIdentifier ?? '-',
            s.ResourceRecords?.[0]?.Value ?? `alias ${s.AliasTarget?.DNSName}`,
            s.HealthCheckId ? 'hc' : '-',
          ].join(' '),
        )
        .sort();
      expect(chain).toEqual([
        'aws.lb.ml.run.test. A - - 127.0.0.1 -',
        'azure.lb.ml.run.test. A - - 127.0.0.3 -',
        'gcp.lb.ml.run.test. A - - 127.0.0.2 -',
        'ml.run.test. CNAME PRIMARY aws aws.lb.ml.run.test hc',
        expect.stringMatching(
          /^ml\.run\.test\. CNAME SECONDARY gcp-and-below alias tier2\.ml\.run\.test\.? -$/,
        ) as unknown as string,
        'tier2.ml.run.test. CNAME PRIMARY gcp gcp.lb.ml.run.test hc',
        'tier2.ml.run.test. CNAME SECONDARY azure azure.lb.ml.run.test hc',
      ]);
      const checks = await client.send(new ListHealthChecksCommand({}));
      expect(
        (checks.HealthChecks ?? [])
          .map(
            (h) =>
              `${h.HealthCheckConfig?.IPAddress}:${h.HealthCheckConfig?.Port}${h.HealthCheckConfig?.ResourcePath}`,
          )
          .sort(),
      ).toEqual(ups.map((u) => `${u.host}:${u.port}/v2/health/ready`).sort());
      // No plain record beside the failover sets: the controller leaves the name to Route 53.
      expect(out).not.toMatch(/dns: ml\.run\.test/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('failover stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
