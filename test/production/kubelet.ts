/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects parsed from YAML */
/**
 * What a kubelet does with a container, done by hand: read the image's config from the
 * Dockerfile (ENTRYPOINT, CMD, ENV, WORKDIR, USER of the final stage), compose the argv from
 * it and the rendered `command`/`args`/`env` exactly as Kubernetes does, and check the rules a
 * kubelet or the API server enforces on a pod before it runs.
 *
 * Kubernetes' rules (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/):
 * no command and no args → ENTRYPOINT + CMD; args only → ENTRYPOINT + args; command (with or
 * without args) → command + args, the image's ENTRYPOINT and CMD ignored. `$(VAR)` in command
 * and args expands from the container's environment; `$$(VAR)` stays literal.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Obj = Record<string, any>;

/** The run config of an image, as `docker build` would record it. */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
  workdir: string;
  user: string | undefined;
  /** The FROM line of the final stage. */
  from: string;
}

/** Joins continuation lines and drops comments, as the Dockerfile parser does. */
function instructions(text: string): { op: string; rest: string }[] {
  const out: { op: string; rest: string }[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    current += line;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(current);
    if (m) out.push({ op: m[1]!.toUpperCase(), rest: m[2]!.trim() });
    current = '';
  }
  return out;
}

function execForm(rest: string, where: string): string[] {
  const parsed = JSON.parse(rest) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
    throw new Error(`${where} must be in exec form (a JSON array of strings), got ${rest}`);
  }
  return parsed;
}

/** `KEY=value KEY2="v 2"` (the only ENV form the project uses). */
function envPairs(rest: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (const m of rest.matchAll(re)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    out.push([m[1]!, value]);
  }
  return out;
}

/** One build stage: its base image (ARG defaults substituted), name and instructions. */
export interface Stage {
  from: string;
  name: string | undefined;
  instructions: { op: string; rest: string }[];
}

/** The stages of a Dockerfile, with global ARG defaults substituted into FROM. */
export function readStages(dockerfile: string): Stage[] {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions(readFileSync(dockerfile, 'utf8'))) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(ins.rest);
      if (m) args[m[1]!] = m[2] ?? '';
      continue;
    }
    if (ins.op === 'FROM') {
      const [image = '', as, name] = ins.rest
        .replace(
          /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
          (_, a?: string, b?: string) => args[(a ?? b)!] ?? '',
        )
        .split(/\s+/);
      stages.push({
        from: image,
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        instructions: [],
      });
      continue;
    }
    stages.at(-1)?.instructions.push(ins);
  }
  return stages;
}

/** The final stage's run config. */
export function readImageConfig(dockerfile: string): ImageConfig {
  const last = readStages(dockerfile).at(-1);
  if (!last) throw new Error(`${dockerfile} has no FROM`);
  const config: ImageConfig = {
    entrypoint: [],
    cmd: [],
    env: {},
    workdir: '/',
    user: undefined,
    from: last.from,
  };
  for (const { op, rest } of last.instructions) {
    if (op === 'ENTRYPOINT') {
      config.entrypoint = execForm(rest, 'ENTRYPOINT');
      config.cmd = []; // Docker resets CMD when ENTRYPOINT is set in the same stage.
    } else if (op === 'CMD') config.cmd = execForm(rest, 'CMD');
    else if (op === 'ENV') for (const [k, v] of envPairs(rest)) config.env[k] = v;
    else if (op === 'WORKDIR') config.workdir = rest;
    else if (op === 'USER') config.user = rest;
  }
  return config;
}

/** Kubernetes' `$(VAR)` expansion: defined variables expand, `$$` escapes, others stay. */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all: string, name?: string) => {
    if (all === '$$') return '$';
    return name !== undefined && name in env ? env[name]! : all;
  });
}

/**
 * The container's environment: the image's ENV, then the container's `env` in order
 * (`$(VAR)` referring to earlier ones), `valueFrom.secretKeyRef` read from `secrets`.
 */
export function containerEnv(
  image: ImageConfig,
  container: Obj,
  secrets: Record<string, Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...image.env };
  for (const e of (container.env ?? []) as Obj[]) {
    if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const value = secrets[ref.name]?.[ref.key];
      if (value === undefined) {
        if (ref.optional === true) continue;
        throw new Error(`env ${e.name}: secret ${ref.name} key ${ref.key} does not exist`);
      }
      env[e.name] = value;
    } else if (e.valueFrom) {
      throw new Error(`env ${e.name}: valueFrom ${Object.keys(e.valueFrom).join()} not supported`);
    } else env[e.name] = expand(String(e.value ?? ''), env);
  }
  return env;
}

/** The argv a kubelet starts for the container. */
export function composeArgv(
  image: ImageConfig,
  container: Obj,
  env: Record<string, string>,
): string[] {
  const command = container.command as string[] | undefined;
  const args = container.args as string[] | undefined;
  const argv =
    command !== undefined
      ? [...command, ...(args ?? [])]
      : [...image.entrypoint, ...(args ?? image.cmd)];
  if (argv.length === 0) throw new Error('no command: the image has no ENTRYPOINT/CMD');
  return argv.map((a) => expand(a, env));
}

/** The command of the front door's container, as the kubelet of a cluster would start it here. */
export interface FrontDoorCommand {
  container: Obj;
  env: Record<string, string>;
  argv: string[];
}

/**
 * The front door of a built overlay, prepared as its kubelet would prepare it: its ConfigMap
 * volumes written under `root` where the pod mounts them (`rewrite` maps what cluster DNS and
 * the other clusters' load balancers would answer to addresses that exist here), its
 * environment with `secrets`, its argv composed and pointed at those files, with the values of
 * `flags` (e.g. `--port`) replaced: a pod has its own network namespace, this machine does not.
 */
