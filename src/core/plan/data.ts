/**
 * Which placements receive each data set (residency first), and what the transfers cost in
 * egress, internet tiers stacked per sending cloud.
 */
import { McmlError, type Issue } from '../errors.js';
import type { EgressKind, Catalog } from '../catalog/types.js';
import type { DataSet, Jurisdiction, Spec } from '../spec/schema.js';
import { JURISDICTION_CONTINENT, egressCost, r2, r6, sourceCloud } from './pricing.js';
import type { Notes, Problems } from './problems.js';
import type { Cloud, DataTransfer, Placement, PlacementCloud } from './types.js';

/** Placements by target name and by jurisdiction, built once for every data set's look-ups. */
interface PlacementIndex {
  byName: Map<string, Placement>;
  byJurisdiction: Map<Jurisdiction, Placement[]>;
  /** "us, eu": the jurisdictions of all targets, for messages. */
  jurisdictions: string;
}

function indexPlacements(placements: readonly Placement[]): PlacementIndex {
  const byName = new Map<string, Placement>();
  const byJurisdiction = new Map<Jurisdiction, Placement[]>();
  for (const p of placements) {
    byName.set(p.target, p);
    const same = byJurisdiction.get(p.jurisdiction);
    if (same) same.push(p);
    else byJurisdiction.set(p.jurisdiction, [p]);
  }
  return { byName, byJurisdiction, jurisdictions: [...byJurisdiction.keys()].join(', ') };
}

function receiversOf(
  d: DataSet,
  di: number,
  index: PlacementIndex,
  spec: Spec,
  dataCloud: PlacementCloud | undefined,
  problems: Problems,
  out: { warnings: string[]; reasons: string[]; violations: Issue[]; homeless: Issue[] },
): Placement[] {
  const residency = spec.strategy.type === 'residency';
  const strict = spec.strategy.type === 'residency' ? spec.strategy.strict : true;
  if (d.targets !== undefined) {
    const chosen: Placement[] = [];
    d.targets.forEach((name, j) => {
      const p = index.byName.get(name);
      if (p === undefined) {
        out.warnings.push(
          `data set ${d.name}: target ${name} is not in the plan (dropped by the strategy)`,
        );
        return;
      }
      if (p.jurisdiction !== d.jurisdiction) {
        const message = `data set "${d.name}" is pinned to ${d.jurisdiction} but target "${name}" is in ${p.jurisdiction} (${p.cloud} ${p.region})`;
        if (!strict) {
          out.warnings.push(`${message}: allowed because strategy.strict is false`);
          chosen.push(p);
        } else {
          out.violations.push(
            problems.issue(
              ['data', di, 'targets', j],
              message,
              `remove "${name}" from data[${di}].targets`,
            ),
          );
        }
        return;
      }
      chosen.push(p);
    });
    return chosen;
  }
  const inJurisdiction = index.byJurisdiction.get(d.jurisdiction) ?? [];
  if (inJurisdiction.length === 0) {
    const where = index.jurisdictions;
    const message = `data set "${d.name}" is pinned to ${d.jurisdiction} but no target is in ${d.jurisdiction} (targets are in: ${where})`;
    if (residency) out.homeless.push(problems.issue(['data', di, 'jurisdiction'], message));
    else out.warnings.push(`${message}: it is not replicated`);
    return [];
  }
  if (dataCloud !== undefined) {
    const onDataCloud = inJurisdiction.filter((p) => p.cloud === dataCloud);
    if (onDataCloud.length > 0) {
      out.reasons.push(
        `data set ${d.name} (${d.jurisdiction}) goes to the ${dataCloud} targets: ${onDataCloud.map((p) => p.target).join(', ')}`,
      );
      return onDataCloud;
    }
    out.reasons.push(
      `data set ${d.name} (${d.jurisdiction}): no ${dataCloud} target in ${d.jurisdiction}, so every target there receives it`,
    );
  } else {
    out.reasons.push(
      `data set ${d.name} (${d.jurisdiction}) goes to every target in ${d.jurisdiction}: ${inJurisdiction.map((p) => p.target).join(', ')}`,
    );
  }
  return inJurisdiction;
}

