import { mkdtemp, rm, writeFile, readFile, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/storage.js';
import { McmlError } from '../../src/core/errors.js';
import type { Attribution } from '../../src/core/cost/types.js';
import { importFocusFiles } from '../../src/engines/cost/import.js';
import { openCostStore, type CostStore } from '../../src/engines/cost/store.js';
import { writeSampleCsv, writeSampleParquet } from './focus-samples.js';

const SERVICE = 'ml-inference';
const MONTH = { from: '2026-11-01', to: '2026-11-30' };
let dir: string;
let samples: string;
let store: CostStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-cost-'));
  samples = join(dir, 'exports');
  await mkdir(samples);
  const common = { rows: 400, month: '2026-11', service: SERVICE };
  await writeSampleCsv(join(samples, 'aws-focus-00001.csv'), {
    ...common,
    provider: 'aws',
    seed: 1,
  });
  await writeSampleCsv(join(samples, 'gcp-focus.csv.gz'), { ...common, provider: 'gcp', seed: 2 });
  await writeSampleParquet(join(samples, 'azure-focuscost.parquet'), {
    ...common,
    provider: 'azure',
    seed: 3,
  });
  await writeSampleParquet(join(samples, 'aws-focus-00002.snappy.parquet'), {
    ...common,
    provider: 'aws',
    seed: 4,
    month: '2026-10',
  });
  await writeSampleCsv(join(samples, 'azure-focus-1.3.csv'), {
    ...common,
    provider: 'azure',
    seed: 5,
    month: '2026-10',
    focus13: true,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  store = await openCostStore(join(dir, `store-${Math.random().toString(36).slice(2)}.duckdb`));
});
afterEach(() => store.close());

const run = (sources: string[]) =>
  importFocusFiles({
    store,
    sources,
    baseDir: dir,
    openStore: (uri) => openStore(uri),
    tmpDir: join(dir, 'tmp'),
    now: () => new Date('2026-12-02T00:00:00Z'),
  });

const all: Attribution = { mode: 'all', service: SERVICE, accounts: {} };

/** Totals per cloud and currency from the store, through the report query. */
async function storeTotals(range = { from: '2026-10-01', to: '2026-11-30' }, attribution = all) {
  const daily = await store.dailyCosts({ range, by: 'cloud', attribution });
  const sums = new Map<string, number>();
  for (const d of daily) {
    const k = `${d.cloud}/${d.currency}`;
    sums.set(k, (sums.get(k) ?? 0) + d.billed);
  }
  return sums;
}

/**
 * The independent sum: plain DuckDB over the files themselves, BilledCost by ProviderName
 * and currency, without mcml's projection.
 */
async function independentTotals(files: string[], where = 'TRUE'): Promise<Map<string, number>> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const sums = new Map<string, number>();
  const cloud: Record<string, string> = { AWS: 'aws', 'Google Cloud': 'gcp', Microsoft: 'azure' };
  for (const f of files) {
    const reader = f.endsWith('.parquet')
      ? `read_parquet('${f}')`
      : `read_csv('${f}', header = true, all_varchar = true)`;
    const rows = (
      await c.runAndReadAll(
        `SELECT ProviderName AS p, BillingCurrency AS cur, sum(BilledCost::DOUBLE) AS s FROM ${reader} WHERE ${where} GROUP BY ALL`,
      )
    ).getRowObjectsJson() as { p: string; cur: string; s: number }[];
    for (const r of rows) {
      const k = `${cloud[r.p]}/${r.cur}`;
      sums.set(k, (sums.get(k) ?? 0) + Number(r.s));
    }
  }
  c.closeSync();
  db.closeSync();
  return sums;
}

function expectSameTotals(actual: Map<string, number>, expected: Map<string, number>) {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [k, v] of expected) expect(actual.get(k), k).toBeCloseTo(v, 6);
}

const sampleFiles = () =>
  [
    'aws-focus-00001.csv',
    'gcp-focus.csv.gz',
    'azure-focuscost.parquet',
    'aws-focus-00002.snappy.parquet',
    'azure-focus-1.3.csv',
  ].map((f) => join(samples, f));

