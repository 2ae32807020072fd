/**
 * End to end: spawn `node bin/mcml` (built by `npm run build`, which `npm ci` runs) for plan,
 * validate and catalog, on the examples and on every kind of bad input.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = 'test/fixtures/specs';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function mcml(args: string[], env: Record<string, string> = {}, cwd = repo): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repo, 'bin/mcml'), ...args],
      {
        cwd,
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** One clear message on stderr: an "error:" line, no stack trace, nothing on stdout. */
function expectCleanInputError(run: Run, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^error: /);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
  expect(run.stderr).not.toMatch(/internal error/);
}

describe('mcml plan', () => {
  it('prints the placement table, totals, budget, comparison and reasons', async () => {
    const run = await mcml(['plan', 'examples/three-clouds/mcml.yaml']);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(
      /TIER\s+TARGET\s+CLOUD\/REGION\s+INSTANCE\s+GPU\s+CAPACITY\s+REPLICAS\s+\$\/H\s+\$\/MONTH/,
    );
    expect(out).toMatch(
      /1\s+aws-use1\s+aws\/us-east-1\s+g4dn\.xlarge\s+1×T4\s+1 on-demand \+ spot\s+2-10\s+\$0\.7105\s+\$518\.67/,
    );
    expect(out).toMatch(
      /2\s+gcp-usc1\s+gcp\/us-central1\s+n1-standard-8\s+1×T4\s+on-demand\s+2-10\s+\$1\.46\s+\$1,065\.80/,
    );
    expect(out).toMatch(/3\s+azure-eus\s+azure\/eastus\s+Standard_NC4as_T4_v3\s+1×T4\s+on-demand/);
    expect(out).toContain('Total: $3.22/h, $2,352.43/month');
    expect(out).toContain('Budget: $2,352.43 of $5,000.00/month (47.0%): within budget');
    expect(out).toMatch(/Same service on one cloud/);
    expect(out).toMatch(/gcp\s+us-central1\s+n1-standard-8\s+1×T4\s+\$1\.46\s+\$1,065\.80/);
    expect(out).toMatch(/high-availability: tiers follow the spec/);
    expect(out).toMatch(/train\s+us\s+gcp-usc1\s+50\s+aws internet\s+\$0\.0900\s+\$4\.50/);
  });

  it('--json prints the documented plan shape', async () => {
    const run = await mcml(['plan', '-f', 'examples/three-clouds/mcml.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(Object.keys(plan)).toEqual([
      'service',
      'strategy',
      'placements',
      'data',
      'totals',
      'budget',
      'comparison',
      'reasons',
      'warnings',
      'dropped',
    ]);
    expect(plan.placements.map((p: { target: string }) => p.target)).toEqual([
      'aws-use1',
      'gcp-usc1',
      'azure-eus',
    ]);
    expect(plan.placements[1].gpu).toEqual({
      model: 'T4',
      count: 1,
      cloudName: 'nvidia-tesla-t4',
    });
    expect(plan.totals.monthly).toBe(2352.43);
    expect(plan.budget.verdict).toBe('within');
  });

  it('plans every example', async () => {
    for (const name of ['three-clouds', 'residency', 'local']) {
      const run = await mcml(['plan', `examples/${name}/mcml.yaml`, '--json']);
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
      expect(JSON.parse(run.stdout).placements).toHaveLength(3);
    }
  });

  it('shows an over-budget verdict', async () => {
    const run = await mcml(['plan', `${fixtures}/over-budget.yaml`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /Budget: \$1,833\.76 of \$1,000\.00\/month \(183\.4%\): OVER BUDGET/,
    );
  });
});

describe.concurrent('bad input: exit 2, one clear message, no stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'malformed YAML',
      ['plan', `${fixtures}/malformed-yaml.txt`],
      /is not valid YAML\n.*malformed-yaml\.txt:4:3/,
    ],
    [
      'unknown key',
      ['plan', `${fixtures}/unknown-key.yaml`],
      /unknown-key\.yaml:4:3 service\.resorces: unknown key "resorces"\n\s+hint: did you mean "resources"\?/,
    ],
    [
      'unknown region',
      ['plan', `${fixtures}/unknown-region.yaml`],
      /unknown-region\.yaml:7:46 targets\[1\]\.region: unknown gcp region "europe-wset1"\n\s+hint: did you mean "europe-west1"\?/,
    ],
    [
      'unknown instance type',
      ['plan', `${fixtures}/unknown-instance.yaml`],
      /unknown-instance\.yaml:10:21 targets\[0\]\.overrides\.instanceType: unknown aws instance type "g4dn\.xlarg"\n\s+hint: did you mean "g4dn\.xlarge"\?/,
    ],
    [
      'unknown GPU',
      ['plan', `${fixtures}/unknown-gpu.yaml`],
      /service\.resources\.gpu\.model: must be one of .*got "V1000"\n\s+hint: did you mean "V100"\?/,
    ],
    [
      'GPU not in region',
      ['plan', `${fixtures}/no-gpu-in-region.yaml`],
      /error: no V100 offering in europe-west1 on gcp; regions with V100 on gcp: us-central1, europe-west4\n.*no-gpu-in-region\.yaml:7:46 targets\[1\]\.region/,
    ],
    [
      'a GPU only retired offerings had in the region',
      ['plan', `${fixtures}/retired-gpu.yaml`],
      /error: no current azure offering in eastus has 1×V100: Standard_NC6s_v3, .* were retired on 2025-09-30 .*\n.*retired-gpu\.yaml:7:\d+ targets\[1\]\.region.*\n\s+hint: closest current offerings in eastus: Standard_NC24ads_A100_v4 .*\(the provider's successor\)/,
    ],
    [
      'resources too big',
      ['plan', `${fixtures}/too-big.yaml`],
      /2 targets have no offering that fits the service/,
    ],
    [
      'too few clouds',
      ['plan', `${fixtures}/too-few-clouds.yaml`],
      /high-availability needs targets on at least 3 clouds/,
    ],
    [
      'min over max',
      ['plan', `${fixtures}/min-over-max.yaml`],
      /replicas\.min \(5\) is greater than replicas\.max \(2\)/,
    ],
    [
      'residency violation',
      ['plan', `${fixtures}/residency-violation.yaml`],
      /data set "eu-users" is pinned to eu but target "us" is in us/,
    ],
    [
      'empty file',
      ['plan', `${fixtures}/empty.yaml`],
      /empty\.yaml is empty\nhint: run "mcml init"/,
    ],
    ['directory', ['plan', fixtures], /test\/fixtures\/specs is a directory, not a spec file/],
    ['missing file', ['plan', `${fixtures}/nope.yaml`], /spec file .*nope\.yaml does not exist/],
    [
      'two files',
      ['plan', `${fixtures}/base.yaml`, '-f', `${fixtures}/empty.yaml`],
      /two spec files given/,
    ],
    [
      'missing catalog directory',
      ['plan', 'examples/three-clouds/mcml.yaml', '--catalog', 'test/fixtures/no-such-catalog'],
      /catalog directory .*no-such-catalog does not exist/,
    ],
    [
      'validate: unknown region',
      ['validate', `${fixtures}/unknown-region.yaml`],
      /unknown gcp region "europe-wset1"/,
    ],
    [
      'validate: unknown instance',
      ['validate', `${fixtures}/unknown-instance.yaml`],
      /unknown aws instance type "g4dn\.xlarg"/,
    ],
    [
      'catalog: unknown GPU',
      ['catalog', 'gpus', '--gpu', 'V1000'],
      /unknown GPU "V1000"\nhint: did you mean "V100"\?/,
    ],
    [
      'catalog: unknown cloud',
      ['catalog', 'gpus', '--cloud', 'azur'],
      /unknown cloud "azur"\nhint: did you mean "azure"\?/,
    ],
    [
      'catalog: unknown region',
      ['catalog', 'gpus', '--region', 'us-east1'],
      /unknown region "us-east1"/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    it(name, async () => {
      expectCleanInputError(await mcml(args), pattern);
    });
  }
});

