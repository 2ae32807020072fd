/**
 * npm run bench:sync — mcml data sync side by side with rclone on moto (S3) and Azurite, each
 * behind a counting proxy so requests are counted at the server.
 *   (a) 1,000 × 64 KiB          local → S3, S3 → Azure
 *   (b) 4 × 256 MiB             local → S3, S3 → Azure; peak RSS (use --small for 4 × 32 MiB)
 *   (c) no-op resync of 10,000   local → S3, S3 → Azure; wall time and requests per side
 *   (d) 1 → 3 fan-out            S3 → {Azure, S3, disk}; bytes read from the source
 *   (e) cold start               `mcml --version` and `mcml plan` under hyperfine
 *   (f) 1 × 2 GiB                local → S3, S3 → Azure; rclone at its defaults and at equal
 *                                concurrency; peak RSS
 *   (g) resume                   kill -9 at ~50% of a 2 GiB local → S3 upload, rerun: bytes
 *                                sent again, total time and the rerun's peak RSS, rclone in
 *                                the same situation
 * (b) and (f) run rclone twice: at its defaults, and at mcml's concurrency (16 objects, 4 parts
 * per object). (c) compares with `rclone copy --checksum`. --repeat N runs (a), (b), (c) and (f) N times,
 * alternating the tools, and reports the median and spread. Every figure carries the load
 * average (/proc/loadavg) at its end: the machine is shared.
 * Flags: --small (b at 32 MiB, f/g at 256 MiB), --objects N (c), --repeat N (a, b, c, f),
 * --only a,b,c,d,e,f,g (default a,b,c,d,e: the 2 GiB cases f and g take long, run them apart),
 * or MCML_BENCH_ONLY=f,g.
 * Build first (npm run build): mcml runs as `node bin/mcml`, rclone as `env -u AWS_CA_BUNDLE rclone`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { startMoto } from '../test/helpers/moto.js';
import { startAzurite, AZURITE_ACCOUNT, AZURITE_KEY } from '../test/helpers/azurite.js';
import { startCountingProxy, type CountingProxy } from '../test/sync/counting-proxy.js';

const argv = process.argv.slice(2);
const small = argv.includes('--small');
const objectsC = Number(argv[argv.indexOf('--objects') + 1]) || 10_000;
const only = argv.includes('--only')
  ? argv[argv.indexOf('--only') + 1]!.split(',')
  : (process.env.MCML_BENCH_ONLY?.split(',') ?? ['a', 'b', 'c', 'd', 'e']);
const repeat = Number(argv[argv.indexOf('--repeat') + 1]) || 1;
const bigSize = (small ? 256 : 2048) * 1024 * 1024;
const MIB = 1024 * 1024;
const BIN = new URL('../bin/mcml', import.meta.url).pathname;

interface Result {
  scenario: string;
  tool: string;
  /** 1-min load average when the run ended. */
  load: number;
  seconds: number;
  srcRequests: number;
  dstRequests: number;
  srcBytesRead?: number;
  peakRssMiB: number;
  /** CPU seconds (user + system) the tool's process used. */
  cpuSeconds: number;
}

