import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../adapters/storage.js';
import { McmlError } from '../../core/errors.js';
import { regionInfo, type Catalog } from '../../core/catalog/index.js';
import { planDocument } from '../../core/plan/planner.js';
import type { Plan } from '../../core/plan/types.js';
import { durationMs } from '../../core/spec/parse.js';
import type { Spec } from '../../core/spec/schema.js';
import type { EventView } from '../../apps/dashboard/state.js';
import { startUp, type RunningUp, type UpOptions } from '../../apps/up/up.js';
import { loadCatalog } from '../catalog-files.js';
import { paint, renderTable, useColor } from '../output.js';
import { DEFAULT_SPEC_FILE, givenSpecFile, loadSpecFile } from '../spec-file.js';

export interface UpCommandOptions {
  file?: string;
  port?: string;
  host?: string;
  stateDir?: string;
  catalog?: string;
  readyTimeout?: string;
  quiet?: boolean;
}

/** The repository root (from dist/cli/commands/ or src/cli/commands/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The spec `mcml up` runs when none is given and ./mcml.yaml does not exist. */
export const BUNDLED_SPEC = join(ROOT, 'examples', 'local', 'mcml.yaml');

function specFile(fileArg: string | undefined, options: UpCommandOptions): string {
  const given = givenSpecFile(fileArg, options.file);
  if (given !== undefined) return given;
  if (existsSync(DEFAULT_SPEC_FILE)) return DEFAULT_SPEC_FILE;
  return relative(process.cwd(), BUNDLED_SPEC) || BUNDLED_SPEC;
}

function portOf(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new McmlError('USAGE', `--port must be a port number from 0 to 65535, got "${value}"`);
  }
  return n;
}

