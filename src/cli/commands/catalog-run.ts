import {
  canonicalGpu,
  CLOUDS,
  isCurrent,
  type Catalog,
  type Lifecycle,
  type Offering,
} from '../../core/catalog/index.js';
import { McmlError } from '../../core/errors.js';
import type { Cloud } from '../../core/plan/types.js';
import { GPU_MODELS } from '../../core/spec/schema.js';
import { didYouMean } from '../../core/suggest.js';
import { loadCatalog } from '../catalog-files.js';
import { renderTable, usd } from '../output.js';

export interface CatalogGpusOptions {
  cloud?: string;
  region?: string;
  gpu?: string;
  json?: boolean;
  catalog?: string;
  /** Include retired offerings (shown for reference; the planner never picks them). */
  all?: boolean;
}

export interface CatalogRegionsOptions {
  cloud?: string;
  json?: boolean;
  catalog?: string;
}

/** One row of `mcml catalog gpus --json`. */
export interface GpuRow {
  gpu: string;
  count: number;
  cloud: Cloud;
  region: string;
  zone?: string;
  instanceType: string;
  /** The cloud's accelerator name, e.g. nvidia-tesla-v100. */
  cloudName: string;
  /** GCP: the GPU is attached to this VM (the cheapest that takes it); prices are summed. */
  attached: boolean;
  vcpus: number;
  memoryGiB: number;
  onDemand: number;
  spot?: number;
  priceSource: string;
  /** available, retiring on a date, or retired (only with --all). */
  lifecycle: Lifecycle;
}

function checkCloud(catalog: Catalog, cloud: string | undefined): Cloud | undefined {
  if (cloud === undefined) return undefined;
  if ((CLOUDS as readonly string[]).includes(cloud)) return cloud as Cloud;
  const hint = didYouMean(cloud, CLOUDS);
  throw new McmlError('USAGE', `unknown cloud "${cloud}"`, {
    hint: hint || `clouds: ${CLOUDS.join(', ')}`,
  });
}

function checkRegion(catalog: Catalog, region: string | undefined, cloud?: Cloud): void {
  if (region === undefined) return;
  const known = catalog.regions.filter((r) => cloud === undefined || r.cloud === cloud);
  if (known.some((r) => r.region === region)) return;
  const hint = didYouMean(
    region,
    known.map((r) => r.region),
  );
  throw new McmlError(
    'USAGE',
    `unknown region "${region}"${cloud ? ` on ${cloud}` : ''} in the catalog`,
    { hint: hint || `regions: ${known.map((r) => r.region).join(', ')}` },
  );
}

/** GPU offerings, one row per (cloud, region, zone, GPU, count, instance); GCP VM+GPU combos reduced to the cheapest host. */
export function gpuRows(catalog: Catalog, options: CatalogGpusOptions): GpuRow[] {
  const cloud = checkCloud(catalog, options.cloud);
  checkRegion(catalog, options.region, cloud);
  let model: string | undefined;
  if (options.gpu !== undefined) {
    model =
      canonicalGpu(options.gpu) ??
      GPU_MODELS.find((m) => m.toLowerCase() === options.gpu!.toLowerCase());
    if (model === undefined) {
      const hint = didYouMean(options.gpu, GPU_MODELS);
      throw new McmlError('USAGE', `unknown GPU "${options.gpu}"`, {
        hint: hint || `GPU models: ${GPU_MODELS.join(', ')}`,
      });
    }
  }
  const best = new Map<string, Offering>();
  for (const o of catalog.offerings) {
    if (o.gpu === undefined) continue;
    if (!options.all && !isCurrent(o)) continue;
    if (cloud !== undefined && o.cloud !== cloud) continue;
    if (options.region !== undefined && o.region !== options.region) continue;
    if (model !== undefined && o.gpu.model !== model) continue;
    const key = o.attached
      ? `${o.cloud}|${o.region}|${o.zone ?? ''}|${o.gpu.cloudName}|${o.gpu.count}`
      : `${o.cloud}|${o.region}|${o.zone ?? ''}|${o.instanceType}`;
    const seen = best.get(key);
    if (seen === undefined || o.onDemand < seen.onDemand) best.set(key, o);
  }
  const order = (m: string) => (GPU_MODELS as readonly string[]).indexOf(m);
  return [...best.values()]
    .map((o): GpuRow => ({
      gpu: o.gpu!.model,
      count: o.gpu!.count,
      cloud: o.cloud,
      region: o.region,
      ...(o.zone === undefined ? {} : { zone: o.zone }),
      instanceType: o.instanceType,
      cloudName: o.gpu!.cloudName,
      attached: o.attached,
      vcpus: o.vcpus,
      memoryGiB: o.memoryGiB,
      onDemand: o.onDemand,
      ...(o.spot === undefined ? {} : { spot: o.spot }),
      priceSource: o.priceSource,
      lifecycle: o.lifecycle,
    }))
    .sort(
      (a, b) =>
        order(a.gpu) - order(b.gpu) ||
        a.count - b.count ||
        a.onDemand - b.onDemand ||
        (a.spot ?? Infinity) - (b.spot ?? Infinity) ||
        (a.cloud < b.cloud ? -1 : a.cloud > b.cloud ? 1 : 0) ||
        (a.region < b.region ? -1 : a.region > b.region ? 1 : 0),
    );
}

