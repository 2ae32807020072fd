/**
 * `mcml data sync` / `mcml data verify` as a user runs them (node bin/mcml, built by
 * `npm run build` / the prepare script): residency refusals, spec data sets, bad input, and
 * crash safety under kill -9.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/storage.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { readAll } from '../contracts/object-store.js';
import { startEmulators, unique, AZURITE_ACCOUNT, type Emulators } from '../storage/fixtures.js';

const BIN = new URL('../../bin/mcml', import.meta.url).pathname;
let emu: Emulators;
let dir: string;
let env: NodeJS.ProcessEnv;
let s3: S3Client;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mcml(args: string[], options: { cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd ?? dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * The packages a process loaded, from its module log: those in node_modules by path, those the
 * build bundled into dist/ chunks by the build's record of each chunk's packages.
 */
async function packagesLoaded(log: string): Promise<string[]> {
  const dist = new URL('../../dist/', import.meta.url);
  const bundled = JSON.parse(
    await readFile(new URL('bundled-packages.json', dist), 'utf8'),
  ) as Record<string, string[]>;
  const out = new Set<string>();
  for (const line of log.split('\n')) {
    const path = line.startsWith('file:') ? fileURLToPath(line) : line;
    const at = path.lastIndexOf('/node_modules/');
    if (at >= 0) {
      const [scope, name] = path.slice(at + '/node_modules/'.length).split('/');
      out.add(scope!.startsWith('@') ? `${scope}/${name}` : scope!);
    } else if (path.startsWith(fileURLToPath(dist))) {
      for (const p of bundled[path.slice(fileURLToPath(dist).length)] ?? []) out.add(p);
    }
  }
  return [...out].sort();
}

