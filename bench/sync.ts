/**
 * npm run bench:sync — mcml data sync side by side with rclone on moto (S3) and Azurite, each
 * behind a counting proxy so requests are counted at the server.
 *   (a) 1,000 × 64 KiB          local → S3, S3 → Azure
 *   (b) 4 × 256 MiB             local → S3, S3 → Azure; peak RSS (use --small for 4 × 32 MiB)
 *   (c) no-op resync of 10,000   local → S3, S3 → Azure; wall time and requests per side
 *   (d) 1 → 3 fan-out            S3 → {Azure, S3, disk}; bytes read from the source
 *   (e) cold start               `mcml --version` and `mcml plan` under hyperfine
 * Flags: --small (b at 32 MiB), --objects N (c), --only a,b,c,d,e
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
  : ['a', 'b', 'c', 'd', 'e'];
const MIB = 1024 * 1024;
const BIN = new URL('../bin/mcml', import.meta.url).pathname;

interface Result {
  scenario: string;
  tool: string;
  seconds: number;
  srcRequests: number;
  dstRequests: number;
  srcBytesRead?: number;
  peakRssMiB: number;
}

async function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; rssMiB: number }> {
  const out = join(tmpdir(), `mcml-bench-time-${process.pid}`);
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', out, cmd, ...args], {
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
  const kib = Number((await readFile(out, 'utf8')).trim().split('\n').pop());
  return { seconds, rssMiB: kib / 1024 };
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
    for (let i = 0; i < count; i++)
      await writeFile(join(dir, `obj-${String(i).padStart(5, '0')}.bin`), randomBytes(size));
    return dir;
  };
  interface Loc {
    mcml: string;
    rclone: string;
    counter?: CountingProxy;
    container?: string;
  }
  const run = async (scenario: string, tool: 'mcml' | 'rclone', src: Loc, dsts: Loc[]) => {
    const azContainer = [src, ...dsts].find((l) => l.container)?.container;
    const env = azContainer
      ? { ...rcloneEnv, RCLONE_CONFIG_AZ_SAS_URL: await sasFor(azContainer) }
      : rcloneEnv;
    s3p.reset();
    azp.reset();
    let seconds = 0;
    let rss = 0;
    if (tool === 'mcml') {
      const r = await timed(
        process.execPath,
        [BIN, 'data', 'sync', src.mcml, ...dsts.map((d) => d.mcml), '--no-progress', '--json'],
        mcmlEnv,
      );
      seconds = r.seconds;
      rss = r.rssMiB;
    } else {
      // rclone has no fan-out: one run per destination, each reading the source again.
      for (const d of dsts) {
        const r = await timed(
          'rclone',
          ['copy', src.rclone, d.rclone, '--transfers', '16', '--checkers', '16'],
          env,
        );
        seconds += r.seconds;
        rss = Math.max(rss, r.rssMiB);
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
      seconds,
      srcRequests: srcCount,
      dstRequests: sameCounter ? NaN : dstCount,
      ...(src.counter ? { srcBytesRead: src.counter.bytesOut.value } : {}),
      peakRssMiB: rss,
    });
    const last = results[results.length - 1]!;
    process.stderr.write(
      `${scenario} ${tool}: ${last.seconds.toFixed(2)} s, src req ${last.srcRequests}, dst req ${last.dstRequests}, RSS ${last.peakRssMiB.toFixed(0)} MiB\n`,
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

  try {
    for (const [id, label, count, size] of [
      ['a', '(a) 1,000 × 64 KiB', 1000, 64 * 1024],
      ['b', small ? '(b) 4 × 32 MiB' : '(b) 4 × 256 MiB', 4, (small ? 32 : 256) * MIB],
    ] as const) {
      if (!only.includes(id)) continue;
      const dir = await makeTree(`tree-${id}`, count, size);
      for (const tool of ['rclone', 'mcml'] as const) {
        const b = await bucket();
        const c = await container();
        await run(`${label} local → S3`, tool, local(dir), [s3loc(b, 'x')]);
        await run(`${label} S3 → Azure`, tool, s3loc(b, 'x'), [azloc(c, 'x')]);
      }
      await rm(dir, { recursive: true, force: true });
    }
    if (only.includes('c')) {
      const dir = await makeTree('tree-c', objectsC, 4096);
      for (const tool of ['rclone', 'mcml'] as const) {
        const b = await bucket();
        const c = await container();
        // Populate with the same tool (not measured), then measure the no-op resync.
        await run('populate', tool, local(dir), [s3loc(b, 'x')]);
        await run('populate', tool, s3loc(b, 'x'), [azloc(c, 'x')]);
        results.splice(-2, 2);
        await run(`(c) no-op ${objectsC.toLocaleString('en')} local → S3`, tool, local(dir), [
          s3loc(b, 'x'),
        ]);
        await run(`(c) no-op ${objectsC.toLocaleString('en')} S3 → Azure`, tool, s3loc(b, 'x'), [
          azloc(c, 'x'),
        ]);
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

  // Table + ratios (rclone / mcml: > 1 means mcml is better).
  const rows = results.map((r) => {
    const peer = results.find((p) => p.scenario === r.scenario && p.tool === 'rclone');
    const ratio = r.tool === 'mcml' && peer ? `${(peer.seconds / r.seconds).toFixed(2)}×` : '';
    return [
      r.scenario,
      r.tool,
      r.seconds.toFixed(2),
      String(r.srcRequests),
      Number.isNaN(r.dstRequests) ? '—' : String(r.dstRequests),
      r.srcBytesRead !== undefined ? (r.srcBytesRead / MIB).toFixed(1) : '—',
      r.peakRssMiB.toFixed(0),
      ratio,
    ];
  });
  const head = [
    'scenario',
    'tool',
    'wall s',
    'src requests',
    'dst requests',
    'src MiB read',
    'peak RSS MiB',
    'speed vs rclone',
  ];
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
