/** wrk (the C load generator) for the benchmarks: one run and its parsed report. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface WrkResult {
  rps: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
  /** Non-2xx/3xx answers plus socket errors. */
  errors: number;
}

/** Parses wrk's `--latency` report. */
export function parseWrk(stdout: string): WrkResult {
  const ms = (s: string | undefined) => {
    const m = /([\d.]+)(us|ms|s)/.exec(s ?? '');
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const errors =
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0) +
    [...stdout.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce(
      (n, m) => n + Number(m[2]),
      0,
    );
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN),
    p50: ms(/50%\s+(\S+)/.exec(stdout)?.[1]),
    p99: ms(/99%\s+(\S+)/.exec(stdout)?.[1]),
    errors,
  };
}

/** One wrk thread, `connections` connections for `seconds`; `script` is a Lua request script. */
export async function runWrk(options: {
  url: string;
  connections: number;
  seconds: number;
  script?: string;
}): Promise<WrkResult> {
  const { stdout } = await exec('wrk', [
    '-t1',
    '-c',
    String(options.connections),
    '-d',
    `${options.seconds}s`,
    '--latency',
    ...(options.script ? ['-s', options.script] : []),
    options.url,
  ]);
  return parseWrk(stdout);
}

/** Fails with an install hint when wrk is missing (`wrk --version` itself exits 1). */
export async function requireWrk(bench: string): Promise<void> {
  await exec('wrk', ['--version']).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      throw new Error(`${bench} needs wrk (apt-get install -y wrk)`, { cause: error });
    }
  });
}