async function keys(store: ObjectStore): Promise<string[]> {
  const out: string[] = [];
  for await (const page of store.list()) out.push(...page.map((o) => o.key));
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-cli-sync-'));
  emu = await startEmulators();
  env = { ...process.env, ...emu.env, AWS_EC2_METADATA_DISABLED: 'true', NO_COLOR: '1' };
  delete env.AWS_CA_BUNDLE;
  delete env.AWS_PROFILE;
  delete env.AZURE_STORAGE_CONNECTION_STRING;
  s3 = new S3Client({
    endpoint: emu.moto.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  await mkdir(join(dir, 'data'), { recursive: true });
  for (let i = 0; i < 5; i++)
    await writeFile(join(dir, 'data', `part-${i}.csv`), randomBytes(2000));
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await emu?.stop();
  await rm(dir, { recursive: true, force: true });
});

function spec(targets: string, data: string): string {
  return `version: 1
service:
  name: svc
  model:
    uri: ./model.onnx
    name: m
  resources:
    cpu: 1
    memory: 1Gi
targets:
${targets}
data:
${data}
`;
}

// Each case spawns several mcml processes: generous time on a loaded shared machine.
describe('mcml data sync -f (residency)', { timeout: 120_000 }, () => {
  it('refuses a data set sent outside its jurisdiction: exit 2, names data set and bucket, writes nothing', async () => {
    const us = await emu.s3Bucket();
    const eu = emu.gcsBucket(undefined, 'EUROPE-WEST1');
    const file = join(dir, 'refuse.yaml');
    await writeFile(
      file,
      spec(
        `  - { name: eu-gcp, provider: gcp, region: europe-west1, bucket: "gs://${eu}" }
  - { name: us-aws, provider: aws, region: us-east-1, bucket: "s3://${us}" }`,
        `  - { name: eu-records, source: ./data, jurisdiction: eu, targets: [eu-gcp, us-aws] }`,
      ),
    );
    const r = await mcml(['data', 'sync', '-f', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('eu-records');
    expect(r.stderr).toContain(`s3://${us}`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await keys(await openStore(`s3://${us}`, emu.storeOptions))).toEqual([]);
    expect(await keys(await openStore(`gs://${eu}`, emu.storeOptions))).toEqual([]);
  });

  it('refuses when the cloud reports the bucket elsewhere than the spec says', async () => {
    const bucket = unique('eu-bucket');
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const file = join(dir, 'reported.yaml');
    await writeFile(
      file,
      spec(
        `  - { name: us-aws, provider: aws, region: us-east-1, bucket: "s3://${bucket}" }`,
        `  - { name: us-records, source: ./data, jurisdiction: us, targets: [us-aws] }`,
      ),
    );
    const r = await mcml(['data', 'sync', '-f', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/us-records.*s3:\/\/.*eu-west-1/s);
    expect(await keys(await openStore(`s3://${bucket}`, emu.storeOptions))).toEqual([]);
  });

  it('fails closed when the cloud reports a region mcml cannot map, and --jurisdiction checks a direct sync', async () => {
    const newer = unique('il-bucket');
    await s3.send(
      new CreateBucketCommand({
        Bucket: newer,
        CreateBucketConfiguration: { LocationConstraint: 'il-central-1' },
      }),
    );
    const euBucket = unique('eu-bucket');
    await s3.send(
      new CreateBucketCommand({
        Bucket: euBucket,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const file = join(dir, 'unmapped.yaml');
    await writeFile(
      file,
      spec(
        `  - { name: eu-aws, provider: aws, region: eu-west-1, bucket: "s3://${newer}" }`,
        `  - { name: gdpr, source: ./data, jurisdiction: eu, targets: [eu-aws] }`,
      ),
    );
    const r = await mcml(['data', 'sync', '-f', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/gdpr.*eu-west-1.*il-central-1/s);
    expect(await keys(await openStore(`s3://${newer}`, emu.storeOptions))).toEqual([]);

    const container = await emu.azContainer();
    for (const dst of [
      `s3://${newer}/x`,
      `s3://${await emu.s3Bucket()}/x`,
      `az://${AZURITE_ACCOUNT}/${container}/x`,
    ]) {
      const direct = await mcml(['data', 'sync', './data', dst, '--jurisdiction', 'eu']);
      expect(direct.code, `${dst}: ${direct.stderr}`).toBe(2);
      expect(direct.stderr).toMatch(/--jurisdiction eu/);
    }
    expect(await keys(await openStore(`s3://${newer}`, emu.storeOptions))).toEqual([]);
    const ok = await mcml(['data', 'sync', './data', `s3://${euBucket}/x`, '--jurisdiction', 'eu']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await mcml(['data', 'sync', './data', './out-j', '--jurisdiction', 'mars'])).code).toBe(
      2,
    );
  });

  it('replicates each data set to every allowed target, relative paths from the spec directory', async () => {
    const us = await emu.s3Bucket();
    const eu = emu.gcsBucket(undefined, 'EUROPE-WEST1');
    const container = await emu.azContainer();
    const file = join(dir, 'ok.yaml');
    await writeFile(
      file,
      spec(
        `  - { name: us-aws, provider: aws, region: us-east-1, bucket: "s3://${us}" }
  - { name: eu-gcp, provider: gcp, region: europe-west1, bucket: "gs://${eu}" }
  - { name: us-az, provider: azure, region: eastus, bucket: "az://${AZURITE_ACCOUNT}/${container}" }
  - { name: local-aws, provider: local, emulates: aws, region: us-east-1, bucket: "file://./buckets/local" }`,
        `  - { name: records, source: ./data, jurisdiction: us }
  - { name: eu-only, source: ./data, jurisdiction: eu, prefix: eu/ }`,
      ),
    );
    const r = await mcml(['data', 'sync', '-f', file, '--json'], { cwd: tmpdir() });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { datasets: { dataset: string; targets: string[] }[] };
    expect(report.datasets.map((d) => [d.dataset, d.targets])).toEqual([
      ['records', ['us-aws', 'us-az', 'local-aws']],
      ['eu-only', ['eu-gcp']],
    ]);
    const names = ['part-0.csv', 'part-1.csv', 'part-2.csv', 'part-3.csv', 'part-4.csv'];
    expect(await keys(await openStore(`s3://${us}/data/records`, emu.storeOptions))).toEqual(names);
    expect(
      await keys(
        await openStore(`az://${AZURITE_ACCOUNT}/${container}/data/records`, emu.storeOptions),
      ),
    ).toEqual(names);
    expect(await keys(await openStore(join(dir, 'buckets/local/data/records')))).toEqual(names);
    expect(await keys(await openStore(`gs://${eu}`, emu.storeOptions))).toEqual(
      names.map((n) => `eu/${n}`),
    );
    const only = await mcml(['data', 'sync', '-f', file, '--dataset', 'nope']);
    expect(only.code).toBe(2);
    expect(only.stderr).toContain('records, eu-only');
  });
});

describe('mcml data sync -f (a data set stays inside its bucket)', () => {
  it('refuses prefix "../victim/" with exit 2 and deletes nothing outside the file:// bucket', async () => {
    const root = join(dir, 'escape');
    await mkdir(join(root, 'buckets', 'mine'), { recursive: true });
    await mkdir(join(root, 'buckets', 'victim'), { recursive: true });
    await writeFile(join(root, 'buckets', 'victim', 'precious.txt'), 'keep me');
    const file = join(root, 'escape.yaml');
    await writeFile(
      file,
      spec(
        `  - { name: l, provider: local, emulates: aws, region: us-east-1, bucket: "file://./buckets/mine" }`,
        `  - { name: d, source: ${join(dir, 'data')}, jurisdiction: us, prefix: "../victim/" }`,
      ),
    );
    const r = await mcml(['data', 'sync', '-f', file, '--delete']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/prefix/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await readFile(join(root, 'buckets', 'victim', 'precious.txt'), 'utf8')).toBe('keep me');
    expect(await keys(await openStore(join(root, 'buckets')))).toEqual(['victim/precious.txt']);
  });
});

describe('mcml data sync: a source that cannot be read never deletes', () => {
  const seeded = async (name: string) => {
    const out = join(dir, name);
    await mkdir(out, { recursive: true });
    for (const f of ['a.txt', 'b.txt']) await writeFile(join(out, f), f);
    return out;
  };

  it('a missing source or a plain file: exit 2, the destination keeps everything', async () => {
    const bucket = await emu.s3Bucket();
    const s3dst = await openStore(`s3://${bucket}/keep`, emu.storeOptions);
    const { Readable } = await import('node:stream');
    await s3dst.write('kept.bin', Readable.from([Buffer.from('kept')]));
    const local = await seeded('keep-local');
    const cases: [string, RegExp][] = [
      ['./does-not-exist', /does-not-exist does not exist/],
      ['./data/part-0.csv', /part-0.csv is a file, not a directory/],
    ];
    for (const [src, message] of cases) {
      for (const dst of [local, `s3://${bucket}/keep`]) {
        const r = await mcml(['data', 'sync', src, dst, '--delete']);
        expect(r.code, `${src} → ${dst}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      expect((await mcml(['data', 'verify', src, local])).code).toBe(2);
    }
    expect(await keys(await openStore(local))).toEqual(['a.txt', 'b.txt']);
    expect(await keys(s3dst)).toEqual(['kept.bin']);
  });

  it('an S3 prefix that lists nothing never empties the destination', async () => {
    const bucket = await emu.s3Bucket();
    const local = await seeded('keep-from-s3');
    const r = await mcml(['data', 'sync', `s3://${bucket}/typo`, local, '--delete']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/lists no objects/);
    expect(await keys(await openStore(local))).toEqual(['a.txt', 'b.txt']);
    // Without --delete an empty source is simply nothing to copy.
    expect((await mcml(['data', 'sync', `s3://${bucket}/typo`, local])).code).toBe(0);
  });

  it('--max-delete refuses a mass delete from the command line', async () => {
    const local = await seeded('max-delete');
    for (let i = 0; i < 4; i++) await writeFile(join(local, `extra-${i}.txt`), 'x');
    const r = await mcml(['data', 'sync', './data', local, '--delete', '--max-delete', '3']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/would remove 6 objects .* more than --max-delete 3/);
    expect((await keys(await openStore(local))).length).toBe(6);
  });
});

describe('mcml data sync / verify (bad input and reports)', () => {
  it('exits 2 with one clear line for bad URIs, overlap and missing buckets', async () => {
    const cases: [string[], RegExp][] = [
      [['data', 'sync', 'ftp://host/x', './out'], /unknown scheme "ftp:"/],
      [['data', 'sync', './data', 's3://'], /bucket name is missing/],
      [['data', 'sync', './data', './data/inside'], /overlaps the source/],
      [['data', 'sync', './data'], /needs SRC and at least one DST/],
      [['data', 'sync', './data', `s3://${unique('missing')}/x`], /not found/],
      [['data', 'sync', './data', 'az://acct/'], /container is missing/],
    ];
    for (const [args, message] of cases) {
      const r = await mcml(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('exits 2 naming the cause when a local destination cannot hold what is sent', async () => {
    await writeFile(join(dir, 'a-file.txt'), 'not a directory');
    const onFile = await mcml(['data', 'sync', './data', './a-file.txt']);
    expect(onFile.code, onFile.stderr).toBe(2);
    expect(onFile.stderr).toMatch(/a-file.txt is a file, not a directory/);
    expect(await readFile(join(dir, 'a-file.txt'), 'utf8')).toBe('not a directory');

    const bucket = await emu.s3Bucket();
    const src = await openStore(`s3://${bucket}/odd`, emu.storeOptions);
    const { Readable } = await import('node:stream');
    await src.write(`${'n'.repeat(300)}.bin`, Readable.from([Buffer.from('long')]));
    const tooLong = await mcml(['data', 'sync', `s3://${bucket}/odd`, './long-out']);
    expect(tooLong.code, tooLong.stderr + tooLong.stdout).toBe(2);
    expect(tooLong.stdout).toMatch(/a name is too long for this file system \(ENAMETOOLONG\)/);
    expect(tooLong.stdout + tooLong.stderr).not.toMatch(/PROVIDER_UNAVAILABLE|unreachable/);

    const bucket2 = await emu.s3Bucket();
    const src2 = await openStore(`s3://${bucket2}/d`, emu.storeOptions);
    await src2.write('x', Readable.from([Buffer.from('a file named x')]));
    await mkdir(join(dir, 'dir-in-way', 'x'), { recursive: true });
    await writeFile(join(dir, 'dir-in-way', 'x', 'y'), 'y');
    const inWay = await mcml(['data', 'sync', `s3://${bucket2}/d`, './dir-in-way', '--json']);
    expect(inWay.code, inWay.stderr).toBe(2);
    const report = JSON.parse(inWay.stdout) as {
      destinations: { failed: { key: string; code: string; error: string }[] }[];
    };
    expect(report.destinations[0]!.failed).toEqual([
      expect.objectContaining({
        key: 'x',
        code: 'INVALID_ARGUMENT',
        error: expect.stringMatching(/a directory is where the object should go/),
      }),
    ]);
  });

  it('exits 2 with a wrong account key, and never prints the key', async () => {
    const r = await new Promise<Run>((resolve) => {
      const e = { ...env, AZURE_STORAGE_KEY: 'bm90LWEta2V5', AZURE_STORAGE_CONNECTION_STRING: '' };
      const child = spawn(
        process.execPath,
        [BIN, 'data', 'sync', './data', `az://${AZURITE_ACCOUNT}/nocontainer/x`],
        {
          env: e,
          cwd: dir,
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/credentials|permission|auth/i);
    expect(r.stderr).not.toContain('bm90LWEta2V5');
  });

  it('verify lists missing, different and extra objects and exits 1; --json and --dry-run', async () => {
    const bucket = await emu.s3Bucket();
    const dst = `s3://${bucket}/v`;
    expect((await mcml(['data', 'sync', './data', dst])).code).toBe(0);
    const clean = await mcml(['data', 'verify', './data', dst, '--json']);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, same: 5 });
    const store = await openStore(dst, emu.storeOptions);
    await store.delete('part-1.csv');
    const { Readable } = await import('node:stream');
    await store.write('part-2.csv', Readable.from([randomBytes(2000)]));
    await store.write('zz-extra.txt', Readable.from([Buffer.from('x')]));
    const bad = await mcml(['data', 'verify', './data', dst]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/missing\s+part-1.csv/);
    expect(bad.stdout).toMatch(/different\s+part-2.csv/);
    expect(bad.stdout).toMatch(/extra\s+zz-extra.txt/);
    const dry = await mcml(['data', 'sync', './data', dst, '--delete', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      destinations: { wouldCopy: { key: string; reason: string }[]; wouldDelete: string[] }[];
    };
    expect(plan.destinations[0]!.wouldCopy).toEqual([
      { key: 'part-1.csv', size: 2000, reason: 'missing' },
      { key: 'part-2.csv', size: 2000, reason: 'content' },
    ]);
    expect(plan.destinations[0]!.wouldDelete).toEqual(['zz-extra.txt']);
    expect((await mcml(['data', 'verify', './data', dst])).code).toBe(1); // dry run changed nothing
  });
});

describe('crash safety', () => {
  it("a local → S3 sync loads neither Azure's nor Google's SDK, and --json shows its start-up", async () => {
    const bucket = await emu.s3Bucket();
    const log = join(dir, 'modules.log');
    const preload = new URL('../fixtures/module-log.mjs', import.meta.url).pathname;
    const saved = env;
    const codeCache = join(dir, 'code-cache');
    env = {
      ...env,
      MCML_MODULE_LOG: log,
      MCML_CODE_CACHE_DIR: codeCache,
      NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --import ${preload}`,
    };
    try {
      const r = await mcml(['data', 'sync', join(dir, 'data'), `s3://${bucket}/lazy`, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { startupMs: number; timings: object };
      expect(report.startupMs).toBeGreaterThan(0);
      const loaded = await packagesLoaded(await readFile(log, 'utf8'));
      expect(loaded).toContain('@aws-sdk/client-s3');
      expect(loaded.filter((p) => /^@(azure|google-cloud)\//.test(p))).toEqual([]);
      // The S3 SDK's compiled code was kept for the next run (src/adapters/vendor.ts), which
      // compiles from it.
      const kept = await readdir(codeCache);
      expect(kept).toContainEqual(expect.stringMatching(/^aws-s3-\w+\.v8$/));
      expect(kept).toContainEqual(expect.stringMatching(/^commander-\w+\.v8$/));
      expect(kept.filter((f) => f.startsWith('azure'))).toEqual([]);
      const again = await mcml(['data', 'sync', join(dir, 'data'), `s3://${bucket}/lazy`]);
      expect(again.code, again.stderr).toBe(0);
    } finally {
      env = saved;
    }
  });

  it('kill -9 mid-transfer leaves no partial object; a rerun completes with every hash matching', async () => {
    const src = join(dir, 'large');
    await mkdir(src, { recursive: true });
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) {
      const data = randomBytes(20 * 1024 * 1024 + i);
      files.set(`blob-${i}.bin`, data);
      await writeFile(join(src, `blob-${i}.bin`), data);
    }
    const bucket = await emu.s3Bucket();
    const container = await emu.azContainer();
    const dsts = [
      `s3://${bucket}/crash`,
      `az://${AZURITE_ACCOUNT}/${container}/crash`,
      join(dir, 'crash-out'),
    ];
    const child = spawn(process.execPath, [BIN, 'data', 'sync', src, ...dsts, '--transfers', '2'], {
      env,
      cwd: dir,
      stdio: 'ignore',
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // Wait until a multipart upload is in flight on S3, then kill -9.
    for (;;) {
      const u = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      if ((u.Uploads ?? []).length > 0 || child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(child.exitCode, 'the sync finished before it could be killed').toBeNull();
    child.kill('SIGKILL');
    await exited;
    const stores = [
      await openStore(dsts[0]!, emu.storeOptions),
      await openStore(dsts[1]!, emu.storeOptions),
      await openStore(dsts[2]!),
    ];
    let visible = 0;
    for (const store of stores) {
      for (const key of await keys(store)) {
        visible++;
        // Anything visible is complete and correct.
        expect(sha(await readAll(await store.read(key))), `${store.uri}${key}`).toBe(
          sha(files.get(key)!),
        );
      }
    }
    expect(visible).toBeLessThan(files.size * stores.length);
    const rerun = await mcml(['data', 'sync', src, ...dsts]);
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const store of stores) {
      expect(await keys(store)).toEqual([...files.keys()]);
      for (const [key, data] of files) expect((await store.stat(key))?.sha256).toBe(sha(data));
    }
    for (const d of dsts) expect((await mcml(['data', 'verify', src, d])).code).toBe(0);
    // No temp file of the killed run is left behind in the local destination.
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(join(dir, 'crash-out'))).sort()).toEqual([...files.keys()]);
    expect((await readFile(join(dir, 'crash-out', 'blob-0.bin'))).length).toBe(
      files.get('blob-0.bin')!.length,
    );
  }, 180_000);
});
