/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects parsed from YAML */
/**
 * The kubelet argv check: for every overlay of a rendered example, the container's argv is
 * composed exactly as a kubelet composes it from the image (the Dockerfile's ENTRYPOINT, CMD,
 * ENV, WORKDIR) and the rendered `command`/`args`/`env`, and run here with the real model the
 * image ships. The rendered startup, readiness and liveness probes must pass and an inference
 * must answer. The repository root stands in for the image's WORKDIR (/app: the Dockerfile
 * copies bin/, dist/, node_modules/ and models/ there); emptyDir mounts become temporary
 * directories; MODEL_PATH (a cloud bucket URI in the render) points at the same model file.
 *
 * The container listens where the render says: all interfaces, on the rendered port (a free
 * port chosen for the test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/process.js';
import { REPO } from '../render/fixtures.js';
import {
  composeArgv,
  containerEnv,
  containerPort,
  frontDoorCommand,
  readImageConfig,
  type ImageConfig,
} from './kubelet.js';
import { buildOverlays, renderExample } from './rendered.js';

type Obj = Record<string, any>;

const DOCKERFILE = join(REPO, 'Dockerfile');
const MODEL = join(REPO, 'models/iris.onnx');

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function start(argv: string[], env: Record<string, string>, cwd: string): Started {
  const [bin, ...rest] = argv;
  // The image's `node` is this machine's node.
  const child = spawn(bin === 'node' ? process.execPath : bin!, rest, {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

/** One HTTP probe as the kubelet runs it: success is a status in 200–399 within the timeout. */
async function probe(port: number, p: Obj): Promise<boolean> {
  const timeoutMs = ((p.timeoutSeconds as number | undefined) ?? 1) * 1000;
  try {
    const res = await fetch(`http://127.0.0.1:${port}${p.httpGet.path as string}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}

/** Polls a probe until it passes, for at most failureThreshold × periodSeconds. */
async function until(port: number, p: Obj, s: Started, what: string): Promise<void> {
  const budgetMs =
    ((p.failureThreshold as number | undefined) ?? 3) *
    ((p.periodSeconds as number | undefined) ?? 10) *
    1000;
  const deadline = Date.now() + budgetMs;
  for (;;) {
    if (s.child.exitCode !== null) {
      throw new Error(
        `the container exited (${s.child.exitCode}) before its ${what} passed:\n${s.output()}`,
      );
    }
    if (await probe(port, p)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not pass:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The environment of the container, mapped onto this machine. */
function localEnv(image: ImageConfig, container: Obj, scratch: string): Record<string, string> {
  const env = containerEnv(image, container);
  const mounts = ((container.volumeMounts ?? []) as Obj[]).map((m) => m.mountPath as string);
  for (const [k, v] of Object.entries(env)) {
    const mount = mounts.find((m) => v === m || v.startsWith(`${m}/`));
    if (mount !== undefined) env[k] = join(scratch, v);
  }
  env.MODEL_PATH = MODEL;
  return { PATH: process.env.PATH ?? '', HOME: join(scratch, 'home'), ...env };
}

/**
 * The front door of an overlay, run as a kubelet would: its ConfigMap (the front door's spec)
 * written where the pod mounts it (under `scratch`), the in-cluster Service URL of the server
 * pointing at the server started here (what cluster DNS would do), the admin token from the
 * Secret the user creates, and `--port` moved to a free port (a pod has its own network
 * namespace; this machine does not). The probes must pass and an inference must be answered
 * by the overlay's own target.
 */
async function checkFrontDoor(
  image: ImageConfig,
  overlay: string,
  objects: Obj[],
  serverPort: number,
  scratch: string,
): Promise<void> {
  const root = join(scratch, overlay);
  const token = 'front-door-admin-token-from-a-secret';
  const port = await freePort();
  const { container, env, argv } = frontDoorCommand(image, objects, root, {
    rewrite: (text) =>
      text.replace(
        'http://ml-inference.ml-inference.svc.cluster.local',
        `http://127.0.0.1:${serverPort}`,
      ),
    flags: { '--port': String(port) },
    secrets: { 'mcml-front-door-admin': { token } },
  });
  const target = env.TARGET!;
  expect(overlay).toBe(`k8s/overlays/${target}`);
  expect(argv.slice(argv.indexOf('--prefer'))).toEqual(['--prefer', target]);
  const s = start(
    argv,
    { PATH: process.env.PATH ?? '', HOME: join(root, 'home'), ...env },
    resolve(REPO),
  );
  try {
    await until(port, container.readinessProbe, s, `${overlay} front door readinessProbe`);
    expect(await probe(port, container.livenessProbe), s.output()).toBe(true);
    const res = await fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
      }),
    });
    await res.arrayBuffer();
    expect(res.status, s.output()).toBe(200);
    expect(res.headers.get('x-mcml-target')).toBe(target);
    // The admin API is on (the token came from the Secret), and the token is never printed.
    expect(s.output()).toMatch(/admin\s+POST/);
  } finally {
    if (s.child.exitCode === null) {
      s.child.kill('SIGTERM');
      await once(s.child, 'exit');
    }
  }
  expect(await s.exited, s.output()).toBe(0);
  expect(s.output()).not.toContain(token);
}