describe('mcml validate', () => {
  it('accepts every example', async () => {
    for (const name of ['three-clouds', 'residency', 'local']) {
      const run = await mcml(['validate', `examples/${name}/mcml.yaml`]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/✓ .* is valid/);
    }
  });
});

describe.concurrent('mcml catalog', () => {
  it('gpus: side by side across clouds, cheapest first', async () => {
    const run = await mcml(['catalog', 'gpus', '--gpu', 'T4']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^GPU\s+QTY\s+CLOUD\s+REGION\s+INSTANCE\s+vCPU\s+MEM GiB\s+\$\/H\s+SPOT \$\/H/,
    );
    // Cheapest single T4: GCP n1-standard-1 + T4 (0.0475 + 0.35).
    expect(lines[1]).toMatch(/^T4\s+1\s+gcp\s+us-central1\s+n1-standard-1 \+ nvidia-tesla-t4/);
    const clouds = new Set(lines.slice(1).map((l) => l.split(/\s+/)[2]));
    expect([...clouds].filter((c) => c !== '' && c !== undefined)).toEqual(
      expect.arrayContaining(['aws', 'gcp', 'azure']),
    );
  });

  it('gpus: retired offerings are hidden, and listed with their status by --all', async () => {
    const run = await mcml(['catalog', 'gpus', '--gpu', 'V100']);
    expect(run.code, run.stderr).toBe(0);
    const rows = run.stdout.split('\n').filter((l) => l.startsWith('V100'));
    expect(new Set(rows.map((l) => l.split(/\s+/)[2]))).toEqual(new Set(['gcp']));
    expect(run.stdout).toMatch(/retired GPU offerings are hidden .*--all lists them/);
    const all = await mcml(['catalog', 'gpus', '--gpu', 'V100', '--all']);
    expect(all.stdout).toMatch(
      /^V100\s+1\s+azure\s+eastus\s+Standard_NC6s_v3\s.*retired 2025-09-30$/m,
    );
    expect(all.stdout).toMatch(/^V100\s+1\s+aws\s+us-east-1\s+p3\.2xlarge\s.*retired 2026-05-25$/m);
  });

  it('gpus --json filters by cloud and region and sorts by price', async () => {
    const run = await mcml(['catalog', 'gpus', '--cloud', 'azure', '--region', 'eastus', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const rows = JSON.parse(run.stdout) as {
      cloud: string;
      region: string;
      gpu: string;
      count: number;
      onDemand: number;
    }[];
    expect(rows.length).toBeGreaterThan(3);
    expect(rows.every((r) => r.cloud === 'azure' && r.region === 'eastus')).toBe(true);
    const t4 = rows.filter((r) => r.gpu === 'T4' && r.count === 1).map((r) => r.onDemand);
    expect(t4).toEqual([...t4].sort((a, b) => a - b));
    expect(t4[0]).toBe(0.526);
  });

  it('finds the shipped catalog from any working directory', async () => {
    const spec = join(repo, 'examples/residency/mcml.yaml');
    const run = await mcml(['plan', spec, '--json'], {}, tmpdir());
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).placements[0].instanceType).toBe('n1-standard-4');
  });

  it('regions: jurisdictions and continents', async () => {
    const run = await mcml(['catalog', 'regions']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/gcp\s+europe-west1\s+Belgium\s+eu\s+europe/);
    expect(run.stdout).toMatch(
      /azure\s+southeastasia\s+Southeast Asia \(Singapore\)\s+asia\s+asia/,
    );
    const json = JSON.parse((await mcml(['catalog', 'regions', '--json'])).stdout);
    expect(json.find((r: { region: string }) => r.region === 'us-east-1').jurisdiction).toBe('us');
  });
});

describe('a broken catalog', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcml-catalog-'));
    await cp(join(repo, 'data/catalog'), dir, { recursive: true });
    const file = join(dir, 'aws/vms.csv');
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[2] = lines[2]!.replace(/,12\.24,/, ',12,24,');
    await writeFile(file, lines.join('\n'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the file, row and column', async () => {
    const run = await mcml(['plan', 'examples/three-clouds/mcml.yaml', '--catalog', dir]);
    expectCleanInputError(
      run,
      /the price catalog in .* has 1 problem\n\s+.*aws\/vms\.csv:3:1: has 15 fields, the header has 14/,
    );
    const viaEnv = await mcml(['catalog', 'gpus'], { MCML_CATALOG_DIR: dir });
    expectCleanInputError(viaEnv, /aws\/vms\.csv:3:1/);
  });
});
