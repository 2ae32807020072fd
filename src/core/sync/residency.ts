/**
 * Residency: where each data set may go. Pure: the caller passes a region → jurisdiction
 * lookup (the catalog's regions.csv), and bucket locations it asked the clouds for.
 */
import { McmlError } from '../errors.js';
import type { DataSet, Jurisdiction, Spec, Target } from '../spec/index.js';
import { formatStorageUri, joinPrefix, parseStorageUri } from '../storage-uri.js';

/** Looks up the jurisdiction of a cloud region (from the catalog). */
export type JurisdictionLookup = (cloud: string, region: string) => Jurisdiction | undefined;

/**
 * A fallback for regions the catalog does not list, from the naming conventions of the three
 * clouds (eu-west-1, europe-west4, westeurope; GCS multi-regions "eu", "us", "asia").
 */
export function guessJurisdiction(region: string): Jurisdiction | undefined {
  const r = region.toLowerCase();
  if (r === 'local') return 'local';
  const rules: [RegExp, Jurisdiction][] = [
    [
      /^(eu|europe)(-|$)|^(north|west)europe$|^(france|germany|italy|poland|spain|sweden|norway)|^eur4$|^eur\d/,
      'eu',
    ],
    [/^(eu-west-2|europe-west2|uk)|^uk(south|west)$/, 'uk'],
    [/^(eu-central-2|europe-west6)$|^switzerland/, 'ch'],
    [
      /^us(-|$)|^(east|west|central|north|south|northcentral|southcentral|westcentral)us\d?$|^nam4$/,
      'us',
    ],
    [/^ca-|^northamerica-|^canada/, 'ca'],
    [/^ap-northeast-1$|^asia-northeast1$|^japan/, 'jp'],
    [/^ap-northeast-2$|^asia-northeast3$|^korea/, 'kr'],
    [/^ap-south-|^asia-south|^(central|south|west)india$/, 'in'],
    [/^ap-southeast-2$|^australia/, 'au'],
    [/^sa-|^southamerica-|^brazil/, 'br'],
    [/^me-|^uae|^qatar|^israel/, 'me'],
    [/^af-|^africa-|^southafrica/, 'af'],
    [/^ap-|^asia(-|$)|^(east|southeast)asia$/, 'asia'],
  ];
  // Specific before generic: uk/ch before eu, ca before us.
  const order: Jurisdiction[] = [
    'uk',
    'ch',
    'jp',
    'kr',
    'in',
    'au',
    'br',
    'me',
    'af',
    'ca',
    'eu',
    'asia',
    'us',
  ];
  for (const j of order) {
    const rule = rules.find(([, jj]) => jj === j);
    if (rule && rule[0].test(r)) return j;
  }
  return undefined;
}

/** Where one data set goes: one entry per target that receives it. */
export interface DataSetRoute {
  target: string;
  /** Destination URI: the target's bucket plus the data set prefix. */
  destination: string;
  /** The cloud the bucket is on (a local target takes the cloud it emulates). */
  cloud: string;
  region: string;
  jurisdiction: Jurisdiction | undefined;
}

export interface DataSetPlan {
  dataset: string;
  source: string;
  jurisdiction: Jurisdiction;
  include: string[];
  exclude: string[];
  routes: DataSetRoute[];
}

/**
 * Plans the replication of the spec's data sets. Relative sources and file buckets resolve
 * against `specDir`. Throws RESIDENCY_VIOLATION (exit 2) naming the data set and the bucket
 * when a listed target lies outside the data set's jurisdiction, and USAGE for unknown names.
 */
export function planDataSets(
  spec: Spec,
  options: { specDir: string; dataset?: string; lookup: JurisdictionLookup },
): DataSetPlan[] {
  const sets = options.dataset ? spec.data.filter((d) => d.name === options.dataset) : spec.data;
  if (options.dataset && sets.length === 0) {
    throw new McmlError('USAGE', `the spec has no data set named "${options.dataset}"`, {
      hint: `data sets: ${spec.data.map((d) => d.name).join(', ') || '(none)'}`,
    });
  }
  if (sets.length === 0)
    throw new McmlError('USAGE', 'the spec has no data sets to sync', {
      hint: 'add a `data:` list to the spec, or pass SRC DST',
    });
  return sets.map((d) => planDataSet(spec, d, options));
}

function targetJurisdiction(
  t: Target,
  lookup: JurisdictionLookup,
): { cloud: string; j: Jurisdiction | undefined } {
  const cloud = t.provider === 'local' ? (t.emulates ?? 'local') : t.provider;
  if (cloud === 'local') return { cloud, j: 'local' };
  return { cloud, j: lookup(cloud, t.region) ?? guessJurisdiction(t.region) };
}

function planDataSet(
  spec: Spec,
  d: DataSet,
  options: { specDir: string; lookup: JurisdictionLookup },
): DataSetPlan {
  const byName = new Map(spec.targets.map((t) => [t.name, t]));
  const explicit = d.targets !== undefined;
  const names = d.targets ?? spec.targets.map((t) => t.name);
  const routes: DataSetRoute[] = [];
  for (const name of names) {
    const t = byName.get(name);
    if (!t)
      throw new McmlError('SPEC_INVALID', `data set "${d.name}" names unknown target "${name}"`, {
        hint: `targets: ${[...byName.keys()].join(', ')}`,
      });
    const { cloud, j } = targetJurisdiction(t, options.lookup);
    const inJurisdiction = j === d.jurisdiction || j === 'local' || d.jurisdiction === 'local';
    if (!t.bucket) {
      if (explicit)
        throw new McmlError(
          'SPEC_INVALID',
          `target "${name}" receives data set "${d.name}" but has no bucket`,
          {
            hint: `add bucket: s3://… (or gs://, az://, file://) to target ${name}`,
          },
        );
      continue;
    }
    const destination = dataSetDestination(d, name, t.bucket, options.specDir);
    if (!inJurisdiction) {
      if (!explicit) continue; // default targets: only those inside the jurisdiction
      throw residencyError(d, name, t.bucket, t.region, j);
    }
    routes.push({ target: name, destination, cloud, region: t.region, jurisdiction: j });
  }
  return {
    dataset: d.name,
    source: formatStorageUri(parseStorageUri(d.source, { baseDir: options.specDir })),
    jurisdiction: d.jurisdiction,
    include: [...d.include],
    exclude: [...d.exclude],
    routes,
  };
}