export function frontDoorCommand(
  image: ImageConfig,
  objects: Obj[],
  root: string,
  options: {
    rewrite: (text: string) => string;
    flags: Record<string, string>;
    secrets?: Record<string, Record<string, string>>;
  },
): FrontDoorCommand {
  const deployment = objects.find(
    (o) => o.kind === 'Deployment' && o.metadata.name === 'mcml-front-door',
  );
  if (!deployment) throw new Error('the overlay has no mcml-front-door Deployment');
  const pod = deployment.spec.template.spec as Obj;
  const container = (pod.containers as Obj[])[0]!;
  const mounts = (container.volumeMounts ?? []) as Obj[];
  for (const m of mounts) {
    const volume = (pod.volumes as Obj[]).find((v) => v.name === m.name)!;
    const cm = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name,
    )!;
    mkdirSync(join(root, m.mountPath as string), { recursive: true });
    for (const [key, text] of Object.entries(cm.data as Record<string, string>)) {
      writeFileSync(join(root, m.mountPath as string, key), options.rewrite(text));
    }
  }
  const env = containerEnv(image, container, options.secrets);
  const mounted = (a: string) => mounts.some((m) => a.startsWith(`${m.mountPath as string}/`));
  const argv = composeArgv(image, container, env).map((a, i, all) => {
    const flag = all[i - 1];
    if (flag !== undefined && flag in options.flags) return options.flags[flag]!;
    return mounted(a) ? join(root, a) : a;
  });
  return { container, env, argv };
}

/** A container port by name or number. */
export function containerPort(container: Obj, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = ((container.ports ?? []) as Obj[]).find((x) => x.name === port);
  if (!p) throw new Error(`probe port "${port}" is not a named port of ${container.name}`);
  return p.containerPort as number;
}

const NUMERIC = /^\d+(:\d+)?$/;

/** The pod templates of a set of objects (Deployments, DaemonSets, StatefulSets, Jobs). */
export function podTemplates(objects: Obj[]): { where: string; pod: Obj }[] {
  return objects
    .filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet', 'Job'].includes(o.kind))
    .map((o) => ({ where: `${o.kind}/${o.metadata.name}`, pod: o.spec.template.spec }));
}

function quantity(text: string | number | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(text));
  if (!m) throw new Error(`not a quantity: ${String(text)}`);
  const factor: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  return Number(m[1]) * factor[m[2] ?? '']!;
}

/**
 * The rules a pod meets or is refused for, checked on one pod template. `imageUser` says what
 * USER each image runs as (undefined: not known, so the pod must say).
 * - runAsNonRoot: the effective user (container, pod, then image USER) must be numeric and not
 *   0: the kubelet refuses a non-numeric image user it cannot verify
 *   ("container has runAsNonRoot and image has non-numeric user").
 * - requests ≤ limits; extended resources (nvidia.com/gpu) need a limit, and a request equal
 *   to it (they cannot be overcommitted).
 * - every volumeMount names a volume of the pod.
 * - privileged containers cannot forbid privilege escalation.
 */
export function admissionProblems(
  where: string,
  pod: Obj,
  imageUser: (image: string) => string | undefined,
): string[] {
  const problems: string[] = [];
  const podSc = (pod.securityContext ?? {}) as Obj;
  const volumes = new Set(((pod.volumes ?? []) as Obj[]).map((v) => v.name as string));
  const containers = [
    ...((pod.initContainers ?? []) as Obj[]),
    ...((pod.containers ?? []) as Obj[]),
  ];
  for (const c of containers) {
    const at = `${where} container ${c.name}`;
    const sc = (c.securityContext ?? {}) as Obj;
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    const uid = sc.runAsUser ?? podSc.runAsUser;
    if (nonRoot === true) {
      if (uid === undefined) {
        const user = imageUser(c.image as string);
        if (user === undefined || user === '') {
          problems.push(`${at}: runAsNonRoot without runAsUser, and the image's USER is unknown`);
        } else if (!NUMERIC.test(user)) {
          problems.push(
            `${at}: runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root`,
          );
        } else if (Number(user.split(':')[0]) === 0) {
          problems.push(`${at}: runAsNonRoot but the image runs as uid 0`);
        }
      } else if (uid === 0) {
        problems.push(`${at}: runAsNonRoot with runAsUser 0`);
      }
    }
    if (sc.privileged === true && sc.allowPrivilegeEscalation === false) {
      problems.push(`${at}: privileged with allowPrivilegeEscalation false is invalid`);
    }
    const requests = (c.resources?.requests ?? {}) as Record<string, string>;
    const limits = (c.resources?.limits ?? {}) as Record<string, string>;
    for (const [name, req] of Object.entries(requests)) {
      const limit = limits[name];
      const extended = name.includes('/');
      if (extended) {
        if (limit === undefined) problems.push(`${at}: ${name} requested without a limit`);
        else if (quantity(req) !== quantity(limit)) {
          problems.push(`${at}: ${name} request ${req} must equal its limit ${limit}`);
        }
      } else if (limit !== undefined && quantity(req)! > quantity(limit)!) {
        problems.push(`${at}: ${name} request ${req} is above its limit ${limit}`);
      }
    }
    for (const m of (c.volumeMounts ?? []) as Obj[]) {
      if (!volumes.has(m.name as string)) problems.push(`${at}: mounts unknown volume ${m.name}`);
    }
  }
  return problems;
}
