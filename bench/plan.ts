/**
 * npm run bench:plan — time to plan each example on the shipped catalog and on a synthetic
 * catalog 100× larger (every offering copied 100 times with perturbed prices). Prints the
 * median of many runs and the ratio to the limit (50 ms on the real catalog).
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseCatalog, type CatalogFile } from '../src/core/catalog/index.js';
import { planDocument } from '../src/core/plan/planner.js';
import { parseSpec } from '../src/core/spec/parse.js';
import { loadCatalog } from '../src/cli/catalog-files.js';
import { readdir } from 'node:fs/promises';

const repo = fileURLToPath(new URL('../', import.meta.url));
const LIMIT_MS = 50;
const EXAMPLES = ['three-clouds', 'residency', 'local'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function time(fn: () => unknown, runs: number): number {
  for (let i = 0; i < Math.min(5, runs); i++) fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

async function catalogFiles(): Promise<CatalogFile[]> {
  const root = join(repo, 'data/catalog');
  const out: CatalogFile[] = [];
  for (const name of ['regions.csv', 'egress.csv']) {
    out.push({ path: name, text: await readFile(join(root, name), 'utf8') });
  }
  for (const cloud of ['aws', 'gcp', 'azure']) {
    for (const f of (await readdir(join(root, cloud))).filter((n) => n.endsWith('.csv'))) {
      out.push({ path: `${cloud}/${f}`, text: await readFile(join(root, cloud, f), 'utf8') });
    }
  }
  return out;
}

/** Every instance row 100 times: new instance names, prices perturbed by a fixed LCG. */
function synthetic(files: CatalogFile[], factor: number): CatalogFile[] {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) % 2 ** 32;
    return seed / 2 ** 32;
  };
  return files.map((f) => {
    if (!f.path.includes('/')) return f;
    const [header, ...rows] = f.text.trim().split('\n');
    const out = [header!];
    for (let k = 0; k < factor; k++) {
      for (const row of rows) {
        const cells = row.split(',');
        if (k > 0) {
          // Accelerator rows (GCP) stay as they are: they multiply with the VM rows already.
          if (cells[0] === '') continue;
          cells[0] = `${cells[0]}-s${k}`;
          const scale = 0.9 + rand() * 0.4;
          cells[5] = (Number(cells[5]) * scale).toFixed(6);
          if (cells[6] !== '') cells[6] = (Number(cells[6]) * scale).toFixed(6);
        }
        out.push(cells.join(','));
      }
    }
    return { path: f.path, text: out.join('\n') + '\n' };
  });
}

const files = await catalogFiles();
const real = parseCatalog(files);
const bigFiles = synthetic(files, 100);
const big = parseCatalog(bigFiles);
const docs = await Promise.all(
  EXAMPLES.map(async (name) => {
    const file = join(repo, 'examples', name, 'mcml.yaml');
    return { name, doc: parseSpec(await readFile(file, 'utf8'), file) };
  }),
);

const rows: string[][] = [];
const fmt = (ms: number) => ms.toFixed(3);
rows.push([
  'catalog parse (all CSVs)',
  `${real.offerings.length}`,
  fmt(time(() => parseCatalog(files), 50)),
  fmt(time(() => parseCatalog(bigFiles), 5)),
  `${big.offerings.length}`,
]);
for (const { name, doc } of docs) {
  const a = time(() => planDocument(doc, real), 300);
  const b = time(() => planDocument(doc, big), 30);
  rows.push([
    `plan ${name}`,
    `${real.offerings.length}`,
    fmt(a),
    fmt(b),
    `${big.offerings.length}`,
  ]);
}
// Whole command, cold: node start + load catalog from disk + parse spec + plan + print.
const cli: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  execFileSync(process.execPath, ['bin/mcml', 'plan', 'examples/three-clouds/mcml.yaml'], {
    cwd: repo,
    stdio: 'ignore',
  });
  cli.push(performance.now() - t0);
}
await loadCatalog(); // make sure the fs loader works from here too

const header = ['what', 'offerings', 'real ms (median)', '100× ms (median)', 'offerings 100×'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
process.stdout.write(
  `mcml bench:plan — ${new Date().toISOString()} — Node ${process.version}, ${cpus().length} cores\n\n`,
);
process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n\n`);
const worst = Math.max(...rows.slice(1).map((r) => Number(r[2])));
process.stdout.write(
  `slowest example plan on the real catalog: ${fmt(worst)} ms = ${(worst / LIMIT_MS).toFixed(4)}× the ${LIMIT_MS} ms limit (${worst < LIMIT_MS ? 'within' : 'OVER'})\n`,
);
process.stdout.write(
  `mcml plan examples/three-clouds/mcml.yaml, whole process (node start, catalog from disk, print): median ${fmt(median(cli))} ms of 5\n`,
);
