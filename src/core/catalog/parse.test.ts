import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { McmlError } from '../errors.js';
import { readCsv } from './csv.js';
import { parseCatalog, type CatalogFile } from './parse.js';
import { offeringsIn } from './query.js';

const REGIONS = `cloud,region,jurisdiction,continent,display_name
aws,us-east-1,us,north-america,US East
gcp,us-central1,us,north-america,Iowa
gcp,europe-west1,eu,europe,Belgium
azure,eastus,us,north-america,East US
`;
const EGRESS = `cloud,kind,from_gb,to_gb,usd_per_gb,price_source
aws,internet,0,10240,0.09,prices.md
aws,internet,10240,,0.085,prices.md
aws,inter-region,0,,0.02,prices.md
aws,inter-continent,0,,0.02,prices.md
gcp,internet,0,,0.12,prices.md
gcp,inter-region,0,,0.01,prices.md
gcp,inter-continent,0,,0.05,list
azure,internet,0,,0.087,prices.md
azure,inter-region,0,,0.02,prices.md
azure,inter-continent,0,,0.05,list
`;
const HEADER =
  'instance_type,accelerator_name,accelerator_count,vcpus,memory_gib,on_demand_usd_h,spot_usd_h,region,zone,price_source';
const AWS = `${HEADER}
p3.2xlarge,V100,1,8,61,3.06,0.5197,us-east-1,,prices.md
m5.large,,,2,8,0.096,0.0371,us-east-1,us-east-1a,list
`;
const GCP = `${HEADER}
n1-standard-8,,,8,30,0.38,0.0963,us-central1,,prices.md
n1-standard-16,,,16,60,0.76,0.1926,us-central1,,list
n2-standard-8,,,8,32,0.388472,0.1131,us-central1,,list
,nvidia-tesla-v100,1,,,2.48,0.992,us-central1,,prices.md
`;
const AZURE = `${HEADER}
Standard_NC6s_v3,V100,1,6,112,3.06,3.06,eastus,1,prices.md
`;

function files(over: Partial<Record<string, string>> = {}): CatalogFile[] {
  const base: Record<string, string> = {
    'regions.csv': REGIONS,
    'egress.csv': EGRESS,
    'aws/vms.csv': AWS,
    'gcp/vms.csv': GCP,
    'azure/vms.csv': AZURE,
  };
  return Object.entries({ ...base, ...over })
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([path, text]) => ({ path, text }));
}

function problems(over: Partial<Record<string, string>>): McmlError['issues'] {
  try {
    parseCatalog(files(over), { dir: 'cat/' });
  } catch (error) {
    expect(error).toBeInstanceOf(McmlError);
    expect((error as McmlError).code).toBe('CATALOG_INVALID');
    return (error as McmlError).issues;
  }
  throw new Error('expected the catalog to be rejected');
}

describe('readCsv', () => {
  it('keeps line and column of every field, with quotes and CRLF', () => {
    const rows = readCsv('a,b\r\n"x, y",2\n\n"say ""hi""",3\n');
    expect(rows).toHaveLength(3);
    expect(rows[1]!.fields.map((f) => f.value)).toEqual(['x, y', '2']);
    expect(rows[1]!.fields[1]).toMatchObject({ line: 2, column: 8 });
    expect(rows[2]!.line).toBe(4);
    expect(rows[2]!.fields[0]!.value).toBe('say "hi"');
  });
});

