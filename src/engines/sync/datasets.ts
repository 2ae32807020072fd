/**
 * `mcml data sync -f mcml.yaml`: replicate each data set of the spec to every target allowed
 * by its jurisdiction. Every refusal (spec region or the location the cloud reports) happens
 * before any byte moves.
 */
import {
  checkDestinationJurisdiction,
  checkReportedLocation,
  planDataSets,
  type DataSetPlan,
  type JurisdictionLookup,
} from '../../core/sync/residency.js';
import type { Jurisdiction, Spec } from '../../core/spec/index.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { runSync, type SyncOptions, type SyncReport } from './sync.js';

export interface DataSyncOptions extends Omit<
  SyncOptions,
  'source' | 'destinations' | 'include' | 'exclude'
> {
  spec: Spec;
  specDir: string;
  dataset?: string;
  lookup: JurisdictionLookup;
  open: (uri: string) => Promise<ObjectStore>;
  /** Ask each bucket's cloud for its location too (default true). */
  askLocation?: boolean;
}

export interface DataSetReport {
  dataset: string;
  jurisdiction: string;
  targets: string[];
  report: SyncReport | undefined;
}

export async function runDataSync(options: DataSyncOptions): Promise<DataSetReport[]> {
  const plans = planDataSets(options.spec, {
    specDir: options.specDir,
    lookup: options.lookup,
    ...(options.dataset ? { dataset: options.dataset } : {}),
  });
  // Open everything and check every reported location before the first transfer.
  const opened: { plan: DataSetPlan; source: ObjectStore; destinations: ObjectStore[] }[] = [];
  for (const plan of plans) {
    const source = await options.open(plan.source);
    const destinations: ObjectStore[] = [];
    for (const route of plan.routes) {
      const store = await options.open(route.destination);
      if (options.askLocation !== false && route.jurisdiction !== 'local') {
        const location = await store.location();
        checkReportedLocation(
          { name: plan.dataset, jurisdiction: plan.jurisdiction },
          route,
          location,
          options.lookup,
        );
      }
      destinations.push(store);
    }
    opened.push({ plan, source, destinations });
  }
  const out: DataSetReport[] = [];
  for (const { plan, source, destinations } of opened) {
    const {
      spec: _s,
      specDir: _d,
      dataset: _n,
      lookup: _l,
      open: _o,
      askLocation: _a,
      ...rest
    } = options;
    const report =
      destinations.length === 0
        ? undefined
        : await runSync({
            ...rest,
            source,
            destinations,
            include: plan.include,
            exclude: plan.exclude,
          });
    out.push({
      dataset: plan.dataset,
      jurisdiction: plan.jurisdiction,
      targets: plan.routes.map((r) => r.target),
      report,
    });
  }
  return out;
}

/**
 * A direct sync that states its data's jurisdiction: asks every destination's cloud where the
 * bucket is and refuses (before any byte moves) unless each maps to `jurisdiction`.
 */
export async function checkJurisdiction(
  destinations: ObjectStore[],
  jurisdiction: Jurisdiction,
  lookup: JurisdictionLookup,
): Promise<void> {
  for (const d of destinations) {
    const location = d.scheme === 'file' ? undefined : await d.location();
    checkDestinationJurisdiction(jurisdiction, d, location, lookup);
  }
}
