/** Loopback upstream servers for failover tests, as child processes so SIGKILL is real. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/process.js';

const script = fileURLToPath(new URL('./fixtures/upstream.ts', import.meta.url));

export interface Upstream {
  name: string;
  host: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** SIGKILL: the process dies mid-request, sockets reset. */
  kill(): Promise<void>;
  /** SIGSTOP: the process hangs; the kernel still accepts connections and requests. */
  hang(): void;
  /** SIGCONT after hang(). */
  wake(): void;
  /** Starts it again on the same address. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function spawnUpstream(host: string, port: number, name: string, mode: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, host, String(port), name, mode],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`upstream ${name} exited with ${code}`)));
    child.stdout.once('data', () => resolve());
  });
  child.removeAllListeners('exit');
  return child;
}

/** Starts an upstream on `host` (e.g. 127.0.0.2, for distinct DNS answers) and a free port. */
export async function startUpstream(
  name: string,
  options: { host?: string; mode?: 'ok' | 'garbage' | '503' } = {},
): Promise<Upstream> {
  const host = options.host ?? '127.0.0.1';
  const mode = options.mode ?? 'ok';
  const port = await freePort();
  const up: Upstream = {
    name,
    host,
    port,
    url: `http://${host}:${port}`,
    child: await spawnUpstream(host, port, name, mode),
    kill: async () => {
      const c = up.child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    hang: () => {
      up.child.kill('SIGSTOP');
    },
    wake: () => {
      up.child.kill('SIGCONT');
    },
    restart: async () => {
      await up.kill();
      up.child = await spawnUpstream(host, port, name, mode);
    },
    stop: () => up.kill(),
  };
  return up;
}

/**
 * A health-check timeout for tests that are about timing, derived from this machine's load
 * now: 20× the slowest of a few probes of `url`, between `floorMs` and 10 s. On an idle
 * machine it is the floor; on a loaded shared one a healthy target is not timed out.
 */
export async function observedTimeoutMs(url: string, floorMs = 1000): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < 8; i++) {
    const started = performance.now();
    const res = await fetch(`${url}/v2/health/ready`);
    await res.arrayBuffer();
    slowest = Math.max(slowest, performance.now() - started);
  }
  return Math.min(10_000, Math.max(floorMs, Math.ceil(slowest * 20)));
}