/** The refusal: exit 2, naming the data set and the bucket. */
export function residencyError(
  d: { name: string; jurisdiction: Jurisdiction },
  target: string,
  bucket: string,
  region: string,
  actual: Jurisdiction | undefined,
): McmlError {
  return new McmlError(
    'RESIDENCY_VIOLATION',
    `data set "${d.name}" is pinned to jurisdiction "${d.jurisdiction}" but target "${target}" bucket ${bucket} is in ${region} (${actual ?? 'unknown jurisdiction'}); nothing was copied`,
    {
      hint: `remove "${target}" from data set "${d.name}".targets, or move the bucket into ${d.jurisdiction}`,
      details: { dataset: d.name, target, bucket, region, jurisdiction: actual },
    },
  );
}

/**
 * Checks a bucket location the cloud reported against the data set's jurisdiction. Fails
 * closed: a location mcml cannot map to a jurisdiction (a region newer than the catalog, an
 * unknown name) is refused like one outside it, naming what the spec claimed and what the
 * cloud reported.
 */
export function checkReportedLocation(
  d: { name: string; jurisdiction: Jurisdiction },
  route: DataSetRoute,
  location: string | undefined,
  lookup: JurisdictionLookup,
): void {
  if (!location || route.jurisdiction === 'local' || d.jurisdiction === 'local') return;
  const j = lookup(route.cloud, location) ?? guessJurisdiction(location);
  if (j === d.jurisdiction) return;
  throw new McmlError(
    'RESIDENCY_VIOLATION',
    `data set "${d.name}" is pinned to jurisdiction "${d.jurisdiction}": the spec places target "${route.target}" in ${route.region} (${route.jurisdiction ?? 'unknown jurisdiction'}), but the cloud reports bucket ${route.destination} in ${location} (${j ?? 'a region mcml cannot map to a jurisdiction'}); nothing was copied`,
    {
      hint:
        j === undefined
          ? `if ${location} is in ${d.jurisdiction}, add "${route.cloud},${location},${d.jurisdiction},…" to the catalog's regions.csv (--catalog DIR)`
          : `remove "${route.target}" from data set "${d.name}".targets, or move the bucket into ${d.jurisdiction}`,
      details: {
        dataset: d.name,
        target: route.target,
        bucket: route.destination,
        specRegion: route.region,
        reportedLocation: location,
        jurisdiction: j,
      },
    },
  );
}

/** The cloud a storage URI scheme belongs to, for region lookups. */
export function cloudOfScheme(scheme: string): string {
  return (
    ({ s3: 'aws', gs: 'gcp', az: 'azure', file: 'local' } as Record<string, string>)[scheme] ??
    scheme
  );
}

/**
 * `mcml data sync SRC DST… --jurisdiction J`: each destination's reported location must map
 * to J. Local directories pass (they are on this machine, like local targets); a store that
 * cannot tell its location (Azure Blob's data plane) is refused: fail closed.
 */
export function checkDestinationJurisdiction(
  jurisdiction: Jurisdiction,
  destination: { uri: string; scheme: string },
  location: string | undefined,
  lookup: JurisdictionLookup,
): void {
  if (destination.scheme === 'file' || jurisdiction === 'local') return;
  const cloud = cloudOfScheme(destination.scheme);
  if (location === undefined)
    throw new McmlError(
      'RESIDENCY_VIOLATION',
      `--jurisdiction ${jurisdiction}: ${destination.uri} cannot report its location (${cloud} does not expose it to a storage client), so mcml cannot check it; nothing was copied`,
      {
        hint: 'sync with -f SPEC, where the target states its region, or leave out --jurisdiction',
      },
    );
  const j = lookup(cloud, location) ?? guessJurisdiction(location);
  if (j === jurisdiction) return;
  throw new McmlError(
    'RESIDENCY_VIOLATION',
    `--jurisdiction ${jurisdiction}: the cloud reports ${destination.uri} in ${location} (${j ?? 'a region mcml cannot map to a jurisdiction'}); nothing was copied`,
    {
      hint:
        j === undefined
          ? `if ${location} is in ${jurisdiction}, add it to the catalog's regions.csv (--catalog DIR)`
          : `sync this data only to buckets in ${jurisdiction}`,
      details: { bucket: destination.uri, reportedLocation: location, jurisdiction: j },
    },
  );
}

/** The data set's place in a target's bucket; never outside the bucket, whatever the prefix. */
function dataSetDestination(d: DataSet, target: string, bucket: string, specDir: string): string {
  const prefix = d.prefix ?? `data/${d.name}/`;
  const root = parseStorageUri(bucket, { baseDir: specDir });
  try {
    const uri = formatStorageUri(joinPrefix(root, prefix));
    return uri.endsWith('/') ? uri : `${uri}/`;
  } catch (error) {
    throw new McmlError(
      'SPEC_INVALID',
      `data set "${d.name}": prefix "${prefix}" would leave target "${target}"'s bucket ${bucket}`,
      { hint: 'use a relative prefix such as data/name/ (no "." or ".." segments)', cause: error },
    );
  }
}
