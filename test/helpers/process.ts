/** Spawning servers for tests: random loopback ports, wait until they answer, always stopped. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { connect } from 'node:net';

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when something accepts TCP connections on host:port, or rejects after timeoutMs. */
export async function waitForPort(
  port: number,
  options: { host?: string; timeoutMs?: number; child?: ChildProcess } = {},
): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (options.child && options.child.exitCode !== null) {
      throw new Error(
        `process exited with code ${options.child.exitCode} before listening on ${port}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`nothing listening on ${host}:${port} after waiting`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Safety net: a server whose handle a failing test lost is still killed when the test worker
// exits, so no emulator outlives the suite.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export interface RunningServer {
  port: number;
  child: ChildProcess;
  /** Output so far, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns a long-running server and waits for its port; stop() kills its process group. */
export async function startServer(
  command: string,
  args: string[],
  port: number,
  options: SpawnOptions & { timeoutMs?: number; installHint?: string } = {},
): Promise<RunningServer> {
  let out = '';
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...options,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === 'ENOENT'
            ? `${command} is not installed${options.installHint ? `: ${options.installHint}` : ''}`
            : e.message,
        ),
      ),
    ),
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await Promise.race([
      waitForPort(port, { child, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) }),
      spawnError,
    ]);
  } catch (error) {
    await stop();
    throw new Error(`${command} did not start: ${(error as Error).message}\n${out}`);
  }
  return { port, child, output: () => out, stop };
}
