/**
 * Which targets roll out together: one wave per failover tier, the lowest-risk tier (the
 * standby that takes no traffic) first by default, so a bad version meets a standby before the
 * primary; or primary first, or waves named by hand, or everything at once. Pure.
 */
import { McmlError } from '../../core/errors.js';

export type WaveOrder = 'lowest-risk' | 'primary-first';

export interface WaveTarget {
  name: string;
  /** Failover tier: 1 is the primary. */
  tier: number;
}

export interface WavePlanOptions {
  order?: WaveOrder;
  /** Explicit waves: "aws-use1;gcp-usc1,azure-eus" (waves split by ";", targets by ","). */
  waves?: string;
  allAtOnce?: boolean;
}

/** The waves, each a list of target names in the order given. */
export function planWaves(targets: WaveTarget[], options: WavePlanOptions = {}): string[][] {
  if (targets.length === 0) return [];
  if (options.allAtOnce) return [targets.map((t) => t.name)];
  if (options.waves !== undefined) return explicitWaves(targets, options.waves);
  const tiers = [...new Set(targets.map((t) => t.tier))].sort((a, b) =>
    options.order === 'primary-first' ? a - b : b - a,
  );
  return tiers.map((tier) => targets.filter((t) => t.tier === tier).map((t) => t.name));
}

function explicitWaves(targets: WaveTarget[], spec: string): string[][] {
  const known = new Set(targets.map((t) => t.name));
  const waves = spec
    .split(';')
    .map((w) =>
      w
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    )
    .filter((w) => w.length > 0);
  const seen = new Set<string>();
  for (const name of waves.flat()) {
    if (!known.has(name)) {
      throw new McmlError(
        'USAGE',
        `--waves names "${name}", which is not a target being deployed`,
        {
          hint: `targets: ${[...known].join(', ')}`,
        },
      );
    }
    if (seen.has(name)) throw new McmlError('USAGE', `--waves names "${name}" twice`);
    seen.add(name);
  }
  const missing = [...known].filter((n) => !seen.has(n));
  if (missing.length > 0) {
    throw new McmlError('USAGE', `--waves leaves out ${missing.join(', ')}`, {
      hint: 'name every target once, e.g. --waves "azure-eus;gcp-usc1,aws-use1"',
    });
  }
  return waves;
}