describe('parseCatalog', () => {
  it('parses good files and combines GCP VMs with attachable accelerators', () => {
    const catalog = parseCatalog(files());
    expect(catalog.regions).toHaveLength(4);
    const gcp = offeringsIn(catalog, 'gcp', 'us-central1');
    const combos = gcp.filter((o) => o.attached);
    // V100 attaches to N1 VMs with at most 12 vCPUs per GPU: n1-standard-8 only.
    expect(combos.map((o) => o.instanceType)).toEqual(['n1-standard-8']);
    expect(combos[0]).toMatchObject({
      gpu: { model: 'V100', count: 1, cloudName: 'nvidia-tesla-v100' },
      onDemand: 2.86,
      spot: 1.0883,
      vcpus: 8,
      memoryGiB: 30,
    });
    const aws = offeringsIn(catalog, 'aws', 'us-east-1');
    expect(aws.find((o) => o.instanceType === 'm5.large')?.zone).toBe('us-east-1a');
  });

  it('treats a spot price equal to on-demand as no spot offer', () => {
    const catalog = parseCatalog(files());
    const nc6 = offeringsIn(catalog, 'azure', 'eastus')[0]!;
    expect(nc6.spot).toBeUndefined();
    expect(nc6.gpu?.model).toBe('V100');
  });

  it('names file:line:column and the column of a bad price', () => {
    const issues = problems({ 'aws/vms.csv': AWS.replace('3.06,0.5197', 'three,0.5197') });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('cat/aws/vms.csv:2:24 (on_demand_usd_h)');
    expect(issues[0]!.message).toBe('must be a number, got "three"');
  });

  it('reports every bad row at once', () => {
    const issues = problems({
      'aws/vms.csv': `${AWS}g4dn.xlarge,T4,1,4,16,-1,,us-east-1,,list\nx1,,,4,16,1,,us-east-9,,list\n`,
    });
    expect(issues.map((i) => i.path)).toEqual([
      'cat/aws/vms.csv:4:23 (on_demand_usd_h)',
      'cat/aws/vms.csv:5:14 (region)',
    ]);
    expect(issues[1]!.hint).toBe('did you mean "us-east-1"?');
  });

  it('rejects an unknown accelerator with a suggestion', () => {
    const issues = problems({ 'aws/vms.csv': AWS.replace('V100,1', 'V1OO,1') });
    expect(issues[0]!.path).toBe('cat/aws/vms.csv:2:12 (accelerator_name)');
    expect(issues[0]!.message).toBe('unknown accelerator "V1OO"');
    expect(issues[0]!.hint).toBe('did you mean "V100"?');
  });

  it('rejects accelerator rows outside GCP and zones of another region', () => {
    const issues = problems({
      'aws/vms.csv': `${AWS},V100,1,,,2.48,,us-east-1,,list\nm5.xlarge,,,4,16,0.192,,us-east-1,us-west-2a,list\n`,
    });
    expect(issues.map((i) => i.path)).toEqual([
      'cat/aws/vms.csv:4:1 (instance_type)',
      'cat/aws/vms.csv:5:35 (zone)',
    ]);
  });

  it('rejects unknown and missing columns, short rows and duplicates', () => {
    expect(
      problems({ 'gcp/vms.csv': GCP.replace('memory_gib', 'memory_gb') }).map((i) => i.message),
    ).toEqual(['unknown column "memory_gb"', 'missing column "memory_gib"']);
    expect(problems({ 'azure/vms.csv': `${AZURE}Standard_D2s_v5,,,2,8\n` })[0]).toMatchObject({
      path: 'cat/azure/vms.csv:3:1',
      message: 'has 5 fields, the header has 10',
    });
    expect(problems({ 'aws/vms.csv': AWS + AWS.split('\n')[1]! + '\n' })[0]!.message).toMatch(
      /^duplicate offering p3\.2xlarge in us-east-1/,
    );
  });

  it('rejects bad region rows, missing files and egress gaps', () => {
    const r = problems({
      'regions.csv': REGIONS.replace('us,north-america,Iowa', 'usa,north-america,Iowa'),
    });
    expect(r[0]).toMatchObject({ path: 'cat/regions.csv:3:17 (jurisdiction)' });
    expect(problems({ 'egress.csv': undefined })[0]!.message).toBe('is missing');
    const gap = problems({
      'egress.csv': EGRESS.replace('aws,internet,10240,,0.085', 'aws,internet,20000,,0.085'),
    });
    expect(gap[0]!.message).toMatch(/aws internet tiers are not contiguous/);
  });

  it('reports an unterminated quote and an empty file', () => {
    expect(problems({ 'aws/vms.csv': `${HEADER}\n"p3.2xlarge,V100` })[0]).toMatchObject({
      path: 'cat/aws/vms.csv:2:1',
      message: 'unterminated quoted field',
    });
    expect(problems({ 'azure/vms.csv': '' })[0]!.message).toBe('the file is empty');
  });

  it('escapes control characters and cuts long values in messages', () => {
    const evil = AWS.replace('3.06,0.5197', `3.\u001b[2J06,${'9'.repeat(5000)}x`);
    const found = problems({
      'aws/vms.csv': evil,
      'gcp/\u001b[31mvms.csv': GCP.replace('0.38', 'x'),
    });
    const text = found.map((i) => `${i.path} ${i.message}`).join('\n');
    expect(text).toContain('must be a number, got "3.\\x1b[2J06"');
    expect(text).toMatch(/got "9{80}… \(4921 more characters\)"/);
    expect(text).toContain('cat/gcp/\\x1b[31mvms.csv');
    expect([...text].some((c) => c.charCodeAt(0) < 0x20 && c !== '\n')).toBe(false);
    expect(text.length).toBeLessThan(2000);
  });

  it('rejects offering files outside a cloud folder', () => {
    expect(problems({ 'oracle/vms.csv': AZURE })[0]!.message).toBe('"oracle" is not a cloud');
  });
});

