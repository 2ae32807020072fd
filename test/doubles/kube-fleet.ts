/**
 * A fleet of Kubernetes API server doubles in child processes of their own, so that a
 * benchmark measures the client, not the doubles: a real fleet's API servers do not share the
 * client's event loop, nor one another's. `startKubeFleet` forks this file (through tsx) once per
 * core, each child serving a slice of the fleet, and talks to them over the IPC channel; run as a
 * child, the file starts its doubles and answers.
 *
 * Only the wire protocol crosses the process boundary; what the parent can ask is the
 * requests each double served (to count them) and to stop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startKubeApi, type KubeApiDouble, type RequestRecord } from './kube-apiserver.js';

export interface KubeFleetOptions {
  /** Context and cluster names are `${name}${i}`. */
  name: string;
  size: number;
  rolloutDelayMs: number;
  /** Extra node flags for the fleet's processes (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Child processes serving the fleet (default: one per core, at most one per double). */
  processes?: number;
}

/** What one child serves: doubles `${name}${offset}` to `${name}${offset + count - 1}`. */
interface Slice {
  name: string;
  offset: number;
  count: number;
  rolloutDelayMs: number;
}

export interface KubeFleetMember {
  name: string;
  server: string;
  token: string;
}

export interface KubeFleet {
  members: KubeFleetMember[];
  /**
   * Every request served so far, across the fleet, in the order the doubles saw them (`at` in
   * ms since the epoch, one clock for every process).
   */
  requests(): Promise<RequestRecord[]>;
  /** TLS connections opened to the fleet so far. */
  connections(): Promise<number>;
  /** CPU time the fleet's processes have used so far (user + system), ms; Linux only. */
  cpuMs(): number;
  stop(): Promise<void>;
}

type Ask = { id: number; op: 'requests' | 'connections' | 'stop' };
type Answer = { id: number; requests?: RequestRecord[]; connections?: number };
type Ready = { ready: KubeFleetMember[] } | { failed: string };

/** Starts `size` doubles in child processes; resolves once every one listens. */
export async function startKubeFleet(options: KubeFleetOptions): Promise<KubeFleet> {
  const processes = Math.max(
    1,
    Math.min(options.size, options.processes ?? availableParallelism()),
  );
  const slices: Slice[] = [];
  for (let p = 0, offset = 0; p < processes; p++) {
    const count = Math.floor(options.size / processes) + (p < options.size % processes ? 1 : 0);
    slices.push({ name: options.name, offset, count, rolloutDelayMs: options.rolloutDelayMs });
    offset += count;
  }
  const children = await Promise.all(slices.map((slice) => startChild(slice, options.nodeArgs)));
  const askAll = (op: Ask['op']) => Promise.all(children.map((c) => c.ask(op)));
  return {
    members: children.flatMap((c) => c.members),
    requests: async () =>
      (await askAll('requests')).flatMap((a) => a.requests ?? []).sort((a, b) => a.at - b.at),
    connections: async () =>
      (await askAll('connections')).reduce((sum, a) => sum + (a.connections ?? 0), 0),
    cpuMs: () => children.reduce((sum, c) => sum + processCpuMs(c.child.pid!), 0),
    stop: async () => {
      await Promise.all(
        children.map(async (c) => {
          const exited = new Promise((resolve) => c.child.once('exit', resolve));
          await c.ask('stop');
          await exited;
        }),
      );
    },
  };
}

interface Child {
  child: ChildProcess;
  members: KubeFleetMember[];
  ask(op: Ask['op']): Promise<Answer>;
}

async function startChild(slice: Slice, nodeArgs: string[] = []): Promise<Child> {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(slice)], {
    execArgv: ['--import', 'tsx', ...nodeArgs],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const members = await new Promise<KubeFleetMember[]>((resolve, reject) => {
    child.once('message', (m: Ready) =>
      'ready' in m ? resolve(m.ready) : reject(new Error(m.failed)),
    );
    child.once('exit', (code) => reject(new Error(`the API double fleet exited (${code})`)));
  });
  let next = 0;
  const ask = (op: Ask['op']): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const id = ++next;
      const onMessage = (m: Answer) => {
        if (m.id !== id) return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.send({ id, op } satisfies Ask, (error) => error && reject(error));
    });
  return { child, members, ask };
}

/** utime + stime of a process from /proc (clock ticks of 10 ms, USER_HZ on Linux), ms. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime is 14th, stime 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function serveFleet(child: NodeJS.Process, slice: Slice): Promise<void> {
  const apis: KubeApiDouble[] = [];
  for (let i = slice.offset; i < slice.offset + slice.count; i++) {
    apis.push(
      await startKubeApi({ name: `${slice.name}${i}`, rolloutDelayMs: slice.rolloutDelayMs }),
    );
  }
  child.send?.({
    ready: apis.map((a) => ({ name: a.name, server: a.server, token: a.token })),
  } satisfies Ready);
  child.on('message', (m: Ask) => {
    if (m.op === 'requests') {
      // One clock across the fleet's processes: ms since the epoch.
      const requests = apis
        .flatMap((a) => a.requests)
        .map((r) => ({ ...r, at: r.at + performance.timeOrigin }))
        .sort((a, b) => a.at - b.at);
      child.send?.({ id: m.id, requests } satisfies Answer);
      return;
    }
    if (m.op === 'connections') {
      const connections = apis.reduce((sum, a) => sum + a.connections(), 0);
      child.send?.({ id: m.id, connections } satisfies Answer);
      return;
    }
    void Promise.all(apis.map((a) => a.stop())).then(() => {
      child.send?.({ id: m.id } satisfies Answer, undefined, {}, () => process.exit(0));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const slice = JSON.parse(process.argv[2] ?? '{}') as Slice;
  // A parent that dies without stopping the fleet does not leave it running.
  process.on('disconnect', () => process.exit(0));
  serveFleet(process, slice).catch((error: unknown) => {
    process.send?.({ failed: String(error) } satisfies Ready);
    process.exit(1);
  });
}
