/** Levenshtein distance, for did-you-mean suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The candidate nearest to `input`, or undefined when none is close enough to be a likely typo.
 * Case-insensitive; a candidate is close when its distance is at most a third of its length (min 2).
 */
export function nearest(input: string, candidates: Iterable<string>): string | undefined {
  const needle = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // The distance is at least the difference in length: skip the quadratic work when that
    // alone rules the candidate out (a 1 MB value against short names would take minutes).
    if (Math.abs(needle.length - candidate.length) > closeness(candidate)) continue;
    const d = editDistance(needle, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  return bestDistance <= closeness(best) ? best : undefined;
}

/** The largest distance at which `candidate` still counts as a likely typo. */
function closeness(candidate: string): number {
  return Math.max(2, Math.floor(candidate.length / 3));
}

/** " Did you mean "x"?" or the empty string. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const hit = nearest(input, candidates);
  return hit === undefined ? '' : `did you mean "${hit}"?`;
}