describe('offering lifecycle', () => {
  const LC = `${HEADER},lifecycle,lifecycle_date,lifecycle_source,successor`;
  const azure = (rows: string) => ({ 'azure/vms.csv': `${LC}\n${rows}` });
  const T4 = 'Standard_NC4as_T4_v3,T4,1,4,28,0.526,0.0627,eastus,,list';
  const NC6 = 'Standard_NC6s_v3,V100,1,6,112,3.06,0.3978,eastus,,list';

  it('reads available, retiring and retired rows, with source and successor', () => {
    const catalog = parseCatalog(
      files(
        azure(
          `${T4},available,,azure-current,\n${NC6},retired,2025-09-30,azure-ncv3-retirement,Standard_NC4as_T4_v3\n` +
            `Standard_NC8as_T4_v3,T4,1,8,56,0.752,0.0896,eastus,,list,retiring,2030-01-31,https://example.com/notice,`,
        ),
      ),
    );
    const byType = (t: string) => catalog.offerings.find((o) => o.instanceType === t)!;
    expect(byType('Standard_NC4as_T4_v3').lifecycle).toEqual({
      status: 'available',
      source: 'azure-current',
    });
    expect(byType('Standard_NC6s_v3').lifecycle).toEqual({
      status: 'retired',
      date: '2025-09-30',
      source: 'azure-ncv3-retirement',
      successor: 'Standard_NC4as_T4_v3',
    });
    expect(byType('Standard_NC8as_T4_v3').lifecycle.status).toBe('retiring');
    // Files without the lifecycle columns: every row available.
    expect(parseCatalog(files()).offerings.every((o) => o.lifecycle.status === 'available')).toBe(
      true,
    );
  });

  it('a retiring row whose date has come is retired', () => {
    const f = files(azure(`${T4},retiring,2026-06-30,notice,`));
    const t4 = (today: string) =>
      parseCatalog(f, { today }).offerings.find((o) => o.instanceType === 'Standard_NC4as_T4_v3')!
        .lifecycle.status;
    expect(t4('2026-06-29')).toBe('retiring');
    expect(t4('2026-06-30')).toBe('retired');
  });

  it('GCP combinations take the lifecycle of the row that ends first', () => {
    const gcp = `${LC}
n1-standard-8,,,8,30,0.38,0.0963,us-central1,,prices.md,available,,gcp,
,nvidia-tesla-v100,1,,,2.48,0.992,us-central1,,prices.md,retiring,2031-01-01,gcp-notice,`;
    const combo = parseCatalog(files({ 'gcp/vms.csv': gcp })).offerings.find((o) => o.attached)!;
    expect(combo.lifecycle).toMatchObject({ status: 'retiring', date: '2031-01-01' });
  });

  it('refuses a lifecycle that does not add up, naming the cell', () => {
    const issues = problems(
      azure(
        [
          `${T4},gone,,x,`,
          `${NC6},retired,,azure-ncv3-retirement,`,
          `Standard_NC12s_v3,V100,2,12,224,6.12,0.79,eastus,,list,retired,2025-09-31,x,`,
          `Standard_NC24s_v3,V100,4,24,448,12.24,1.59,eastus,,list,retired,2025-09-30,,`,
          `Standard_NC8as_T4_v3,T4,1,8,56,0.752,0.0896,eastus,,list,available,2030-01-01,x,`,
          `Standard_NC16as_T4_v3,T4,1,16,110,1.204,0.14,eastus,,list,available,,x,Standard_NC99`,
        ].join('\n'),
      ),
    );
    const text = issues.map((i) => `${i.path} ${i.message}`).join('\n');
    expect(text).toMatch(
      /azure\/vms\.csv:2:\d+ \(lifecycle\) must be one of available, retiring, retired, got "gone"/,
    );
    expect(text).toMatch(/:3:\d+ \(lifecycle_date\) is required when lifecycle is retired/);
    expect(text).toMatch(/:4:\d+ \(lifecycle_date\) must be a date YYYY-MM-DD, got "2025-09-31"/);
    expect(text).toMatch(/:5:\d+ \(lifecycle_source\) is required when lifecycle is retired/);
    expect(text).toMatch(/:6:\d+ \(lifecycle_date\) must be empty for an available offering/);
    expect(text).toMatch(/:7:\d+ \(successor\) "Standard_NC99" is not a azure instance type/);
  });
});

