/**
 * Property tests: on random small catalogs and specs, the planner's cost equals a brute-force
 * minimum, and residency is never violated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../catalog/parse.js';
import { McmlError } from '../errors.js';
import { specSchema, type Spec } from '../spec/schema.js';
import { plan } from './planner.js';

const REGIONS = [
  { cloud: 'aws', region: 'r-a1' },
  { cloud: 'aws', region: 'r-a2' },
  { cloud: 'gcp', region: 'r-g1' },
  { cloud: 'azure', region: 'r-z1' },
] as const;
const HEADER =
  'instance_type,accelerator_name,accelerator_count,vcpus,memory_gib,on_demand_usd_h,spot_usd_h,region,zone,price_source';
const EGRESS = ['aws', 'gcp', 'azure']
  .flatMap((c) => [
    `${c},internet,0,100,0.09,list`,
    `${c},internet,100,,0.05,list`,
    `${c},inter-region,0,,0.02,list`,
    `${c},inter-continent,0,,0.04,list`,
  ])
  .join('\n');

interface RawOffering {
  region: number;
  name: number;
  gpu: 'none' | 'T4' | 'V100';
  gpus: number;
  vcpus: number;
  mem: number;
  odCents: number;
  spotPct: number | null;
}

const offeringArb: fc.Arbitrary<RawOffering> = fc.record({
  region: fc.integer({ min: 0, max: REGIONS.length - 1 }),
  name: fc.integer({ min: 0, max: 5 }),
  gpu: fc.constantFrom('none', 'T4', 'V100'),
  gpus: fc.integer({ min: 1, max: 2 }),
  vcpus: fc.integer({ min: 1, max: 16 }),
  mem: fc.integer({ min: 1, max: 64 }),
  odCents: fc.integer({ min: 1, max: 1000 }),
  spotPct: fc.option(fc.integer({ min: 5, max: 95 }), { nil: null }),
});

const JURIS = ['us', 'eu', 'asia'] as const;

/** A catalog from random rows; region jurisdictions random too. Duplicates are dropped. */
function buildCatalog(rows: RawOffering[], jurisdictions: number[]) {
  const regions = [
    'cloud,region,jurisdiction,continent,display_name',
    ...REGIONS.map((r, i) => {
      const j = JURIS[jurisdictions[i]!]!;
      const continent = j === 'us' ? 'north-america' : j === 'eu' ? 'europe' : 'asia';
      return `${r.cloud},${r.region},${j},${continent},${r.region}`;
    }),
  ].join('\n');
  const byCloud = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const o of rows) {
    const r = REGIONS[o.region]!;
    const name = `t${o.name}`;
    if (seen.has(`${r.cloud}/${r.region}/${name}`)) continue;
    seen.add(`${r.cloud}/${r.region}/${name}`);
    const od = o.odCents / 100;
    const spot = o.spotPct === null ? '' : String(Math.round(o.odCents * o.spotPct) / 10000);
    const gpu = o.gpu === 'none' ? ',' : `${o.gpu},${o.gpus}`;
    const line = `${name},${gpu},${o.vcpus},${o.mem},${od},${spot},${r.region},,list`;
    byCloud.set(r.cloud, [...(byCloud.get(r.cloud) ?? []), line]);
  }
  const files = [
    { path: 'regions.csv', text: regions },
    { path: 'egress.csv', text: `cloud,kind,from_gb,to_gb,usd_per_gb,price_source\n${EGRESS}` },
    ...[...byCloud].map(([cloud, lines]) => ({
      path: `${cloud}/vms.csv`,
      text: [HEADER, ...lines].join('\n'),
    })),
  ];
  return parseCatalog(files);
}

interface RawTarget {
  region: number;
  spot: boolean;
  floor: number;
}
const targetArb: fc.Arbitrary<RawTarget> = fc.record({
  region: fc.integer({ min: 0, max: REGIONS.length - 1 }),
  spot: fc.boolean(),
  floor: fc.integer({ min: 0, max: 3 }),
});

interface RawService {
  cpu: number;
  mem: number;
  gpu: 'none' | 'T4' | 'V100';
  gpus: number;
  min: number;
  extra: number;
}
const serviceArb: fc.Arbitrary<RawService> = fc.record({
  cpu: fc.integer({ min: 1, max: 8 }),
  mem: fc.integer({ min: 1, max: 32 }),
  gpu: fc.constantFrom('none', 'T4', 'V100'),
  gpus: fc.integer({ min: 1, max: 2 }),
  min: fc.integer({ min: 0, max: 3 }),
  extra: fc.integer({ min: 0, max: 3 }),
});

