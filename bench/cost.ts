/**
 * npm run bench:cost — import 1,000,000 generated FOCUS rows (AWS-, Google- and Azure-shaped
 * exports, a third each) as CSV and as Parquet, beside DuckDB alone reading the same files in
 * the same process (`CREATE TABLE … AS SELECT * FROM read_csv/read_parquet`), in alternating
 * runs; then the per-cloud/day report over the store. Prints medians, the ratio to DuckDB
 * alone (target ≥ 0.70) and the report time (target < 200 ms), and peak memory (RSS). The
 * process's CPU time per run is printed beside wall time: on a shared machine it is the
 * steadier reading of the two.
 *
 *   BENCH_ROWS=1000000 BENCH_RUNS=3 npm run bench:cost
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { openStore } from '../src/adapters/storage.js';
import { buildCostReport } from '../src/core/cost/report.js';
import { importFocusFiles } from '../src/engines/cost/import.js';
import { openCostStore } from '../src/engines/cost/store.js';
import {
  writeSampleCsv,
  writeSampleParquet,
  type SampleProvider,
} from '../test/cost/focus-samples.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PROVIDERS: SampleProvider[] = ['aws', 'gcp', 'azure'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Peak resident memory of this process so far (VmHWM), in MiB. */
function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

/** CPU time (all threads of this process, DuckDB's included) spent by `work`, in ms. */
async function withCpu(work: () => Promise<number>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const wall = await work();
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

async function duckdbAlone(files: string[], dbPath: string): Promise<number> {
  const t0 = performance.now();
  const db = await DuckDBInstance.create(dbPath);
  const c = await db.connect();
  for (const [i, f] of files.entries()) {
    const reader = f.endsWith('.parquet') ? `read_parquet('${f}')` : `read_csv('${f}')`;
    await c.run(`CREATE TABLE t${i} AS SELECT * FROM ${reader}`);
  }
  c.closeSync();
  db.closeSync();
  return performance.now() - t0;
}

async function mcmlImport(files: string[], dbPath: string, tmp: string): Promise<number> {
  const t0 = performance.now();
  const store = await openCostStore(dbPath);
  const report = await importFocusFiles({
    store,
    sources: files,
    baseDir: tmp,
    openStore: (uri) => openStore(uri),
    tmpDir: join(tmp, 'dl'),
    now: () => new Date(),
  });
  store.close();
  if (report.rows !== ROWS) throw new Error(`imported ${report.rows} rows, expected ${ROWS}`);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mcml-bench-cost-'));
  try {
    console.log(
      `generating ${ROWS.toLocaleString('en-US')} FOCUS rows (AWS, Google, Azure shapes)…`,
    );
    const csv: string[] = [];
    const parquet: string[] = [];
    for (const [i, provider] of PROVIDERS.entries()) {
      const rows = Math.floor(ROWS / 3) + (i < ROWS % 3 ? 1 : 0);
      const o = { provider, rows, month: '2026-11', service: 'ml-inference', seed: i + 1 };
      csv.push(join(dir, `${provider}.csv`));
      parquet.push(join(dir, `${provider}.parquet`));
      await writeSampleCsv(csv[i]!, o);
      await writeSampleParquet(parquet[i]!, o);
    }
    const size = async (fs: string[]) =>
      (await Promise.all(fs.map((f) => stat(f)))).reduce((a, s) => a + s.size, 0) / 2 ** 20;
    console.log(
      `CSV ${(await size(csv)).toFixed(0)} MiB, Parquet ${(await size(parquet)).toFixed(0)} MiB; ${RUNS} alternating runs each`,
    );
    await mkdir(join(dir, 'db'));

    const results: {
      format: string;
      duck: number[];
      ours: number[];
      duckCpu: number[];
      oursCpu: number[];
    }[] = [];
    let n = 0;
    for (const [format, files] of [
      ['CSV', csv],
      ['Parquet', parquet],
    ] as const) {
      const r = {
        format,
        duck: [] as number[],
        ours: [] as number[],
        duckCpu: [] as number[],
        oursCpu: [] as number[],
      };
      for (let run = 0; run < RUNS; run++) {
        const duck = await withCpu(() => duckdbAlone(files, join(dir, 'db', `duck-${n++}.duckdb`)));
        const ours = await withCpu(() =>
          mcmlImport(files, join(dir, 'db', `mcml-${n++}.duckdb`), dir),
        );
        r.duck.push(duck.wall);
        r.duckCpu.push(duck.cpu);
        r.ours.push(ours.wall);
        r.oursCpu.push(ours.cpu);
        await rm(join(dir, 'db'), { recursive: true, force: true });
        await mkdir(join(dir, 'db'));
      }
      results.push(r);
    }
    const importPeak = peakRssMiB();

    // The report: per cloud and day over the last imported store.
    const storePath = join(dir, 'db', 'report.duckdb');
    await mcmlImport(parquet, storePath, dir);
    const store = await openCostStore(storePath);
    const reportMs: number[] = [];
    const range = { from: '2026-11-01', to: '2026-11-30' };
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      const daily = await store.dailyCosts({
        range,
        by: 'day',
        attribution: { mode: 'tags', service: 'ml-inference', accounts: {} },
      });
      buildCostReport({ range, by: 'day', daily, budget: { monthly: 20000, warnAt: 0.8 } });
      if (i >= 2) reportMs.push(performance.now() - t0);
    }
    store.close();

    console.log('');
    console.log(
      `| import of ${ROWS.toLocaleString('en-US')} rows | DuckDB alone (median) | mcml cost import (median) | mcml / DuckDB throughput | target | CPU s DuckDB / mcml (median) | mcml / DuckDB by CPU |`,
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const r of results) {
      const duck = median(r.duck);
      const ours = median(r.ours);
      const rate = (ms: number) =>
        `${((ROWS / ms) * 1000).toLocaleString('en-US', { maximumFractionDigits: 0 })} rows/s`;
      console.log(
        `| ${r.format} | ${(duck / 1000).toFixed(2)} s (${rate(duck)}) | ${(ours / 1000).toFixed(2)} s (${rate(ours)}) | ${(duck / ours).toFixed(2)} | ≥ 0.70 | ${(median(r.duckCpu) / 1000).toFixed(1)} / ${(median(r.oursCpu) / 1000).toFixed(1)} | ${(median(r.duckCpu) / median(r.oursCpu)).toFixed(2)} |`,
      );
    }
    console.log('');
    console.log(
      `| report per cloud and day (${ROWS.toLocaleString('en-US')} rows, 30 days) | median ${median(reportMs).toFixed(1)} ms | max ${Math.max(...reportMs).toFixed(1)} ms | target < 200 ms |`,
    );
    console.log('');
    console.log(
      `peak memory (RSS high-water mark of the process): ${importPeak.toFixed(0)} MiB during imports, ${peakRssMiB().toFixed(0)} MiB overall`,
    );
    console.log(
      `raw runs (ms): ${JSON.stringify(results.map((r) => ({ format: r.format, duck: r.duck.map(Math.round), ours: r.ours.map(Math.round) })))}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
