/**
 * The planner's work grows with the size of the spec, not with its square (issue 14, item 15:
 * `plan` grew with the square of the target count). Measured by counting the array elements
 * that linear searches (find, filter, some, …) visit during plan(), not by timing: the count
 * is the same on a loaded machine.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseCatalog } from '../catalog/parse.js';
import { specSchema, type Spec } from '../spec/schema.js';
import { plan } from './planner.js';

const catalog = parseCatalog([
  {
    path: 'regions.csv',
    text: 'cloud,region,jurisdiction,continent,display_name\naws,r-a,us,north-america,A\ngcp,r-g,us,north-america,G\n',
  },
  {
    path: 'egress.csv',
    text:
      'cloud,kind,from_gb,to_gb,usd_per_gb,price_source\n' +
      ['aws', 'gcp', 'azure']
        .flatMap((c) => [
          `${c},internet,0,,0.09,list`,
          `${c},inter-region,0,,0.02,list`,
          `${c},inter-continent,0,,0.04,list`,
        ])
        .join('\n'),
  },
  {
    path: 'aws/vms.csv',
    text: 'instance_type,accelerator_name,accelerator_count,vcpus,memory_gib,on_demand_usd_h,spot_usd_h,region,zone,price_source\nm,,,4,16,0.2,0.1,r-a,,list\n',
  },
  {
    path: 'gcp/vms.csv',
    text: 'instance_type,accelerator_name,accelerator_count,vcpus,memory_gib,on_demand_usd_h,spot_usd_h,region,zone,price_source\nn,,,4,16,0.19,0.08,r-g,,list\n',
  },
]);

/**
 * A spec of `n` targets, one data set that names every target, and `n` data sets of a
 * jurisdiction without targets: a plan of size n, each data set looked up against n targets.
 */
function specOf(n: number, strategy: Record<string, unknown>): Spec {
  const names = Array.from({ length: n }, (_, i) => `t${i}`);
  return specSchema.parse({
    service: { name: 's', model: { uri: 'm.onnx' }, resources: { cpu: 1, memory: 1 } },
    targets: names.map((name, i) => ({
      name,
      provider: i % 2 ? 'gcp' : 'aws',
      region: i % 2 ? 'r-g' : 'r-a',
    })),
    strategy,
    data: [
      { name: 'all', source: 's3://b/d', jurisdiction: 'us', sizeGb: 1, targets: names },
      ...names.map((_, i) => ({ name: `eu${i}`, source: './d', jurisdiction: 'eu' })),
    ],
  });
}

const SEARCHES = ['find', 'filter', 'some', 'every', 'findIndex', 'includes', 'indexOf'] as const;

/** Array elements visited by linear searches while `fn` runs. */
function visited(fn: () => unknown): number {
  let total = 0;
  for (const name of SEARCHES) {
    const original = Reflect.get(Array.prototype, name) as (...args: unknown[]) => unknown;
    vi.spyOn(Array.prototype, name).mockImplementation(function (this: unknown[], ...args) {
      total += this.length;
      return original.apply(this, args);
    });
  }
  try {
    fn();
  } catch {
    // Residency refuses data sets with no target in their jurisdiction, after the look-ups.
  } finally {
    vi.restoreAllMocks();
  }
  return total;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('plan scales linearly', () => {
  for (const strategy of [
    { type: 'high-availability', minClouds: 1 },
    { type: 'cost' },
    { type: 'residency' },
    { type: 'best-of-breed' },
  ]) {
    it(`${strategy.type}: doubling targets and data sets doubles the searching, not quadruples it`, () => {
      const small = specOf(100, strategy);
      const large = specOf(200, strategy);
      const a = visited(() => plan(small, catalog));
      const b = visited(() => plan(large, catalog));
      expect(b / a).toBeLessThan(2.5);
    });
  }
});