function buildSpec(
  s: RawService,
  targets: RawTarget[],
  strategy: Record<string, unknown>,
  data: Record<string, unknown>[] = [],
): Spec {
  return specSchema.parse({
    service: {
      name: 'svc',
      model: { uri: 'm.onnx' },
      resources: {
        cpu: s.cpu,
        memory: s.mem,
        ...(s.gpu === 'none' ? {} : { gpu: { model: s.gpu, count: s.gpus } }),
      },
      replicas: { min: s.min, max: s.min + s.extra + 1 },
    },
    targets: targets.map((t, i) => {
      const r = REGIONS[t.region]!;
      return {
        name: `t${i}`,
        provider: r.cloud,
        region: r.region,
        spot: t.spot,
        onDemandFloor: t.floor,
      };
    }),
    strategy,
    data,
  });
}

/**
 * Brute force: every fitting offering in the target's region, every split of the baseline
 * replicas into on-demand and spot that keeps at least the floor on-demand; the minimum.
 */
function bruteForce(rows: RawOffering[], s: RawService, t: RawTarget, min: number): number | null {
  const seen = new Set<string>();
  let best: number | null = null;
  for (const o of rows) {
    const key = `${o.region}/${o.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (o.region !== t.region) continue;
    if (o.vcpus < s.cpu || o.mem < s.mem) continue;
    if (s.gpu === 'none' ? o.gpu !== 'none' : o.gpu !== s.gpu || o.gpus < s.gpus) continue;
    const od = o.odCents / 100;
    const spot = o.spotPct === null ? null : Math.round(o.odCents * o.spotPct) / 10000;
    for (let onDemand = 0; onDemand <= min; onDemand++) {
      const usesSpot = onDemand < min;
      if (usesSpot && (!t.spot || spot === null || onDemand < Math.min(t.floor, min))) continue;
      const cost = onDemand * od + (min - onDemand) * (spot ?? 0);
      if (best === null || cost < best) best = cost;
    }
  }
  return best;
}

describe('planner properties', () => {
  it('costs exactly the brute-force minimum per target (high-availability keeps all)', () => {
    fc.assert(
      fc.property(
        fc.array(offeringArb, { minLength: 1, maxLength: 24 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
        serviceArb,
        fc.array(targetArb, { minLength: 1, maxLength: 4 }),
        (rows, juris, s, targets) => {
          const catalog = buildCatalog(rows, juris);
          const spec = buildSpec(s, targets, { type: 'high-availability', minClouds: 1 });
          const expected = targets.map((t) => bruteForce(rows, s, t, s.min));
          let result;
          try {
            result = plan(spec, catalog);
          } catch (error) {
            expect(error).toBeInstanceOf(McmlError);
            expect((error as McmlError).code).toBe('PLAN_INFEASIBLE');
            expect(expected).toContain(null);
            return;
          }
          expect(expected).not.toContain(null);
          const byTarget = new Map(result.placements.map((p) => [p.target, p.hourly]));
          expected.forEach((cost, i) => {
            expect(byTarget.get(`t${i}`)).toBeCloseTo(cost!, 5);
          });
          const total = expected.reduce<number>((a, b) => a + b!, 0);
          expect(result.totals.hourly).toBeCloseTo(total, 5);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cost strategy keeps the maxTargets cheapest, cheapest first', () => {
    // Every run must check something: each region a target uses gets one offering that fits
    // the service (on top of the random ones), so the plan is always feasible.
    const fitArb = fc.record({
      cpu: fc.integer({ min: 0, max: 8 }),
      mem: fc.integer({ min: 0, max: 32 }),
      gpus: fc.integer({ min: 0, max: 1 }),
      odCents: fc.integer({ min: 1, max: 1000 }),
      spotPct: fc.option(fc.integer({ min: 5, max: 95 }), { nil: null }),
    });
    const runs = 200;
    let checked = 0;
    fc.assert(
      fc.property(
        fc.array(offeringArb, { minLength: 0, maxLength: 24 }),
        fc.array(fitArb, { minLength: REGIONS.length, maxLength: REGIONS.length }),
        serviceArb,
        fc.array(targetArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 4 }),
        (random, fit, s, targets, maxTargets) => {
          const fitting: RawOffering[] = fit.map((f, region) => ({
            region,
            name: 6, // random offerings use names 0-5
            gpu: s.gpu,
            gpus: s.gpus + f.gpus,
            vcpus: s.cpu + f.cpu,
            mem: s.mem + f.mem,
            odCents: f.odCents,
            spotPct: f.spotPct,
          }));
          const rows = [...random, ...fitting];
          const catalog = buildCatalog(rows, [0, 0, 0, 0]);
          const spec = buildSpec(s, targets, { type: 'cost', maxTargets });
          const expected = targets.map((t) => bruteForce(rows, s, t, s.min));
          expect(expected).not.toContain(null);
          const result = plan(spec, catalog);
          const cheapest = (expected as number[])
            .slice()
            .sort((a, b) => a - b)
            .slice(0, maxTargets);
          expect(result.placements.map((p) => p.hourly)).toEqual(
            cheapest.map((c) => expect.closeTo(c, 5) as unknown),
          );
          expect(result.dropped.map((d) => d.target)).toHaveLength(
            Math.max(0, targets.length - maxTargets),
          );
          checked += 1;
        },
      ),
      { numRuns: runs },
    );
    expect(checked).toBe(runs);
  });

  it('never sends a data set outside its jurisdiction', () => {
    const dataArb = fc.array(
      fc.record({
        juris: fc.integer({ min: 0, max: 2 }),
        targets: fc.option(
          fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
          {
            nil: null,
          },
        ),
        sizeGb: fc.integer({ min: 0, max: 500 }),
        source: fc.constantFrom('s3://b/x', 'gs://b/x', 'az://a/c/x', './local'),
      }),
      { minLength: 0, maxLength: 4 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
        fc.array(targetArb, { minLength: 1, maxLength: 4 }),
        dataArb,
        fc.constantFrom('residency', 'high-availability', 'cost', 'best-of-breed'),
        (juris, targets, data, type) => {
          // Every region offers a CPU machine, so only residency can make a plan fail.
          const rows: RawOffering[] = REGIONS.map((_, i) => ({
            region: i,
            name: 0,
            gpu: 'none',
            gpus: 1,
            vcpus: 4,
            mem: 16,
            odCents: 10 + i,
            spotPct: 50,
          }));
          const catalog = buildCatalog(rows, juris);
          const service: RawService = { cpu: 1, mem: 1, gpu: 'none', gpus: 1, min: 1, extra: 0 };
          const sets = data.map((d, i) => ({
            name: `d${i}`,
            source: d.source,
            jurisdiction: JURIS[d.juris]!,
            sizeGb: d.sizeGb,
            ...(d.targets === null
              ? {}
              : {
                  targets: [...new Set(d.targets.filter((t) => t < targets.length))].map(
                    (t) => `t${t}`,
                  ),
                }),
          }));
          const spec = buildSpec(
            service,
            targets,
            type === 'high-availability' ? { type, minClouds: 1 } : { type },
            sets,
          );
          const jurisOf = (t: RawTarget) => JURIS[juris[t.region]!]!;
          const explicitOutside = sets.some((d) =>
            (d.targets ?? []).some(
              (name) => jurisOf(targets[Number(name.slice(1))]!) !== d.jurisdiction,
            ),
          );
          let result;
          try {
            result = plan(spec, catalog);
          } catch (error) {
            expect(error).toBeInstanceOf(McmlError);
            const code = (error as McmlError).code;
            if (code === 'RESIDENCY_VIOLATION') expect(explicitOutside).toBe(true);
            else {
              expect(code).toBe('PLAN_INFEASIBLE');
              expect(type).toBe('residency');
            }
            return;
          }
          expect(explicitOutside).toBe(false);
          const placementJuris = new Map(result.placements.map((p) => [p.target, p.jurisdiction]));
          for (const t of result.data) {
            expect(placementJuris.get(t.to)).toBe(t.jurisdiction);
          }
          // Residency: every data set with no explicit targets reached some target.
          if (type === 'residency') {
            for (const d of sets) {
              if (d.targets === undefined) {
                expect(result.data.some((t) => t.dataSet === d.name)).toBe(true);
              }
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
