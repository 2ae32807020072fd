/** Running `node bin/mcml up` in tests on a temp copy of the local example. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { DashboardState } from '../../src/apps/dashboard/state.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'mcml');

/** A temp copy of examples/local with the model path made absolute; `edit` changes the spec. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed YAML document
type SpecDoc = any;

export async function localExample(
  edit: (spec: SpecDoc) => void = () => undefined,
): Promise<string> {
  const model = join(ROOT, 'models', 'iris.onnx');
  if (!existsSync(model)) throw new Error(`${model} is missing: run "npm run models"`);
  const dir = await mkdtemp(join(tmpdir(), 'mcml-up-'));
  await cp(join(ROOT, 'examples', 'local', 'data'), join(dir, 'data'), { recursive: true });
  const spec = parse(await readFile(join(ROOT, 'examples', 'local', 'mcml.yaml'), 'utf8'));
  spec.service.model.uri = model;
  edit(spec);
  await writeFile(join(dir, 'mcml.yaml'), stringify(spec));
  return join(dir, 'mcml.yaml');
}

export interface UpProcess {
  child: ChildProcess;
  url: string;
  token: string;
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns `mcml up` and resolves once it prints its URLs. */
export async function startUp(
  spec: string,
  args: string[] = [],
  timeoutMs = 120_000,
  env: Record<string, string> = {},
): Promise<UpProcess> {
  let out = '';
  const child = spawn(process.execPath, [BIN, 'up', '-f', spec, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own group, so a failed test can still take everything down.
    detached: true,
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const started = await new Promise<{ url: string; token: string }>((resolveUp, reject) => {
    const timer = setTimeout(() => reject(new Error(`mcml up did not start:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /Dashboard\s+(http:\/\/[^/\s]+)\/#token=([0-9a-f]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUp({ url: m[1]!, token: m[2]! });
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mcml up exited with ${code}:\n${out}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { child, ...started, output: () => out, stop };
}

/** Runs `mcml …` to completion. */
export function runMcml(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

export async function getState(url: string): Promise<DashboardState> {
  const res = await fetch(`${url}/_mcml/api/state`);
  return (await res.json()) as DashboardState;
}

/**
 * Resolves with the first state pushed over the SSE stream that satisfies `ok`; the stream
 * pushes on every event and at least once a second, so nothing here sleeps.
 */
export async function waitForState(
  url: string,
  ok: (s: DashboardState) => boolean,
  timeoutMs = 60_000,
): Promise<DashboardState> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let last: DashboardState | undefined;
  try {
    const res = await fetch(`${url}/_mcml/api/stream`, { signal: controller.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        last = JSON.parse(data.slice(6)) as DashboardState;
        if (ok(last)) return last;
      }
    }
  } catch (error) {
    const summary = last
      ? JSON.stringify({
          active: last.active,
          targets: last.targets.map((t) => [t.name, t.health, t.disabled, t.replicas]),
          events: last.events.slice(-8).map((e) => e.message),
        })
      : 'no state';
    throw new Error(`state not reached (${(error as Error).message}); last: ${summary}`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sends inference through the front door until stopped; counts failures. */
export function load(url: string, concurrency = 4) {
  let running = true;
  const stats = {
    ok: 0,
    failed: 0,
    byTarget: {} as Record<string, number>,
    errors: [] as string[],
  };
  const body = JSON.stringify({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
  });
  const worker = async () => {
    while (running) {
      try {
        const res = await fetch(`${url}/v2/models/iris/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const text = await res.text();
        if (res.ok) {
          stats.ok += 1;
          const by = res.headers.get('x-mcml-target') ?? '?';
          stats.byTarget[by] = (stats.byTarget[by] ?? 0) + 1;
        } else {
          stats.failed += 1;
          stats.errors.push(`${res.status} ${text.slice(0, 200)}`);
        }
      } catch (error) {
        stats.failed += 1;
        stats.errors.push(String(error));
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    stats,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return stats;
    },
  };
}