async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; rssMiB: number; cpuSeconds: number }> {
  const out = join(tmpdir(), `mcml-bench-time-${process.pid}`);
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', out, cmd, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const [kib, user, sys] = (await readFile(out, 'utf8')).trim().split('\n').pop()!.split(' ');
  return { seconds, rssMiB: Number(kib) / 1024, cpuSeconds: Number(user) + Number(sys) };
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'mcml-bench-sync-'));
  const [moto, azurite] = await Promise.all([startMoto(), startAzurite()]);
  const s3p = await startCountingProxy(moto.endpoint);
  const azp = await startCountingProxy(`http://127.0.0.1:${azurite.port}`);
  const s3 = new S3Client({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const blob = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const baseEnv = { ...process.env };
  delete baseEnv.AWS_CA_BUNDLE;
  delete baseEnv.AZURE_STORAGE_CONNECTION_STRING;
  const mcmlEnv: NodeJS.ProcessEnv = {
    ...baseEnv,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    MCML_S3_ENDPOINT: s3p.endpoint,
    MCML_AZURE_BLOB_ENDPOINT: `${azp.endpoint}/${AZURITE_ACCOUNT}`,
    AZURE_STORAGE_KEY: AZURITE_KEY,
  };
  const rcloneEnv: NodeJS.ProcessEnv = {
    ...baseEnv,
    RCLONE_CONFIG_S3_TYPE: 's3',
    RCLONE_CONFIG_S3_PROVIDER: 'Other',
    RCLONE_CONFIG_S3_ENDPOINT: s3p.endpoint,
    RCLONE_CONFIG_S3_ACCESS_KEY_ID: 'testing',
    RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: 'testing',
    RCLONE_CONFIG_S3_REGION: 'us-east-1',
    RCLONE_CONFIG_S3_FORCE_PATH_STYLE: 'true',
    // rclone 1.60 takes an Azure endpoint only as a container SAS URL (set per container).
    RCLONE_CONFIG_AZ_TYPE: 'azureblob',
  };
  const sasFor = async (c: string) => {
    const { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } =
      await import('@azure/storage-blob');
    const q = generateBlobSASQueryParameters(
      {
        containerName: c,
        permissions: ContainerSASPermissions.parse('racwdl'),
        expiresOn: new Date(Date.now() + 6 * 3600_000),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    );
    return `${azp.endpoint}/${AZURITE_ACCOUNT}/${c}?${q.toString()}`;
  };
  const results: Result[] = [];
  let n = 0;
  const bucket = async () => {
    const b = `bench-${n++}-${randomBytes(3).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    return b;
  };
  const container = async () => {
    const c = `bench-${n++}-${randomBytes(3).toString('hex')}`;
    await blob.getContainerClient(c).create();
    return c;
  };
  const makeTree = async (name: string, count: number, size: number) => {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < count; i++) {
      const file = join(dir, `obj-${String(i).padStart(5, '0')}.bin`);
      if (size <= 64 * MIB) await writeFile(file, randomBytes(size));
      else {
        // Large files in 64 MiB slices: never the whole object in memory.
        const { open } = await import('node:fs/promises');
        const h = await open(file, 'w');
        for (let at = 0; at < size; at += 64 * MIB)
          await h.write(randomBytes(Math.min(64 * MIB, size - at)));
        await h.close();
      }
    }
    return dir;
  };
  interface Loc {
    mcml: string;
    rclone: string;
    counter?: CountingProxy;
    container?: string;
  }
  /** rclone at mcml's concurrency: 16 objects in flight, 4 parts per object. */
  const EQUAL = [
    '--transfers',
    '16',
    '--checkers',
    '16',
    '--s3-upload-concurrency',
    '4',
    '--azureblob-upload-concurrency',
    '4',
  ];
  const run = async (
    scenario: string,
    tool: string,
    src: Loc,
    dsts: Loc[],
    rcloneArgs: string[] = ['--transfers', '16', '--checkers', '16'],
  ) => {
    const azContainer = [src, ...dsts].find((l) => l.container)?.container;
    const env = azContainer
      ? { ...rcloneEnv, RCLONE_CONFIG_AZ_SAS_URL: await sasFor(azContainer) }
      : rcloneEnv;
    s3p.reset();
    azp.reset();
    let seconds = 0;
    let rss = 0;
    let cpu = 0;
    if (tool === 'mcml') {
      const r = await timed(
        process.execPath,
        [BIN, 'data', 'sync', src.mcml, ...dsts.map((d) => d.mcml), '--no-progress', '--json'],
        mcmlEnv,
      );
      seconds = r.seconds;
      rss = r.rssMiB;
      cpu = r.cpuSeconds;
    } else {
      // rclone has no fan-out: one run per destination, each reading the source again.
      for (const d of dsts) {
        const r = await timed('rclone', ['copy', src.rclone, d.rclone, ...rcloneArgs], env);
        seconds += r.seconds;
        rss = Math.max(rss, r.rssMiB);
        cpu += r.cpuSeconds;
      }
    }
    const srcCount = src.counter ? src.counter.total() : 0;
    const dstCount = dsts.reduce(
      (a, d) => a + (d.counter && d.counter !== src.counter ? d.counter.total() : 0),
      0,
    );
    const sameCounter = dsts.some((d) => d.counter === src.counter && src.counter);
    results.push({
      scenario,
      tool,
      load: await loadAverage(),
      seconds,
      srcRequests: srcCount,
      dstRequests: sameCounter ? NaN : dstCount,
      ...(src.counter ? { srcBytesRead: src.counter.bytesOut.value } : {}),
      peakRssMiB: rss,
      cpuSeconds: cpu,
    });
    const last = results[results.length - 1]!;
    process.stderr.write(
      `${scenario} ${tool}: ${last.seconds.toFixed(2)} s, src req ${last.srcRequests}, dst req ${last.dstRequests}, RSS ${last.peakRssMiB.toFixed(0)} MiB, CPU ${last.cpuSeconds.toFixed(2)} s, load ${last.load}\n`,
    );
  };
  const local = (dir: string) => ({ mcml: dir, rclone: dir });
  const s3loc = (b: string, p: string) => ({
    mcml: `s3://${b}/${p}`,
    rclone: `s3:${b}/${p}`,
    counter: s3p,
  });
  const azloc = (c: string, p: string): Loc => ({
    mcml: `az://${AZURITE_ACCOUNT}/${c}/${p}`,
    rclone: `az:${c}/${p}`,
    counter: azp,
    container: c,
  });

  const resumeRows: string[][] = [];
  /**
   * (g) kill -9 once ~50% of the object reached S3, then rerun: what the rerun sends again
   * and the total time (killed run + rerun), for both tools.
   */
  const resumeCase = async () => {
    const dir = await makeTree('tree-g', 1, bigSize);
    const state = join(work, 'upload-state');
    for (const tool of ['rclone', 'mcml'] as const) {
      const b = await bucket();
      const args =
        tool === 'mcml'
          ? [BIN, 'data', 'sync', dir, `s3://${b}/x`, '--no-progress', '--json']
          : ['copy', dir, `s3:${b}/x`, ...EQUAL];
      const env = tool === 'mcml' ? { ...mcmlEnv, MCML_UPLOAD_STATE_DIR: state } : rcloneEnv;
      const cmd = tool === 'mcml' ? process.execPath : 'rclone';
      s3p.reset();
      const started = process.hrtime.bigint();
      const child = spawn(cmd, args, { env, stdio: 'ignore' });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      while (s3p.bytesIn.value < bigSize / 2 && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGKILL');
      await exited;
      const killedAfter = Number(process.hrtime.bigint() - started) / 1e9;
      const firstSent = s3p.bytesIn.value;
      s3p.reset();
      const r = await timed(cmd, args, env);
      const resent = s3p.bytesIn.value;
      const load = await loadAverage();
      resumeRows.push([
        tool,
        (firstSent / MIB).toFixed(0),
        killedAfter.toFixed(1),
        (resent / MIB).toFixed(0),
        r.seconds.toFixed(1),
        (killedAfter + r.seconds).toFixed(1),
        ((firstSent + resent - bigSize) / MIB).toFixed(0),
        r.rssMiB.toFixed(0),
        String(load),
      ]);
      process.stderr.write(`(g) ${tool}: ${resumeRows[resumeRows.length - 1]!.join(' | ')}\n`);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    if (only.includes('a')) {
      const label = '(a) 1,000 × 64 KiB';
      const dir = await makeTree('tree-a', 1000, 64 * 1024);
      for (let rep = 0; rep < repeat; rep++) {
        // Alternate which tool goes first, so drifting load does not favour one.
        const tools = rep % 2 === 0 ? (['rclone', 'mcml'] as const) : (['mcml', 'rclone'] as const);
        for (const tool of tools) {
          const b = await bucket();
          const c = await container();
          await run(`${label} local → S3`, tool, local(dir), [s3loc(b, 'x')]);
          await run(`${label} S3 → Azure`, tool, s3loc(b, 'x'), [azloc(c, 'x')]);
        }
      }
      await rm(dir, { recursive: true, force: true });
    }
    const large = async (id: string, label: string, count: number, size: number) => {
      const dir = await makeTree(`tree-${id}`, count, size);
      const tools = [
        ['rclone (defaults)', []],
        ['rclone', EQUAL],
        ['mcml', []],
      ] as const;
      for (let rep = 0; rep < repeat; rep++) {
        // Alternate the order, so drifting load does not favour one tool.
        for (const [tool, args] of rep % 2 === 0 ? tools : [...tools].reverse()) {
          const b = await bucket();
          const c = await container();
          await run(`${label} local → S3`, tool, local(dir), [s3loc(b, 'x')], [...args]);
          await run(`${label} S3 → Azure`, tool, s3loc(b, 'x'), [azloc(c, 'x')], [...args]);
        }
      }
      await rm(dir, { recursive: true, force: true });
    };
    if (only.includes('b'))
      await large('b', small ? '(b) 4 × 32 MiB' : '(b) 4 × 256 MiB', 4, (small ? 32 : 256) * MIB);
    if (only.includes('f')) await large('f', `(f) 1 × ${bigSize / MIB / 1024} GiB`, 1, bigSize);
    if (only.includes('g')) await resumeCase();
    if (only.includes('c')) {
      const dir = await makeTree('tree-c', objectsC, 4096);
      const sides = new Map<string, { b: string; c: string }>();
      for (const tool of ['rclone', 'mcml'] as const) {
        const b = await bucket();
        const c = await container();
        // Populate with the same tool (not measured), then measure the no-op resyncs.
        await run('populate', tool, local(dir), [s3loc(b, 'x')]);
        await run('populate', tool, s3loc(b, 'x'), [azloc(c, 'x')]);
        results.splice(-2, 2);
        sides.set(tool, { b, c });
      }
      const checksum = ['--transfers', '16', '--checkers', '16', '--checksum'];
      for (let rep = 0; rep < repeat; rep++) {
        // Alternate which tool goes first, so drifting load does not favour one.
        const tools = rep % 2 === 0 ? (['rclone', 'mcml'] as const) : (['mcml', 'rclone'] as const);
        for (const tool of tools) {
          const { b, c } = sides.get(tool)!;
          await run(
            `(c) no-op ${objectsC.toLocaleString('en')} local → S3`,
            tool,
            local(dir),
            [s3loc(b, 'x')],
            checksum,
          );
          await run(
            `(c) no-op ${objectsC.toLocaleString('en')} S3 → Azure`,
            tool,
            s3loc(b, 'x'),
            [azloc(c, 'x')],
            checksum,
          );
        }
      }
      await rm(dir, { recursive: true, force: true });
    }
    if (only.includes('d')) {
      const dir = await makeTree('tree-d', 200, 256 * 1024);
      const srcBucket = await bucket();
      await run('seed', 'mcml', local(dir), [s3loc(srcBucket, 'src')]);
      results.pop();
      for (const tool of ['rclone', 'mcml'] as const) {
        const c = await container();
        const out = join(work, `fan-${tool}`);
        const src = { ...s3loc(srcBucket, 'src') };
        // Destinations: Azure, a directory; the S3 source counter sees only source reads.
        await run('(d) 1 → 3 fan-out (S3 → Azure, Azure, disk)', tool, src, [
          azloc(c, 'one'),
          azloc(c, 'two'),
          local(out),
        ]);
      }
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    s3.destroy();
    await s3p.stop();
    await azp.stop();
    await Promise.allSettled([moto.stop(), azurite.stop()]);
    await rm(work, { recursive: true, force: true });
  }

  if (only.includes('e')) await coldStart();

  // Table + ratios (rclone / mcml: > 1 means mcml is better), against rclone at equal
  // concurrency and, where run, at its defaults.
  const speed = (r: Result, peerTool: string) => {
    const peers = results.filter((p) => p.scenario === r.scenario && p.tool === peerTool);
    if (r.tool !== 'mcml' || peers.length === 0) return '';
    return `${(median(peers.map((p) => p.seconds)) / r.seconds).toFixed(2)}×`;
  };
  const rows = results.map((r) => [
    r.scenario,
    r.tool,
    r.seconds.toFixed(2),
    String(r.srcRequests),
    Number.isNaN(r.dstRequests) ? '—' : String(r.dstRequests),
    r.srcBytesRead !== undefined ? (r.srcBytesRead / MIB).toFixed(1) : '—',
    r.peakRssMiB.toFixed(0),
    r.cpuSeconds.toFixed(2),
    speed(r, 'rclone'),
    speed(r, 'rclone (defaults)'),
    String(r.load),
  ]);
  printTable(
    [
      'scenario',
      'tool',
      'wall s',
      'src requests',
      'dst requests',
      'src MiB read',
      'peak RSS MiB',
      'CPU s',
      'vs rclone (equal)',
      'vs rclone (defaults)',
      'load',
    ],
    rows,
  );
  if (repeat > 1) {
    // Median and spread (min–max) of the repeated runs, and the ratio of the medians.
    const groups = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    for (const r of results.filter((x) => /^\((a|b|c|f)\)/.test(x.scenario))) {
      const k = `${r.scenario}\t${r.tool}`;
      groups.set(k, [...(groups.get(k) ?? []), r.seconds]);
      cpu.set(k, [...(cpu.get(k) ?? []), r.cpuSeconds]);
    }
    const summary = [...groups].map(([k, xs]) => {
      const [scenario, tool] = k.split('\t') as [string, string];
      const vs = (peerTool: string) => {
        const peer = groups.get(`${scenario}\t${peerTool}`);
        return tool === 'mcml' && peer ? `${(median(peer) / median(xs)).toFixed(2)}×` : '';
      };
      return [
        scenario,
        tool,
        String(xs.length),
        median(xs).toFixed(2),
        `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`,
        median(cpu.get(k)!).toFixed(2),
        vs('rclone'),
        vs('rclone (defaults)'),
      ];
    });
    console.log('');
    printTable(
      [
        'scenario',
        'tool',
        'runs',
        'median s',
        'spread s',
        'median CPU s',
        'vs rclone (medians)',
        'vs rclone defaults (medians)',
      ],
      summary,
    );
  }
  if (resumeRows.length > 0) {
    console.log('');
    printTable(
      [
        `(g) kill at 50% of ${bigSize / MIB} MiB, rerun`,
        'MiB sent before kill',
        'killed after s',
        'MiB sent by rerun',
        'rerun s',
        'total s',
        'MiB sent beyond the object',
        'rerun peak RSS MiB',
        'load',
      ],
      resumeRows,
    );
  }
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

/** (e) Cold start of the CLI: hyperfine, 2 warm-up runs, medians. */
async function coldStart(): Promise<void> {
  const out = join(tmpdir(), `mcml-bench-cold-${process.pid}.json`);
  const plan = new URL('../examples/local/mcml.yaml', import.meta.url).pathname;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      'hyperfine',
      [
        '--warmup',
        '2',
        '--runs',
        '10',
        '--export-json',
        out,
        '-n',
        'mcml --version',
        `${process.execPath} ${BIN} --version`,
        '-n',
        'mcml plan examples/local',
        `${process.execPath} ${BIN} plan ${plan}`,
        '-n',
        'rclone version',
        'rclone version',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`hyperfine ${code}`))));
  });
  const { results } = JSON.parse(await readFile(out, 'utf8')) as {
    results: { command: string; median: number; min: number; max: number }[];
  };
  await rm(out, { force: true });
  console.log(`cold start, load average ${await loadAverage()}:`);
  console.log('| command | median ms | min ms | max ms |');
  console.log('|---|---:|---:|---:|');
  for (const r of results)
    console.log(
      `| ${r.command} | ${(r.median * 1000).toFixed(0)} | ${(r.min * 1000).toFixed(0)} | ${(r.max * 1000).toFixed(0)} |`,
    );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
