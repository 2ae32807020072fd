/** Spawns `node bin/mcml serve` for tests: waits for its "ready" log line, always stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/process.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const IRIS = join(ROOT, 'models', 'iris.onnx');
export const LARGE = join(ROOT, 'models', 'mlp-large.onnx');
const BIN = join(ROOT, 'bin', 'mcml');
/**
 * Where the servers these tests start remember model hashes (a test may pass its own): a temp
 * directory of this test process, not the user's ~/.cache.
 */
const HASH_INDEX_DIR = join(tmpdir(), `mcml-test-hashes-${process.pid}`);

export interface ServeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** Resolves with the first log record whose msg matches. */
  waitForLog(msg: string): Promise<Record<string, unknown>>;
  /** Resolves with the first log record (seen or still to come) that `match` accepts. */
  waitForRecord(
    match: (record: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>>;
  /** Every log record so far. */
  records(): readonly Record<string, unknown>[];
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs `mcml serve ARGS` (plus --port) and waits until it logs "ready" or exits. */
export async function spawnServe(
  args: string[],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--host', '127.0.0.1', '--port', String(port), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MCML_HASH_INDEX_DIR: HASH_INDEX_DIR, ...env },
    },
  );
  let out = '';
  const records: Record<string, unknown>[] = [];
  const waiters: {
    match: (r: Record<string, unknown>) => boolean;
    resolve: (r: Record<string, unknown>) => void;
  }[] = [];
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      records.push(record);
      for (const w of waiters.filter((w) => w.match(record))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(record);
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const waitForRecord = (match: (r: Record<string, unknown>) => boolean, what = 'it') => {
    const seen = records.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      waiters.push({ match, resolve });
      void exited.then((code) =>
        reject(new Error(`mcml serve exited (${code}) before logging ${what}:\n${out}`)),
      );
    });
  };
  const waitForLog = (msg: string) => waitForRecord((r) => r.msg === msg, `"${msg}"`);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await once(child, 'exit').catch(() => undefined);
    clearTimeout(timer);
  };
  try {
    await waitForLog('ready');
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => out,
    waitForLog,
    waitForRecord: (match) => waitForRecord(match),
    records: () => records,
    exited,
    stop,
  };
}

/** Runs `mcml serve ARGS` expecting it to fail at start-up; returns exit code and stderr. */
export async function serveFails(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, MCML_HASH_INDEX_DIR: HASH_INDEX_DIR, ...env },
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stderr };
}
