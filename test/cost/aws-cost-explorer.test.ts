/**
 * AWS Cost Explorer through @aws-sdk/client-cost-explorer against moto_server: results are
 * seeded through moto's /moto-api/static/ce/cost-and-usage-results queue (two pages), and a
 * fault proxy answers ThrottlingException / AccessDeniedException like AWS. The same moto
 * serves S3 for importing FOCUS exports from an s3:// prefix through the storage adapter.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CostExplorerClient } from '@aws-sdk/client-cost-explorer';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsCostExplorerSource } from '../../src/adapters/billing/aws-cost-explorer.js';
import { openStore } from '../../src/adapters/storage.js';
import { importFocusFiles } from '../../src/engines/cost/import.js';
import { openCostStore } from '../../src/engines/cost/store.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { runBillingSourceContract, type BillingFixtureLine } from '../contracts/billing-source.js';
import { startAwsFaultProxy } from './fault-proxy.js';
import { writeSampleCsv, writeSampleParquet } from './focus-samples.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
let moto: Moto;

beforeAll(async () => {
  moto = await startMoto();
}, 60_000);
afterAll(async () => {
  await moto?.stop();
});

/** Cost Explorer's answer for some fixture lines: one ResultByTime per day. */
function resultsByTime(lines: BillingFixtureLine[]) {
  const days = [...new Set(lines.map((l) => l.day))].sort();
  return days.map((day) => {
    const end = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    return {
      TimePeriod: { Start: day, End: end },
      Total: {},
      Groups: lines
        .filter((l) => l.day === day)
        .map((l) => ({
          Keys: [l.service, `mcml-target$${l.target}`],
          Metrics: {
            UnblendedCost: { Amount: String(l.billed), Unit: 'USD' },
            AmortizedCost: { Amount: String(l.effective), Unit: 'USD' },
          },
        })),
      Estimated: false,
    };
  });
}

async function seed(fixture: BillingFixtureLine[]): Promise<void> {
  const reset = await fetch(`${moto.endpoint}/moto-api/reset`, { method: 'POST' });
  expect(reset.ok).toBe(true);
  const first = fixture.filter((l) => l.day <= '2026-11-05');
  const second = fixture.filter((l) => l.day > '2026-11-05');
  const res = await fetch(`${moto.endpoint}/moto-api/static/ce/cost-and-usage-results`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      results: [
        {
          ResultsByTime: resultsByTime(first),
          NextPageToken: 'page-2',
          DimensionValueAttributes: [],
        },
        { ResultsByTime: resultsByTime(second), DimensionValueAttributes: [] },
      ],
    }),
  });
  expect(res.status).toBe(201);
}

runBillingSourceContract('AWS Cost Explorer on moto', 'aws', async (fixture) => {
  await seed(fixture);
  const proxy = await startAwsFaultProxy(moto.endpoint);
  const client = new CostExplorerClient({
    region: 'us-east-1',
    endpoint: proxy.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  });
  return {
    source: new AwsCostExplorerSource({ client }),
    throttleNext: (n) => proxy.throttleNext(n),
    deny: (on) => proxy.deny(on),
    calls: () => proxy.calls(),
    stop: async () => {
      client.destroy();
      await proxy.stop();
    },
  };
});

describe('FOCUS exports from an s3:// prefix', () => {
  it('imports every export under the prefix through the storage adapter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcml-cost-s3-'));
    const store = await openCostStore(':memory:');
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'acme-billing' }));
      const common = {
        rows: 200,
        month: '2026-11',
        service: 'ml-inference',
        provider: 'aws' as const,
      };
      await writeSampleCsv(join(dir, 'part-1.csv.gz'), { ...common, seed: 1 });
      await writeSampleParquet(join(dir, 'part-2.parquet'), {
        ...common,
        seed: 2,
        month: '2026-10',
      });
      for (const [key, file] of [
        ['focus/mcml/data/BILLING_PERIOD=2026-11/part-1.csv.gz', 'part-1.csv.gz'],
        ['focus/mcml/data/BILLING_PERIOD=2026-10/part-2.parquet', 'part-2.parquet'],
        ['focus/mcml/metadata/manifest.json', 'part-1.csv.gz'],
      ] as const) {
        await s3.send(
          new PutObjectCommand({
            Bucket: 'acme-billing',
            Key: key,
            Body: await readFile(join(dir, file)),
          }),
        );
      }
      const report = await importFocusFiles({
        store,
        sources: ['s3://acme-billing/focus/mcml/'],
        baseDir: dir,
        openStore: (uri) =>
          openStore(uri, {
            s3: {
              endpoint: moto.endpoint,
              credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
            },
          }),
        tmpDir: join(dir, 'tmp'),
        now: () => new Date(),
      });
      expect(report.files.map((f) => f.source)).toEqual([
        's3://acme-billing/focus/mcml/data/BILLING_PERIOD=2026-10/part-2.parquet',
        's3://acme-billing/focus/mcml/data/BILLING_PERIOD=2026-11/part-1.csv.gz',
      ]);
      expect(report.rows).toBe(400);
    } finally {
      store.close();
      s3.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
