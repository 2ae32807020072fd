/**
 * The pure half of a sync: given both sides' listings, decide what to copy, what is already
 * there, what to delete, and which objects the listings cannot settle (they need one stat).
 * No I/O: the engine (src/engines/sync) lists, stats and transfers.
 */
import picomatch from 'picomatch';
import type { ObjectInfo } from '../../ports/object-store.js';

/** How two objects with the same key compare. */
export type Comparison = 'same' | 'different' | 'unknown';

/** Which evidence decided a comparison, for reports. */
export type Evidence = 'size' | 'sha256' | 'md5' | 'crc32c' | 'none';

/**
 * Compares a source object with a destination object: sizes first, then the strongest hash
 * both sides carry (sha256, then MD5, then CRC32C). `unknown` means the listings do not share
 * a hash; a stat of the object (which reads its sha256 metadata) may settle it.
 */
export function compareObjects(a: ObjectInfo, b: ObjectInfo): { result: Comparison; by: Evidence } {
  if (a.size !== b.size) return { result: 'different', by: 'size' };
  if (a.sha256 && b.sha256)
    return { result: a.sha256 === b.sha256 ? 'same' : 'different', by: 'sha256' };
  if (a.md5 && b.md5) return { result: a.md5 === b.md5 ? 'same' : 'different', by: 'md5' };
  if (a.crc32c && b.crc32c)
    return { result: a.crc32c === b.crc32c ? 'same' : 'different', by: 'crc32c' };
  return { result: 'unknown', by: 'none' };
}

export interface KeyFilter {
  include?: readonly string[];
  exclude?: readonly string[];
}

/** A predicate for keys from include/exclude globs (picomatch; dotfiles match). */
export function keyFilter(filter: KeyFilter = {}): (key: string) => boolean {
  const inc =
    filter.include && filter.include.length > 0
      ? picomatch([...filter.include], { dot: true })
      : undefined;
  const exc =
    filter.exclude && filter.exclude.length > 0
      ? picomatch([...filter.exclude], { dot: true })
      : undefined;
  return (key) => (inc ? inc(key) : true) && !(exc ? exc(key) : false);
}

export type CopyReason = 'missing' | 'size' | 'content' | 'unverifiable';

export interface CopyAction {
  key: string;
  size: number;
  reason: CopyReason;
}

/** What one destination needs. */
export interface DestinationDiff {
  copy: CopyAction[];
  same: string[];
  /** Same size, no shared hash in the listings: the engine stats these once. */
  unknown: string[];
  /** Objects at the destination that are not in the (filtered) source. */
  extra: ObjectInfo[];
}

/**
 * Diffs a filtered source listing against one destination listing. Both are keyed by the
 * key relative to each store's root.
 */
export function diffListings(
  source: readonly ObjectInfo[],
  destination: readonly ObjectInfo[],
  filter: KeyFilter = {},
): DestinationDiff {
  const accept = keyFilter(filter);
  const dst = new Map<string, ObjectInfo>();
  for (const o of destination) if (accept(o.key)) dst.set(o.key, o);
  const out: DestinationDiff = { copy: [], same: [], unknown: [], extra: [] };
  const seen = new Set<string>();
  for (const s of source) {
    if (!accept(s.key)) continue;
    seen.add(s.key);
    const d = dst.get(s.key);
    if (!d) {
      out.copy.push({ key: s.key, size: s.size, reason: 'missing' });
      continue;
    }
    const c = compareObjects(s, d);
    if (c.result === 'same') out.same.push(s.key);
    else if (c.result === 'different')
      out.copy.push({ key: s.key, size: s.size, reason: c.by === 'size' ? 'size' : 'content' });
    else out.unknown.push(s.key);
  }
  for (const [key, d] of dst) if (!seen.has(key)) out.extra.push(d);
  return out;
}

/** Settles `unknown` entries with stat results; still-unknown objects are copied. */
export function settleUnknown(
  diff: DestinationDiff,
  source: ReadonlyMap<string, ObjectInfo>,
  statted: ReadonlyMap<string, ObjectInfo | undefined>,
): DestinationDiff {
  const copy = [...diff.copy];
  const same = [...diff.same];
  for (const key of diff.unknown) {
    const s = source.get(key);
    const d = statted.get(key);
    if (!s) continue;
    if (!d) {
      copy.push({ key, size: s.size, reason: 'missing' });
      continue;
    }
    const c = compareObjects(s, d);
    if (c.result === 'same') same.push(key);
    else
      copy.push({
        key,
        size: s.size,
        reason: c.result === 'different' ? 'content' : 'unverifiable',
      });
  }
  copy.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { copy, same, unknown: [], extra: diff.extra };
}

/** One source object and every destination that needs it: read once, written N times. */
export interface FanOutItem {
  key: string;
  size: number;
  /** Indexes into the destination list. */
  destinations: number[];
}

/** Groups per-destination copies by key so each source object is read once. */
export function fanOut(diffs: readonly DestinationDiff[]): FanOutItem[] {
  const byKey = new Map<string, FanOutItem>();
  diffs.forEach((d, i) => {
    for (const c of d.copy) {
      const item = byKey.get(c.key) ?? { key: c.key, size: c.size, destinations: [] };
      item.destinations.push(i);
      byKey.set(c.key, item);
    }
  });
  // Large objects first: they bound the wall time, small ones fill the gaps.
  return [...byKey.values()].sort((a, b) => b.size - a.size || (a.key < b.key ? -1 : 1));
}