function price(x: number | undefined): string {
  if (x === undefined) return '-';
  return x < 1 ? `$${x.toFixed(4)}` : usd(x, 3);
}

export async function runCatalogGpus(options: CatalogGpusOptions): Promise<void> {
  const catalog = await loadCatalog(options.catalog);
  const rows = gpuRows(catalog, options);
  if (options.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no GPU offerings match\n');
    return;
  }
  process.stdout.write(
    renderTable(rows, [
      { header: 'GPU', value: (r) => r.gpu },
      { header: 'QTY', value: (r) => String(r.count), align: 'right' },
      { header: 'CLOUD', value: (r) => r.cloud },
      { header: 'REGION', value: (r) => r.region + (r.zone ? ` (${r.zone})` : '') },
      {
        header: 'INSTANCE',
        value: (r) => (r.attached ? `${r.instanceType} + ${r.cloudName}` : r.instanceType),
      },
      { header: 'vCPU', value: (r) => String(r.vcpus), align: 'right' },
      { header: 'MEM GiB', value: (r) => String(r.memoryGiB), align: 'right' },
      { header: '$/H', value: (r) => price(r.onDemand), align: 'right' },
      { header: 'SPOT $/H', value: (r) => price(r.spot), align: 'right' },
      ...(rows.some((r) => r.lifecycle.status !== 'available')
        ? [
            {
              header: 'STATUS',
              value: (r: GpuRow) =>
                r.lifecycle.status === 'available'
                  ? ''
                  : `${r.lifecycle.status} ${r.lifecycle.date ?? ''}`.trim(),
            },
          ]
        : []),
    ]) + '\n',
  );
  if (!options.all) {
    const retired = catalog.offerings.filter((o) => o.gpu !== undefined && !isCurrent(o)).length;
    if (retired > 0) {
      process.stdout.write(
        `\n${retired} retired GPU offerings are hidden (they can no longer be created); --all lists them.\n`,
      );
    }
  }
  if (rows.some((r) => r.attached)) {
    process.stdout.write(
      '\nGCP rows attach the GPU to the cheapest N1 VM that takes it; the price is the VM plus the GPU.\n',
    );
  }
}

/** One row of `mcml catalog regions --json`. */
export interface RegionRow {
  cloud: Cloud;
  region: string;
  displayName: string;
  jurisdiction: string;
  continent: string;
  offerings: number;
  gpus: string[];
}

export function regionRows(catalog: Catalog, options: CatalogRegionsOptions): RegionRow[] {
  const cloud = checkCloud(catalog, options.cloud);
  return catalog.regions
    .filter((r) => cloud === undefined || r.cloud === cloud)
    .map((r) => {
      const offerings = (catalog.byRegion.get(`${r.cloud}/${r.region}`) ?? []).filter(isCurrent);
      const gpus = [...new Set(offerings.flatMap((o) => (o.gpu ? [o.gpu.model] : [])))].sort(
        (a, b) => GPU_MODELS.indexOf(a) - GPU_MODELS.indexOf(b),
      );
      return {
        cloud: r.cloud,
        region: r.region,
        displayName: r.displayName,
        jurisdiction: r.jurisdiction,
        continent: r.continent,
        offerings: offerings.length,
        gpus,
      };
    });
}

export async function runCatalogRegions(options: CatalogRegionsOptions): Promise<void> {
  const catalog = await loadCatalog(options.catalog);
  const rows = regionRows(catalog, options);
  if (options.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    renderTable(rows, [
      { header: 'CLOUD', value: (r) => r.cloud },
      { header: 'REGION', value: (r) => r.region },
      { header: 'NAME', value: (r) => r.displayName },
      { header: 'JURISDICTION', value: (r) => r.jurisdiction },
      { header: 'CONTINENT', value: (r) => r.continent },
      { header: 'OFFERINGS', value: (r) => String(r.offerings), align: 'right' },
      { header: 'GPUS', value: (r) => r.gpus.join(', ') || '-' },
    ]) + '\n',
  );
}