describe('kubelet argv check', { timeout: 180_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'mcml-kubelet-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const image = readImageConfig(DOCKERFILE);

  it('composes ENTRYPOINT/CMD with command/args as Kubernetes does', () => {
    const img: ImageConfig = { ...image, entrypoint: ['a', 'b'], cmd: ['c'] };
    expect(composeArgv(img, {}, {})).toEqual(['a', 'b', 'c']);
    expect(composeArgv(img, { args: ['d', '$(X)', '$$(X)'] }, { X: 'x' })).toEqual([
      'a',
      'b',
      'd',
      'x',
      '$(X)',
    ]);
    expect(composeArgv(img, { command: ['e'] }, {})).toEqual(['e']);
    expect(composeArgv(img, { command: ['e'], args: ['f'] }, {})).toEqual(['e', 'f']);
  });

  it('every overlay of the rendered example starts, passes its probes and answers', async () => {
    const port = await freePort();
    // The three-clouds example as a CPU service (no GPU here) on a free port.
    const { files } = renderExample('three-clouds', (text) =>
      text
        .replace(/\n {4}gpu:\n {6}model: \w+\n {6}count: 1/, '')
        .replace('port: 8000', `port: ${port}`),
    );
    const built = buildOverlays(files);
    expect(Object.keys(built).length).toBe(3);
    for (const [overlay, objects] of Object.entries(built)) {
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === 'ml-inference',
      )!;
      const container = (deployment.spec.template.spec.containers as Obj[]).find(
        (c) => c.name === 'server',
      )!;
      const env = localEnv(image, container, scratch);
      const argv = composeArgv(image, container, env);
      const s = start(argv, env, resolve(REPO));
      try {
        const at = (p: Obj) => containerPort(container, p.httpGet.port as string | number);
        expect(at(container.readinessProbe)).toBe(port);
        await until(
          at(container.startupProbe),
          container.startupProbe,
          s,
          `${overlay} startupProbe`,
        );
        expect(
          await probe(at(container.readinessProbe), container.readinessProbe),
          s.output(),
        ).toBe(true);
        expect(await probe(at(container.livenessProbe), container.livenessProbe), s.output()).toBe(
          true,
        );
        const res = await fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [
              { name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] },
            ],
          }),
        });
        const body = (await res.json()) as { outputs: unknown[] };
        expect(res.status, JSON.stringify(body)).toBe(200);
        expect(body.outputs.length).toBeGreaterThan(0);
        await checkFrontDoor(image, overlay, objects, port, scratch);
      } finally {
        if (s.child.exitCode === null) {
          s.child.kill('SIGTERM');
          await once(s.child, 'exit');
        }
      }
      // SIGTERM (what the kubelet sends) drains and exits 0.
      expect(await s.exited, s.output()).toBe(0);
    }
  });

  it('with service.auth, the container reads the token from its Secret and refuses requests without it', async () => {
    const port = await freePort();
    const { files } = renderExample('three-clouds', (text) =>
      text
        .replace(/\n {4}gpu:\n {6}model: \w+\n {6}count: 1/, '')
        .replace('port: 8000', `port: ${port}`)
        .replace(
          '  replicas:\n    min: 2',
          '  auth:\n    bearerTokenSecret: iris-token\n  replicas:\n    min: 2',
        ),
    );
    const [, objects] = Object.entries(buildOverlays(files))[0]!;
    const deployment = objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'ml-inference',
    )!;
    const container = (deployment.spec.template.spec.containers as Obj[])[0]!;
    // Without the Secret the kubelet would not start the container (CreateContainerConfigError).
    expect(() => containerEnv(image, container)).toThrow(/secret iris-token key token/);
    const token = 'c2VjcmV0LWZyb20tYS1rdWJlcm5ldGVzLXNlY3JldA';
    const env = localEnv(
      image,
      { ...container, env: (container.env as Obj[]).filter((e) => !e.valueFrom) },
      scratch,
    );
    // The Secret's value, as the kubelet resolves valueFrom.secretKeyRef.
    env.MCML_INFERENCE_TOKEN = containerEnv(image, container, {
      'iris-token': { token },
    }).MCML_INFERENCE_TOKEN!;
    const s = start(composeArgv(image, container, env), env, resolve(REPO));
    try {
      await until(port, container.startupProbe, s, 'startupProbe (open without a token)');
      const infer = (headers: Record<string, string>) =>
        fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({
            inputs: [
              { name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] },
            ],
          }),
        });
      const none = await infer({});
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await infer({ authorization: 'Bearer wrong-token-of-some-length' })).status).toBe(
        401,
      );
      const ok = await infer({ authorization: `Bearer ${token}` });
      expect(ok.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    } finally {
      if (s.child.exitCode === null) {
        s.child.kill('SIGTERM');
        await once(s.child, 'exit');
      }
    }
    expect(s.output()).not.toContain(token);
  });

  it('a GPU overlay asks for CUDA and, without a loadable CUDA provider, exits 1 saying so', async () => {
    const port = await freePort();
    const { files } = renderExample('three-clouds', (text) =>
      text.replace('port: 8000', `port: ${port}`),
    );
    const [, objects] = Object.entries(buildOverlays(files))[0]!;
    const deployment = objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'ml-inference',
    )!;
    const container = (deployment.spec.template.spec.containers as Obj[])[0]!;
    const env = localEnv(image, container, scratch);
    const argv = composeArgv(image, container, env);
    expect(argv.slice(-2)).toEqual(['--device', 'cuda']);
    const s = start(argv, env, resolve(REPO));
    const code = await s.exited;
    expect(code, s.output()).toBe(1);
    expect(s.output()).toMatch(/--device cuda: the CUDA execution provider cannot load/);
  });
});