function price(x: number): string {
  return x < 1 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`;
}

function placementTable(plan: Plan): string {
  return renderTable(plan.placements, [
    { header: 'TIER', value: (p) => String(p.tier), align: 'right' },
    { header: 'TARGET', value: (p) => p.target },
    {
      header: 'CLOUD/REGION',
      value: (p) => `${p.provider === 'local' ? `local→${p.cloud}` : p.cloud}/${p.region}`,
    },
    { header: 'INSTANCE', value: (p) => p.instanceType },
    { header: 'REPLICAS', value: (p) => `${p.replicas.min}-${p.replicas.max}` },
    { header: '$/H', value: (p) => price(p.hourly), align: 'right' },
  ]);
}

function eventLine(e: EventView, color: boolean): string {
  const time = new Date(e.at).toLocaleTimeString('en-GB', { hour12: false });
  const style =
    e.level === 'error'
      ? 'red'
      : e.level === 'warn'
        ? 'yellow'
        : e.level === 'ok'
          ? 'green'
          : 'cyan';
  return `${paint('dim', time, color)} ${paint(style, e.kind.padEnd(8), color)} ${e.message}`;
}

/** `mcml up`: plan, start every local target, print where it runs, stop on a signal. */
export async function runUp(fileArg: string | undefined, options: UpCommandOptions): Promise<void> {
  const up = await prepareUp(fileArg, options);
  const color = useColor();
  process.stdout.write(planSummary(up, color));
  // Signals during start-up stop what has started; after, they stop the deployment.
  const stopped = stopSignal();
  const starting = startUp(upOptions(up, options, color));
  const first = await Promise.race([starting, stopped]);
  const err = process.stderr;
  if (typeof first === 'string') {
    // Interrupted while starting: startUp cleans up after itself when it fails, so wait.
    err.write('stopping…\n');
    const running = await starting.catch(() => undefined);
    await running?.close();
    process.exitCode = 130;
    return;
  }
  process.stdout.write(runningSummary(up, first, color));
  const signal = await stopped;
  err.write(`\n${signal}: stopping replicas, front door and dashboard…\n`);
  await first.close();
  err.write('stopped; no process left running\n');
}

/** What `mcml up` runs, from the spec and the flags, checked before anything starts. */
interface PreparedUp {
  file: string;
  spec: Spec;
  catalog: Catalog;
  plan: Plan;
  baseDir: string;
  stateDir: string;
  host: string;
  port: number;
  readyTimeoutMs: number;
  tokenEnv: string;
  adminToken: string;
  /** The token came from the environment: a secret someone else chose, never printed. */
  tokenFromEnv: boolean;
}

/** Loads the spec and catalog, plans, and turns the flags into settings (USAGE on bad ones). */
async function prepareUp(
  fileArg: string | undefined,
  options: UpCommandOptions,
): Promise<PreparedUp> {
  const file = specFile(fileArg, options);
  const doc = await loadSpecFile(file);
  const spec = doc.spec;
  const catalog = await loadCatalog(options.catalog);
  const plan = planDocument(doc, catalog);
  const baseDir = dirname(resolve(file));
  const stateDir = resolve(options.stateDir ?? join(baseDir, '.mcml'));
  const port = portOf(options.port ?? String(spec.failover.frontDoor.port));
  const host = options.host ?? spec.failover.frontDoor.host;
  let readyTimeoutMs: number;
  try {
    readyTimeoutMs = durationMs(options.readyTimeout ?? '90s');
  } catch {
    throw new McmlError('USAGE', `--ready-timeout must be a duration such as 90s or 2m`);
  }
  const tokenEnv = spec.failover.frontDoor.adminTokenEnv;
  // A token from the environment is a secret someone else chose (the spec may even name a
  // cloud credential): it is never printed. Only a token made here is shown.
  const tokenFromEnv = process.env[tokenEnv]?.trim() || undefined;
  const adminToken = tokenFromEnv ?? randomBytes(16).toString('hex');
  return {
    file,
    spec,
    catalog,
    plan,
    baseDir,
    stateDir,
    host,
    port,
    readyTimeoutMs,
    tokenEnv,
    adminToken,
    tokenFromEnv: tokenFromEnv !== undefined,
  };
}

/** The plan as `mcml up` shows it before starting. */
function planSummary(up: PreparedUp, color: boolean): string {
  return (
    `${paint('bold', `mcml up: ${up.spec.service.name}`, color)} from ${up.file} · strategy ${up.plan.strategy}\n\n` +
    placementTable(up.plan) +
    `\n\nTotal ${price(up.plan.totals.hourly)}/h at minimum replicas (as priced in the clouds emulated)\n\n`
  );
}

/** The first SIGINT, SIGTERM or SIGHUP; a second one exits at once. */
function stopSignal(): Promise<NodeJS.Signals> {
  let stopping = false;
  return new Promise<NodeJS.Signals>((resolveSignal) => {
    const on = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second Ctrl-C: leave now; the cluster's exit hook SIGKILLs every replica group.
        process.exit(130);
      }
      stopping = true;
      resolveSignal(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    process.on('SIGHUP', on);
  });
}

/** startUp's options: the prepared settings, stores, jurisdictions, replicas and output. */
function upOptions(up: PreparedUp, options: UpCommandOptions, color: boolean): UpOptions {
  const err = process.stderr;
  const { catalog, baseDir } = up;
  return {
    spec: up.spec,
    plan: up.plan,
    baseDir,
    stateDir: up.stateDir,
    host: up.host,
    port: up.port,
    adminToken: up.adminToken,
    readyTimeoutMs: up.readyTimeoutMs,
    openStore: (uri) => openStore(uri, { baseDir }),
    jurisdictionOf: (cloud, region) =>
      cloud === 'aws' || cloud === 'gcp' || cloud === 'azure'
        ? regionInfo(catalog, cloud, region)?.jurisdiction
        : undefined,
    replicaCommand: serveReplica,
    onProgress: (m) => err.write(`${paint('dim', '…', color)} ${m}\n`),
    ...(options.quiet ? {} : { onEvent: (e: EventView) => err.write(eventLine(e, color) + '\n') }),
  };
}

/** A replica: this mcml's `serve` on loopback, told which target it plays. */
const serveReplica: UpOptions['replicaCommand'] = (c) => ({
  command: process.execPath,
  args: [
    join(ROOT, 'bin', 'mcml'),
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    c.port,
    '--model',
    `${c.modelName}=${c.modelUri}`,
    '--threads',
    '1',
    '--log-level',
    'warn',
  ],
  env: { CLOUD_PROVIDER: c.cloud, REGION: c.region, TARGET: c.target },
});

/** Where the running service, dashboard, metrics and admin token are. */
function runningSummary(up: PreparedUp, running: RunningUp, color: boolean): string {
  const { spec, plan, tokenEnv, adminToken } = up;
  const url = running.url;
  const link = up.tokenFromEnv ? `${url}/` : `${url}/#token=${adminToken}`;
  return (
    `\n${paint(['bold', 'green'], '✓', color)} ${spec.service.name} is up on ${plan.placements.length} targets\n` +
    `  Dashboard    ${paint('cyan', link, color)}\n` +
    `  Front door   ${url}/v2/models/${spec.service.model.name}/infer\n` +
    `  Metrics      ${url}/metrics  (Prometheus config: ${relative(process.cwd(), running.prometheusConfig)})\n` +
    (up.tokenFromEnv
      ? `  Admin token  from ${tokenEnv} (not printed; send as "Authorization: Bearer <token>")\n`
      : `  Admin token  ${adminToken}  (send as "Authorization: Bearer <token>"; set ${tokenEnv} to choose it)\n`) +
    `  Status       mcml status --url ${url}\n` +
    `Press Ctrl-C to stop.\n\n`
  );
}