function transferOf(
  d: DataSet,
  p: Placement,
  catalog: Catalog,
  sentByCloud: Map<Cloud, number>,
): DataTransfer {
  const size = d.sizeGb ?? 0;
  const from = sourceCloud(d.source);
  const base = { dataSet: d.name, jurisdiction: d.jurisdiction, to: p.target, sizeGb: size };
  if (from === undefined) {
    return { ...base, kind: 'none', pricePerGb: 0, cost: 0 };
  }
  let kind: EgressKind;
  if (p.cloud === from) {
    const sourceContinent = JURISDICTION_CONTINENT[d.jurisdiction];
    kind =
      sourceContinent === undefined || sourceContinent === p.continent
        ? 'inter-region'
        : 'inter-continent';
  } else kind = 'internet';
  let cost: number;
  if (kind === 'internet') {
    // Internet tiers are per month per sending account: stack this plan's transfers.
    const already = sentByCloud.get(from) ?? 0;
    cost = egressCost(catalog, from, kind, already, size);
    sentByCloud.set(from, already + size);
  } else cost = egressCost(catalog, from, kind, 0, size);
  return {
    ...base,
    fromCloud: from,
    kind,
    pricePerGb: size > 0 ? r6(cost / size) : egressCost(catalog, from, kind, 0, 1),
    cost: r2(cost),
  };
}

/**
 * Phase 4: the data sets' receivers and the transfers to them (mutates each placement's
 * `dataSets`).
 * @throws McmlError RESIDENCY_VIOLATION (a data set pinned to a target outside its
 *   jurisdiction), PLAN_INFEASIBLE (a residency data set with no target in its jurisdiction).
 */
export function placeData(
  spec: Spec,
  catalog: Catalog,
  placements: readonly Placement[],
  dataCloud: PlacementCloud | undefined,
  problems: Problems,
  notes: Notes,
): DataTransfer[] {
  const data: DataTransfer[] = [];
  const sentByCloud = new Map<Cloud, number>();
  const violations: Issue[] = [];
  const homeless: Issue[] = [];
  const index = indexPlacements(placements);
  spec.data.forEach((d, di) => {
    const receivers = receiversOf(d, di, index, spec, dataCloud, problems, {
      ...notes,
      violations,
      homeless,
    });
    if (d.sizeGb === undefined && receivers.length > 0) {
      notes.warnings.push(`data set ${d.name} has no sizeGb: its egress cost is not estimated`);
    }
    for (const p of receivers) {
      p.dataSets.push(d.name);
      data.push(transferOf(d, p, catalog, sentByCloud));
    }
  });
  if (violations.length > 0) throw residencyViolation(violations);
  if (homeless.length > 0) throw noHome(homeless);
  return data;
}

function residencyViolation(violations: Issue[]): McmlError {
  return new McmlError(
    'RESIDENCY_VIOLATION',
    violations.length === 1
      ? violations[0]!.message
      : `${violations.length} data set targets are outside their jurisdiction`,
    {
      issues:
        violations.length === 1 ? [{ ...violations[0]!, message: 'this target' }] : violations,
      hint: 'a data set only goes to targets in its jurisdiction: fix data[].targets or the jurisdiction',
    },
  );
}

function noHome(homeless: Issue[]): McmlError {
  return new McmlError(
    'PLAN_INFEASIBLE',
    homeless.length === 1
      ? homeless[0]!.message
      : `${homeless.length} data sets have no target in their jurisdiction`,
    {
      issues: homeless.length === 1 ? [{ ...homeless[0]!, message: 'this data set' }] : homeless,
      hint: 'add a target in a region of that jurisdiction, or change the data set jurisdiction',
    },
  );
}
