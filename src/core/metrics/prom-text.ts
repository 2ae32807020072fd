/**
 * Just enough of the Prometheus text exposition format (0.0.4) to read one gauge from a
 * replica and to merge many replicas' metrics into one page with extra labels.
 */

/** One sample line: `name{labels} value [timestamp]`. */
export interface Sample {
  name: string;
  labels: [string, string][];
  value: string;
  timestamp?: string;
}

/** A metric family: its HELP, TYPE and samples (including _bucket/_sum/_count lines). */
export interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

/** Parses exposition text into families, in order of first appearance. */
export function parsePrometheusText(text: string): Family[] {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s*(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (!m) continue;
      const f = family(m[2]!);
      if (m[1] === 'HELP') f.help = m[3] ?? '';
      else f.type = m[3] ?? '';
      current = f;
      continue;
    }
    const sample = parseSample(line);
    if (!sample) continue;
    // Histogram/summary children belong to the family declared just before them.
    const owner =
      current && (sample.name === current.name || sample.name.startsWith(current.name + '_'))
        ? current
        : family(sample.name);
    owner.samples.push(sample);
  }
  return [...families.values()];
}

function parseSample(line: string): Sample | undefined {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+(\S+))?$/.exec(line);
  if (!m) return undefined;
  const labels: [string, string][] = [];
  const body = m[3];
  if (body) {
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;
    let lm: RegExpExecArray | null;
    while ((lm = re.exec(body)) !== null) labels.push([lm[1]!, unescapeLabel(lm[2]!)]);
  }
  return { name: m[1]!, labels, value: m[4]!, ...(m[6] ? { timestamp: m[6] } : {}) };
}

/** The sum of every sample of `metric` (all label sets); undefined when absent. */
export function sumSamples(text: string, metric: string): number | undefined {
  let found = false;
  let sum = 0;
  for (const f of parsePrometheusText(text)) {
    for (const s of f.samples) {
      if (s.name !== metric) continue;
      const v = Number(s.value);
      if (!Number.isFinite(v)) continue;
      found = true;
      sum += v;
    }
  }
  return found ? sum : undefined;
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Escapes a label value for the exposition format. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * Merges several pages into one: each page's samples get its extra labels (which replace
 * labels of the same name), HELP/TYPE appear once per family, families in first-seen order.
 */
export function mergePrometheusText(
  pages: { text: string; labels: Record<string, string> }[],
): string {
  const merged = new Map<string, Family>();
  for (const page of pages) {
    for (const f of parsePrometheusText(page.text)) {
      let into = merged.get(f.name);
      if (!into) {
        into = { name: f.name, samples: [] };
        if (f.help !== undefined) into.help = f.help;
        if (f.type !== undefined) into.type = f.type;
        merged.set(f.name, into);
      }
      const extra = Object.entries(page.labels);
      for (const s of f.samples) {
        const kept = s.labels.filter(([k]) => !(k in page.labels));
        into.samples.push({ ...s, labels: [...kept, ...extra] });
      }
    }
  }
  const out: string[] = [];
  for (const f of merged.values()) {
    if (f.help !== undefined) out.push(`# HELP ${f.name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      out.push(
        `${s.name}${labels ? `{${labels}}` : ''} ${s.value}${s.timestamp ? ` ${s.timestamp}` : ''}`,
      );
    }
  }
  return out.join('\n') + '\n';
}
