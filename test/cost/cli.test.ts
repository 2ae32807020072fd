/**
 * `mcml cost` as a user runs it (node bin/mcml): import sample exports of all three clouds,
 * report per cloud against the plan in text, JSON and CSV, and refuse bad input with exit 2.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CostReport } from '../../src/core/cost/report.js';
import { writeSampleCsv, writeSampleParquet } from './focus-samples.js';

const BIN = new URL('../../bin/mcml', import.meta.url).pathname;
const EXAMPLE = new URL('../../examples/three-clouds/mcml.yaml', import.meta.url).pathname;
const MODEL = new URL('../../models/iris.onnx', import.meta.url).pathname;
let dir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mcml(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-cost-cli-'));
  const spec = (await readFile(EXAMPLE, 'utf8')).replace('../../models/iris.onnx', MODEL);
  await writeFile(
    join(dir, 'mcml.yaml'),
    spec +
      `cost:
  accounts:
    aws-use1: "111122223333"
    gcp-usc1: mcml-prod
    azure-eus: 6b0a1c3e-1f3d-4b7e-9c2a-2f4b8d7e6a10
`,
  );
  await mkdir(join(dir, 'exports'));
  const common = { rows: 600, month: '2026-11', service: 'ml-inference' };
  await writeSampleCsv(join(dir, 'exports', 'aws.csv'), { ...common, provider: 'aws' });
  await writeSampleCsv(join(dir, 'exports', 'gcp.csv.gz'), { ...common, provider: 'gcp' });
  await writeSampleParquet(join(dir, 'exports', 'azure.parquet'), { ...common, provider: 'azure' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const RANGE = ['--from', '2026-11-01', '--to', '2026-11-30'];

describe('mcml cost', () => {
  it('imports a folder and reports per cloud against the plan', async () => {
    const imported = await mcml(['cost', 'import', 'exports', '-f', 'mcml.yaml']);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/imported 1,800 rows from 3 files/);

    const text = await mcml([
      'cost',
      'report',
      '-f',
      'mcml.yaml',
      ...RANGE,
      '--requests',
      'aws=1000000',
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^CLOUD +BILLED +EFFECTIVE +ESTIMATE +DRIFT +DAYS +PER 1K INF$/m);
    expect(text.stdout).toMatch(/^Cheapest: (aws|gcp|azure) /m);
    expect(text.stdout).toMatch(/^Budget 2026-11: \$[\d,.]+ of \$5,000\.00 spent/m);

    const json = await mcml(['cost', 'report', '-f', 'mcml.yaml', ...RANGE, '--json']);
    const report = JSON.parse(json.stdout) as CostReport & { attribution: string };
    expect(report.attribution).toBe('tags');
    expect(
      report.clouds
        .filter((c) => c.currency === 'USD')
        .map((c) => c.cloud)
        .sort(),
    ).toEqual(['aws', 'azure', 'gcp']);
    for (const c of report.clouds.filter((l) => l.currency === 'USD')) {
      expect(c.estimate).toBeGreaterThan(0);
      expect(c.driftPct).toBeCloseTo(((c.billed - c.estimate!) / c.estimate!) * 100, 1);
    }
    expect(report.clouds.find((c) => c.currency === 'EUR')).toMatchObject({
      cloud: 'gcp',
      billed: 42,
    });
    expect(report.daily.filter((d) => d.cloud === 'aws' && d.currency === 'USD')).toHaveLength(30);
  });

  it('groups by target and day, as CSV', async () => {
    const byTarget = await mcml([
      'cost',
      'report',
      '-f',
      'mcml.yaml',
      ...RANGE,
      '--by',
      'target',
      '--csv',
      '--attribution',
      'accounts',
    ]);
    expect(byTarget.code).toBe(0);
    const lines = byTarget.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      'target,cloud,currency,billed,effective,estimate,drift_pct,days_with_data,requests,per_1k,incomplete',
    );
    expect(
      lines
        .slice(1)
        .map((l) => l.split(',')[0])
        .sort(),
    ).toEqual(['aws-use1', 'azure-eus', 'gcp-usc1', 'gcp-usc1']);
    const byDay = await mcml([
      'cost',
      'report',
      '-f',
      'mcml.yaml',
      ...RANGE,
      '--by',
      'day',
      '--csv',
    ]);
    expect(
      byDay.stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('2026-11-15,')).length,
    ).toBe(3);
  });

  it('refuses a file that is not FOCUS with exit 2, naming the missing columns', async () => {
    await writeFile(
      join(dir, 'cur.csv'),
      'lineItem/UnblendedCost,lineItem/UsageStartDate\n1.5,2026-11-01\n',
    );
    const run = await mcml(['cost', 'import', 'cur.csv', '-f', 'mcml.yaml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /cur\.csv is not a FOCUS cost-and-usage file: missing columns BilledCost, EffectiveCost/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  // Six CLI runs one after another: on a loaded shared machine each takes seconds.
  it('refuses bad dates and an unknown --by with exit 2', { timeout: 180_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--from', '2026-11-30', '--to', '2026-11-01'],
        /--from 2026-11-30 is after --to 2026-11-01/,
      ],
      [
        ['--from', '2026-13-01', '--to', '2026-11-01'],
        /--from 2026-13-01 is not a day of the calendar/,
      ],
      [['--from', '1970-01-01', '--to', '1970-01-02'], /out of range/],
      [
        [...RANGE, '--by', 'region'],
        /--by must be one of cloud, target, service, day, got "region"/,
      ],
      [[...RANGE, '--json', '--csv'], /--json or --csv, not both/],
      [[...RANGE, '--requests', 'mars=5'], /"mars" is neither a cloud nor a target/],
    ];
    for (const [args, message] of cases) {
      const run = await mcml(['cost', 'report', '-f', 'mcml.yaml', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