describe('mcml cost import', () => {
  it('imports a folder of AWS, Google and Azure exports: per-cloud totals equal an independent sum', async () => {
    const report = await run([samples]);
    expect(report.files).toHaveLength(5);
    expect(report.rows).toBe(2000);
    const totals = await storeTotals();
    expectSameTotals(totals, await independentTotals(sampleFiles()));
    // Several currencies are kept apart: the euro account is its own line.
    expect(totals.get('gcp/EUR')).toBeCloseTo(42, 6);
    // Credits, refunds, purchases and taxes are all in BilledCost.
    const byCategory = await store.query<{ charge_category: string; b: number }>(
      `SELECT charge_category, sum(billed_cost) AS b FROM charges WHERE cloud = 'aws' AND day < '2026-11-07' AND day >= '2026-11-01' AND charge_class IS DISTINCT FROM 'Correction' AND charge_category <> 'Usage' GROUP BY ALL ORDER BY 1`,
    );
    expect(byCategory).toEqual([
      { charge_category: 'Credit', b: -15.5 },
      { charge_category: 'Purchase', b: 120 },
      { charge_category: 'Tax', b: 7.77 },
    ]);
  });

  it('reads the versions apart: 1.3 provider, allocation and contract columns, x_ columns, tags', async () => {
    const report = await run([samples]);
    const versions = Object.fromEntries(
      report.files.map((f) => [f.source.split('/').pop(), f.focusVersion]),
    );
    expect(versions['azure-focus-1.3.csv']).toBe('1.3');
    expect(versions['aws-focus-00001.csv']).toBe('1.0');
    expect(
      report.files.find((f) => f.source.endsWith('aws-focus-00001.csv'))!.extensionColumns,
    ).toEqual(['x_CostCategories', 'x_Discounts', 'x_Operation', 'x_ServiceCode', 'x_UsageType']);
    const [v13] = await store.query<Record<string, string>>(
      `SELECT service_provider_name, host_provider_name, allocated_method_id, contract_applied
       FROM charges WHERE contract_applied IS NOT NULL LIMIT 1`,
    );
    expect(v13!.service_provider_name).toBe('Microsoft');
    expect(v13!.allocated_method_id).toBe('even-split');
    expect(JSON.parse(v13!.contract_applied!).Elements[0].ContractId).toBe('C-1');
    const [extra] = await store.query<{ extra: string }>(
      `SELECT extra FROM charges WHERE cloud = 'azure' AND extra LIKE '%x_SkuDetails%' LIMIT 1`,
    );
    expect(JSON.parse(extra!.extra).x_ResourceGroupName).toBe('mcml');
    // A tag value with a comma and quotes survives CSV quoting and JSON.
    const quoted = await store.query<{ tags: string; tag_target: string }>(
      `SELECT tags, tag_target FROM charges WHERE tags LIKE '%quoted%' ORDER BY cloud`,
    );
    expect(quoted.length).toBeGreaterThanOrEqual(3);
    for (const q of quoted)
      expect(JSON.stringify(JSON.parse(q.tags))).toContain('a, \\"quoted\\" value');
  });

  it('attributes rows by the mcml tags (AWS user: prefix, Google key/value lists, Azure objects)', async () => {
    await run([samples]);
    const tagged = await storeTotals(undefined, { mode: 'tags', service: SERVICE, accounts: {} });
    const expected = await independentTotals(sampleFiles(), `Tags::VARCHAR LIKE '%mcml-service%'`);
    expectSameTotals(tagged, expected);
    const targets = await store.dailyCosts({
      range: MONTH,
      by: 'target',
      attribution: { mode: 'tags', service: SERVICE, accounts: {} },
    });
    expect([...new Set(targets.map((t) => t.key))].sort()).toEqual([
      'aws-use1',
      'azure-eus',
      'gcp-usc1',
    ]);
  });

  it('attributes rows by account, project and subscription per target', async () => {
    await run([samples]);
    const attribution: Attribution = {
      mode: 'accounts',
      service: SERVICE,
      accounts: {
        '111122223333': 'aws-use1',
        'mcml-prod': 'gcp-usc1',
        '6b0a1c3e-1f3d-4b7e-9c2a-2f4b8d7e6a10': 'azure-eus',
      },
    };
    const byTarget = await store.dailyCosts({ range: MONTH, by: 'target', attribution });
    expect([...new Set(byTarget.map((t) => t.key))].sort()).toEqual([
      'aws-use1',
      'azure-eus',
      'gcp-usc1',
    ]);
    const expected = await independentTotals(
      sampleFiles(),
      `SubAccountId IN ('111122223333', 'mcml-prod', '/subscriptions/6b0a1c3e-1f3d-4b7e-9c2a-2f4b8d7e6a10') AND BillingPeriodStart::VARCHAR LIKE '2026-11%'`,
    );
    expectSameTotals(await storeTotals(MONTH, attribution), expected);
  });

  it('re-importing the same files, or the same billing period again, replaces and never double counts', async () => {
    await run([samples]);
    const once = await storeTotals();
    const again = await run([samples]);
    expect(again.replaced).toBe(2000);
    expectSameTotals(await storeTotals(), once);
    // The same period delivered again under another name (an export re-run) replaces it too.
    const copy = join(dir, 'aws-rerun.csv');
    await copyFile(join(samples, 'aws-focus-00001.csv'), copy);
    const rerun = await run([copy]);
    expect(rerun.replaced).toBe(400);
    expectSameTotals(await storeTotals(), once);
    const [{ n }] = (await store.query<{ n: string }>(`SELECT count(*) AS n FROM charges`)) as [
      { n: string },
    ];
    expect(Number(n)).toBe(2000);
  });

  it('reports read a daily rollup that matches the charges, and a store from before it gets one', async () => {
    await run([samples]);
    await run([join(samples, 'aws-focus-00001.csv')]);
    const fromCharges = async () => {
      const rows = await store.query<{ k: string; b: number }>(
        `SELECT concat_ws('/', cloud, currency, day, tag_target, sub_account_id) AS k, sum(billed_cost) AS b
         FROM charges GROUP BY ALL ORDER BY 1`,
      );
      return new Map(rows.map((r) => [r.k, Number(r.b)]));
    };
    const fromRollup = async () => {
      const rows = await store.query<{ k: string; b: number }>(
        `SELECT concat_ws('/', cloud, currency, day, tag_target, sub_account_id) AS k, sum(billed) AS b
         FROM daily_costs GROUP BY ALL ORDER BY 1`,
      );
      return new Map(rows.map((r) => [r.k, Number(r.b)]));
    };
    const expected = await fromCharges();
    expectSameTotals(await fromRollup(), expected);
    // A store written before the rollup existed: opening it builds the rollup from its charges.
    await store.connection.run('DROP TABLE daily_costs');
    const path = store.path;
    store.close();
    store = await openCostStore(path);
    expectSameTotals(await fromRollup(), expected);
    expectSameTotals(await storeTotals(), await independentTotals(sampleFiles()));
  });

  it('refuses a file that is not FOCUS, naming the missing columns', async () => {
    const file = join(dir, 'not-focus.csv');
    await writeFile(file, 'date,amount,service\n2026-11-01,3.5,ec2\n');
    const error = await run([file]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McmlError);
    expect((error as McmlError).code).toBe('INVALID_ARGUMENT');
    expect((error as McmlError).message).toContain(
      'missing columns BilledCost, EffectiveCost, BillingCurrency',
    );
    expect((error as McmlError).message).toContain('ProviderName or ServiceProviderName');
  });

  describe('a corrupt file is reported with the file and row, and nothing is imported', () => {
    const expectNothingImported = async () => {
      const [{ n }] = (await store.query<{ n: string }>(`SELECT count(*) AS n FROM charges`)) as [
        { n: string },
      ];
      expect(Number(n)).toBe(0);
    };

    it('a bad row in a CSV', async () => {
      const good = await readFile(join(samples, 'aws-focus-00001.csv'), 'utf8');
      const lines = good.split('\n');
      lines[101] = lines[101]!.replace(/^([^,]*),[^,]*,/, '$1,twelve dollars,');
      const file = join(dir, 'bad-row.csv');
      await writeFile(file, lines.join('\n'));
      // Beside a good file: the batch lands whole or not at all.
      const error = (await run([join(samples, 'gcp-focus.csv.gz'), file]).catch(
        (e: unknown) => e,
      )) as McmlError;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/bad-row\.csv: line 102 \(row 101\)/);
      expect(error.message).toContain('BilledCost');
      await expectNothingImported();
    });

    it('a column of the wrong type in a Parquet file', async () => {
      const file = join(dir, 'wrong-type.parquet');
      const db = await DuckDBInstance.create(':memory:');
      const c = await db.connect();
      await c.run(
        `COPY (SELECT * EXCLUDE (file_row_number)
                 REPLACE (CASE WHEN file_row_number = 250 THEN 'n/a' ELSE BilledCost::VARCHAR END AS BilledCost)
               FROM read_parquet('${join(samples, 'azure-focuscost.parquet')}', file_row_number = true))
         TO '${file}' (FORMAT parquet)`,
      );
      c.closeSync();
      db.closeSync();
      const error = (await run([file]).catch((e: unknown) => e)) as McmlError;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(
        'wrong-type.parquet: row 251: column BilledCost: not a number ("n/a")',
      );
      await expectNothingImported();
    });

    it('a truncated gzip', async () => {
      const whole = gzipSync(await readFile(join(samples, 'aws-focus-00001.csv')));
      const file = join(dir, 'truncated.csv.gz');
      await writeFile(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
      const error = (await run([file]).catch((e: unknown) => e)) as McmlError;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/truncated\.csv\.gz: the gzip data is corrupt or truncated/);
      await expectNothingImported();
    });

    it('malformed JSON in Tags', async () => {
      const good = await readFile(join(samples, 'aws-focus-00001.csv'), 'utf8');
      const lines = good.split('\n');
      lines[51] = lines[51]!.replace(/"\{""user:mcml-service""/, '"{""user:mcml-service');
      const file = join(dir, 'bad-json.csv');
      await writeFile(file, lines.join('\n'));
      const error = (await run([file]).catch((e: unknown) => e)) as McmlError;
      expect(error.message).toContain('bad-json.csv: row 51: column Tags: not valid JSON');
      await expectNothingImported();
    });
  });
});