describe('the shipped catalog', () => {
  const root = fileURLToPath(new URL('../../../data/catalog/', import.meta.url));
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : name.endsWith('.csv') ? [full] : [];
    });
  const shipped = walk(root).map((full) => ({
    path: relative(root, full),
    text: readFileSync(full, 'utf8'),
  }));

  it('loads and covers the required regions with CPU and GPU offerings', () => {
    const catalog = parseCatalog(shipped);
    const required: [string, string][] = [
      ['aws', 'us-east-1'],
      ['aws', 'eu-west-1'],
      ['aws', 'ap-southeast-1'],
      ['gcp', 'us-central1'],
      ['gcp', 'europe-west1'],
      ['gcp', 'asia-southeast1'],
      ['azure', 'eastus'],
      ['azure', 'westeurope'],
      ['azure', 'southeastasia'],
    ];
    for (const [cloud, region] of required) {
      const here = offeringsIn(catalog, cloud as 'aws', region);
      expect(
        here.some((o) => o.gpu !== undefined),
        `${cloud} ${region} GPU`,
      ).toBe(true);
      expect(
        here.some((o) => o.gpu === undefined),
        `${cloud} ${region} CPU`,
      ).toBe(true);
    }
  });

  it('every GPU row says its lifecycle and where it comes from; retired V100s name a successor', () => {
    const header = (text: string) => text.split('\n')[0]!.split(',');
    for (const f of shipped.filter((x) => x.path.includes('/'))) {
      expect(header(f.text), f.path).toEqual(
        expect.arrayContaining(['lifecycle', 'lifecycle_date', 'lifecycle_source', 'successor']),
      );
      const cols = header(f.text);
      for (const line of f.text.split('\n').slice(1).filter(Boolean)) {
        const row = Object.fromEntries(line.split(',').map((v, i) => [cols[i], v]));
        expect(row.lifecycle, `${f.path}: ${line}`).toMatch(/^(available|retiring|retired)$/);
        expect(row.lifecycle_source, `${f.path}: ${line}`).not.toBe('');
      }
    }
    const catalog = parseCatalog(shipped, { today: '2026-12-02' });
    const status = (cloud: string, type: string) =>
      catalog.offerings
        .filter((o) => o.cloud === cloud && o.instanceType === type)
        .map((o) => o.lifecycle);
    for (const l of status('azure', 'Standard_NC6s_v3')) {
      expect(l).toMatchObject({
        status: 'retired',
        date: '2025-09-30',
        successor: 'Standard_NC24ads_A100_v4',
      });
    }
    for (const l of status('aws', 'p3.2xlarge')) expect(l.status).toBe('retired');
    // V100 is current on GCP only.
    const v100 = catalog.offerings.filter(
      (o) => o.gpu?.model === 'V100' && o.lifecycle.status !== 'retired',
    );
    expect([...new Set(v100.map((o) => o.cloud))]).toEqual(['gcp']);
  });

  it('holds the prices.md figures', () => {
    const catalog = parseCatalog(shipped);
    const find = (cloud: string, region: string, type: string, gpu?: string) =>
      catalog.offerings.find(
        (o) =>
          o.cloud === cloud &&
          o.region === region &&
          o.instanceType === type &&
          (gpu === undefined ? o.gpu === undefined : o.gpu?.model === gpu && o.gpu.count === 1),
      );
    expect(find('aws', 'us-east-1', 'p3.2xlarge', 'V100')).toMatchObject({
      onDemand: 3.06,
      spot: 0.5197,
    });
    expect(find('aws', 'us-east-1', 'g5.xlarge', 'A10G')).toMatchObject({
      onDemand: 1.006,
      spot: 0.397,
    });
    expect(find('aws', 'us-east-1', 'g4dn.xlarge', 'T4')).toMatchObject({
      onDemand: 0.526,
      spot: 0.1845,
    });
    expect(find('gcp', 'us-central1', 'n1-standard-8')).toMatchObject({
      onDemand: 0.38,
      spot: 0.0963,
    });
    expect(find('gcp', 'us-central1', 'n1-standard-8', 'V100')).toMatchObject({
      onDemand: 2.86,
      spot: 1.0883,
    });
    expect(find('azure', 'eastus', 'Standard_NC6s_v3', 'V100')).toMatchObject({
      onDemand: 3.06,
      spot: 0.3978,
    });
    expect(find('azure', 'eastus', 'Standard_NC4as_T4_v3', 'T4')).toMatchObject({
      onDemand: 0.526,
      spot: 0.062699,
    });
  });
});
