/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON status lines */
/**
 * `mcml deploy` as a person at a terminal sees it, on the built CLI against three API server
 * doubles: the live table redrawn in place in a terminal (a pseudo-terminal from util-linux
 * `script`), Ctrl-C in the middle of a wave (through the terminal, and as a SIGINT to the
 * process) leaving every cluster in a state the report names, with exit 130, and
 * `mcml deploy status --watch` following a rollout as the double's controller moves it, until
 * Ctrl-C. Rollouts are held by the double's controller, so "mid-wave" is a state, not a timing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NS,
  deploy,
  specText,
  threeClusters,
  type Clusters,
  type Target,
} from '../cli/deploy-clusters.js';
import { repo } from '../cli/run.js';

interface Live {
  child: ChildProcess;
  /** stdout (in a terminal: everything the terminal showed) so far. */
  out(): string;
  err(): string;
  exit: Promise<number>;
}

const SCRIPT = spawnSync('script', ['--version']).status === 0;

/** Starts `mcml ARGS`; with `tty`, inside a pseudo-terminal whose input is our stdin pipe. */
function start(c: Clusters, args: string[], tty = false): Live {
  const env = { ...process.env, ...c.env, NO_COLOR: '1', FORCE_COLOR: '', TERM: 'xterm' };
  const argv = [process.execPath, join(repo, 'bin/mcml'), ...args];
  const child = tty
    ? spawn('script', ['-qec', argv.map((a) => `'${a}'`).join(' '), '/dev/null'], {
        cwd: c.dir,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(argv[0]!, argv.slice(1), { cwd: c.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  return { child, out: () => out, err: () => err, exit };
}

/** Waits for a state of the world (not for a time); fails after a minute, saying what for. */
async function until(what: string, ok: () => boolean, live?: Live): Promise<void> {
  for (let waited = 0; !ok(); waited += 50) {
    if (waited > 60_000)
      throw new Error(`gave up waiting for ${what}\n${live?.out() ?? ''}\n${live?.err() ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function modelOf(c: Clusters, t: Target): string | undefined {
  const d = c.apis[t].get('apps/v1', 'Deployment', NS, 'ml-inference') as any;
  return (d?.spec.template.spec.containers[0].env as { name: string; value: string }[]).find(
    (e) => e.name === 'MODEL_PATH',
  )?.value;
}

describe('mcml deploy at a terminal', { timeout: 300_000 }, () => {
  let c: Clusters;
  beforeAll(async () => {
    c = await threeClusters();
    const first = await deploy(c, ['deploy', '-f', 'mcml.yaml']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('stops on SIGINT mid-wave and says where every cluster stands (exit 130)', async () => {
    writeFileSync(join(c.dir, 'mcml.yaml'), specText({ model: 'iris-2.onnx' }));
    const azure = c.apis['azure-eus'].controller;
    azure.hold();
    const live = start(c, ['deploy', '-f', 'mcml.yaml']);
    await until('the first wave to be rolling out', () => azure.held().length > 0, live);
    live.child.kill('SIGINT');
    const code = await live.exit;
    azure.release();

    expect(code, live.out() + live.err()).toBe(130);
    expect(live.err()).toMatch(/SIGINT: stopping; reading where every cluster stands/);
    const out = live.out();
    expect(out).toMatch(/WAVE\s+TARGET\s+RESULT\s+REVISION\s+STATE/);
    expect(out).toMatch(
      /1\s+azure-eus\s+interrupted\s+2\s+at revision 2 \(applied; rollout progressing[^)]*\); "mcml deploy rollback azure-eus" returns it to revision 1/,
    );
    expect(out).toMatch(/2\s+gcp-usc1\s+interrupted\s+-\s+untouched: interrupted before its wave/);
    expect(out).toMatch(/3\s+aws-use1\s+interrupted\s+-\s+untouched: interrupted before its wave/);
    // What the report says is what the clusters hold.
    expect(modelOf(c, 'azure-eus')).toMatch(/iris-2\.onnx$/);
    expect(modelOf(c, 'gcp-usc1')).toMatch(/iris-1\.onnx$/);
    expect(modelOf(c, 'aws-use1')).toMatch(/iris-1\.onnx$/);
  });

  it('redraws one line per cluster in place in a terminal, and stops on Ctrl-C there', async () => {
    if (!SCRIPT)
      throw new Error('needs `script` for a pseudo-terminal: apt-get install -y util-linux');
    writeFileSync(join(c.dir, 'mcml.yaml'), specText({ model: 'iris-3.onnx' }));
    const azure = c.apis['azure-eus'].controller;
    azure.hold();
    const live = start(c, ['deploy', '-f', 'mcml.yaml'], true);
    await until('the first wave to be rolling out', () => azure.held().length > 0, live);
    await until('the table to show it', () => /azure-eus\s+rolling-out/.test(live.out()), live);
    live.child.stdin!.write('\u0003'); // Ctrl-C, as the terminal sends it
    const code = await live.exit;
    azure.release();

    expect(code, live.out()).toBe(130);
    const out = live.out();
    // The live table: drawn, then moved up over and drawn again, never one line per change.
    expect(out).toMatch(/WAVE\s+TARGET\s+PHASE\s+NOW/);
    // eslint-disable-next-line no-control-regex -- the cursor-up-and-clear of a redraw
    expect(out).toMatch(/\u001b\[\d+A\u001b\[J/);
    expect(out.match(/WAVE\s+TARGET\s+PHASE\s+NOW/g)!.length).toBeGreaterThan(1);
    expect(out).not.toMatch(/^\d\d:\d\d:\d\d {2}/m);
    expect(out).toMatch(/\^C\r?\nSIGINT: stopping/);
    expect(out).toMatch(/1\s+azure-eus\s+interrupted\s+3\s+at revision 3 \(applied; /);
    expect(out).toMatch(/2\s+gcp-usc1\s+interrupted\s+-\s+untouched: interrupted before its wave/);
    expect(modelOf(c, 'gcp-usc1')).toMatch(/iris-1\.onnx$/);
  });

  it('follows a rollout with status --watch as the cluster moves it, until Ctrl-C', async () => {
    const azure = c.apis['azure-eus'];
    azure.controller.hold();
    // Someone else's edit starts a rollout on one cluster (a new pod template).
    const d = azure.get('apps/v1', 'Deployment', NS, 'ml-inference') as any;
    d.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': 'now' };
    azure.put(d, 'kubectl-rollout');
    const live = start(c, [
      'deploy',
      'status',
      '-f',
      'mcml.yaml',
      '--watch',
      '--interval',
      '300ms',
      '--json',
    ]);
    const lines = () =>
      live
        .out()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { targets: Record<string, any>[] });
    const phaseOf = (line: { targets: Record<string, any>[] }) =>
      line.targets.find((t) => t.target === 'azure-eus')?.phase as string;
    await until('a line with the rollout in progress', () =>
      lines().some((l) => phaseOf(l) === 'progressing'),
    );
    azure.controller.release();
    await until(
      'a line with the rollout complete',
      () => phaseOf(lines().at(-1)!) === 'complete',
      live,
    );
    live.child.kill('SIGINT');
    const code = await live.exit;

    expect(code, live.err()).toBe(0);
    expect(live.err()).toBe('');
    const seen = lines().map(phaseOf);
    expect(seen.indexOf('progressing')).toBeLessThan(seen.lastIndexOf('complete'));
    // A line is printed when something changed, not at every read.
    const keys = lines().map((l) => JSON.stringify(l.targets));
    expect(new Set(keys).size).toBe(keys.length);
  });
});
