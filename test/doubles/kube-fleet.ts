/**
 * A fleet of Kubernetes API server doubles in a child process of their own, so that a
 * benchmark measures the client, not the doubles: a real fleet's API servers do not share the
 * client's event loop. `startKubeFleet` forks this file (through tsx) and talks to it over the
 * IPC channel; run as the child, the file starts the doubles and answers.
 *
 * Only the wire protocol crosses the process boundary; what the parent can ask is the
 * requests each double served (to count them) and to stop.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startKubeApi, type KubeApiDouble, type RequestRecord } from './kube-apiserver.js';

export interface KubeFleetOptions {
  /** Context and cluster names are `${name}${i}`. */
  name: string;
  size: number;
  rolloutDelayMs: number;
  /** Extra node flags for the fleet's process (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

export interface KubeFleetMember {
  name: string;
  server: string;
  token: string;
}

export interface KubeFleet {
  members: KubeFleetMember[];
  /** Every request served so far, across the fleet, in the order each double saw them. */
  requests(): Promise<RequestRecord[]>;
  /** TLS connections opened to the fleet so far. */
  connections(): Promise<number>;
  /** CPU time the fleet's process has used so far (user + system), ms; Linux only. */
  cpuMs(): number;
  stop(): Promise<void>;
}

type Ask = { id: number; op: 'requests' | 'connections' | 'stop' };
type Answer = { id: number; requests?: RequestRecord[]; connections?: number };
type Ready = { ready: KubeFleetMember[] } | { failed: string };

/** Starts `size` doubles in a child process; resolves once every one listens. */
export async function startKubeFleet(options: KubeFleetOptions): Promise<KubeFleet> {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx', ...(options.nodeArgs ?? [])],
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
  return {
    members,
    requests: async () => (await ask('requests')).requests ?? [],
    connections: async () => (await ask('connections')).connections ?? 0,
    cpuMs: () => processCpuMs(child.pid!),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await ask('stop');
      await exited;
    },
  };
}

/** utime + stime of a process from /proc (clock ticks of 10 ms, USER_HZ on Linux), ms. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime is 14th, stime 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function serveFleet(child: NodeJS.Process, options: KubeFleetOptions): Promise<void> {
  const apis: KubeApiDouble[] = [];
  for (let i = 0; i < options.size; i++) {
    apis.push(
      await startKubeApi({ name: `${options.name}${i}`, rolloutDelayMs: options.rolloutDelayMs }),
    );
  }
  child.send?.({
    ready: apis.map((a) => ({ name: a.name, server: a.server, token: a.token })),
  } satisfies Ready);
  child.on('message', (m: Ask) => {
    if (m.op === 'requests') {
      const requests = apis.flatMap((a) => a.requests).sort((a, b) => a.at - b.at);
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
  const options = JSON.parse(process.argv[2] ?? '{}') as KubeFleetOptions;
  // A parent that dies without stopping the fleet does not leave it running.
  process.on('disconnect', () => process.exit(0));
  serveFleet(process, options).catch((error: unknown) => {
    process.send?.({ failed: String(error) } satisfies Ready);
    process.exit(1);
  });
}
