/**
 * A target's jurisdiction from its provider and region name. This is the fallback used when
 * no catalog lookup is injected: it reads the naming conventions of the three clouds
 * (us-east-1, europe-west4, westeurope, …). The region catalog is the better source.
 */
import type { JurisdictionOf } from './config.js';

const RULES: [RegExp, string][] = [
  [
    /^(eu-|europe-|(north|west|france|germany|italy|poland|spain|sweden|norway)(europe|central|south|north|east|west)?)/,
    'eu',
  ],
  [/^(uk|europe-west2$|eu-west-2$)/, 'uk'],
  [/^(switzerland|europe-west6$|eu-central-2$)/, 'ch'],
  [/^(us-|us[a-z]*\d*$|(east|west|central|northcentral|southcentral|westcentral)us)/, 'us'],
  [/^(ca-|canada|northamerica-northeast)/, 'ca'],
  [/^(ap-northeast-1|ap-northeast-3|asia-northeast1|asia-northeast2|japan)/, 'jp'],
  [/^(ap-northeast-2|asia-northeast3|korea)/, 'kr'],
  [/^(ap-south|asia-south|(central|south|west)india|india)/, 'in'],
  [/^(ap-southeast-2|ap-southeast-4|australia)/, 'au'],
  [/^(ap-|asia-|(east|southeast)asia)/, 'asia'],
  [/^(sa-|southamerica-|brazil)/, 'br'],
  [/^(me-|me-central|uae|qatar|israel)/, 'me'],
  [/^(af-|africa-|southafrica)/, 'af'],
];

/**
 * Best-effort jurisdiction from a region name. `local` targets whose region names no cloud
 * region are "local"; a local target may emulate one (region: eu-west-1).
 */
export const jurisdictionFromRegion: JurisdictionOf = ({ provider, region }) => {
  const r = region.toLowerCase();
  // Specific countries before their continent.
  if (/^(eu-west-2|europe-west2|uk)/.test(r)) return 'uk';
  if (/^(eu-central-2|europe-west6|switzerland)/.test(r)) return 'ch';
  for (const [pattern, j] of RULES) if (pattern.test(r)) return j;
  return provider === 'local' ? 'local' : undefined;
};
