/** `mcml failover run|status`: flags in, one engine call, a table or event lines out. */
import { McmlError } from '../../core/errors.js';
import {
  jurisdictionFromRegion,
  redactUrl,
  planFailover,
  type FailoverPlan,
  type JurisdictionOf,
} from '../../core/failover/index.js';
import type { Spec } from '../../core/spec/index.js';
import { baseUrlFlag } from '../flags.js';
import type { DnsProvider } from '../../ports/dns-provider.js';
import type { Route53Provider } from '../../adapters/route53/index.js';
import {
  checkTarget,
  startFailover,
  type FailoverLogEntry,
  type FailoverStatus,
  type RunningFailover,
  type TargetReport,
} from '../../engines/failover/index.js';
import { paint, renderTable, useColor } from '../output.js';
import { loadSpecFile } from '../spec-file.js';

export interface FailoverRunFlags {
  file: string;
  host?: string;
  port?: string;
  prefer?: string;
  events?: string;
  json?: boolean;
}

export interface FailoverStatusFlags {
  file: string;
  url?: string;
  json?: boolean;
}

async function jurisdictionLookup(): Promise<JurisdictionOf> {
  try {
    const { loadCatalog } = await import('../catalog-files.js');
    const { regionInfo } = await import('../../core/catalog/index.js');
    const catalog = await loadCatalog();
    return (t) => {
      const cloud = t.provider;
      const fromCatalog =
        cloud === 'aws' || cloud === 'gcp' || cloud === 'azure'
          ? regionInfo(catalog, cloud, t.region)?.jurisdiction
          : undefined;
      return fromCatalog ?? jurisdictionFromRegion(t);
    };
  } catch {
    return jurisdictionFromRegion;
  }
}

/** The spec and its failover plan, with jurisdictions from the region catalog. */
export async function loadPlan(file: string): Promise<{ spec: Spec; plan: FailoverPlan }> {
  const { spec } = await loadSpecFile(file);
  const plan = planFailover(spec, await jurisdictionLookup());
  return { spec, plan };
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new McmlError('USAGE', `--port must be 0–65535, not "${value}"`);
  }
  return n;
}

function describeEvent(e: FailoverLogEntry, color: boolean): string {
  const time = e.time.slice(11, 23);
  const f: Record<string, unknown> = e;
  const str = (k: string): string => {
    const v = f[k];
    return v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v);
  };
  switch (e.type) {
    case 'state': {
      const to = str('to');
      const style = to === 'healthy' ? 'green' : to === 'unhealthy' ? 'red' : 'yellow';
      return `${time}  ${str('target')}: ${str('from')} → ${paint(style, to, color)} (${str('reason')})`;
    }
    case 'active':
      return `${time}  ${paint('bold', 'active', color)}: ${str('from')} → ${paint('bold', str('to'), color)} (${str('reason')})`;
    case 'dns-write':
      return `${time}  dns: ${str('record')} ${str('recordType')} → ${(f.values as string[]).join(', ')}`;
    case 'dns-error':
      return `${time}  ${paint('red', 'dns error', color)}: ${str('error')} (retry in ${str('retryInMs')} ms)`;
    case 'dns-hold':
      return `${time}  dns: ${str('message')}`;
    case 'disabled':
    case 'enabled':
      return `${time}  ${str('target')}: ${e.type} by hand`;
    case 'admin':
      return `${time}  admin: ${str('action')} ${str('target')}`;
    default:
      return `${time}  ${e.type}`;
  }
}

/** The plan with `--prefer` applied; an unknown target is a usage error naming the targets. */
export function withPreferred(plan: FailoverPlan, prefer: string | undefined): FailoverPlan {
  if (prefer === undefined) return plan;
  const names = plan.targets.map((t) => t.name);
  if (!names.includes(prefer)) {
    throw new McmlError('USAGE', `--prefer ${prefer}: no such target`, {
      hint: `use one of: ${names.join(', ')}`,
    });
  }
  return { ...plan, machine: { ...plan.machine, prefer } };
}

/**
 * Route 53 failover records over every tier, with Route 53 health checks (the same record
 * sets `mcml render` gives Terraform). Route 53 then moves the record by itself, so the
 * controller does not rewrite it. Prints the chain; false when the provider is not Route 53.
 */
async function writeRoute53Chain(dns: DnsProvider, plan: FailoverPlan): Promise<boolean> {
  const dnsConfig = plan.config.dns;
  if (!dnsConfig || dnsConfig.provider !== 'route53') return false;
  const tiers = [...plan.targets].sort((a, b) => a.tier - b.tier);
  const r53 = dns as Route53Provider;
  await r53.upsertFailoverChain(
    dnsConfig.record,
    dnsConfig.ttl,
    tiers.map((t) => ({ target: t.name, endpoint: t.endpoint, healthCheckUrl: t.probes[0]! })),
  );
  process.stdout.write(
    `route53: failover records ${tiers.map((t) => t.name).join(' → ')} with health checks\n`,
  );
  return true;
}

/** `mcml failover run`: runs until SIGINT/SIGTERM. */
export async function runFailoverRun(flags: FailoverRunFlags): Promise<void> {
  const loaded = await loadPlan(flags.file);
  const spec = loaded.spec;
  const plan = withPreferred(loaded.plan, flags.prefer);
  const color = useColor();
  const dns = await dnsWriter(plan);
  const adminToken = process.env[plan.config.frontDoor.adminTokenEnv];
  const port = parsePort(flags.port);
  const chained =
    dns && plan.config.dns?.route53Failover ? await writeRoute53Chain(dns, plan) : false;
  const fo = await startFailover({
    spec,
    plan,
    ...(dns ? { dns, dnsFailFast: true } : {}),
    ...(chained ? { dnsUpdater: false } : {}),
    ...(flags.events ? { eventsFile: flags.events } : {}),
    ...(adminToken ? { adminToken } : {}),
    ...(flags.host ? { host: flags.host } : {}),
    ...(port !== undefined ? { port } : {}),
  });
  const print = (e: FailoverLogEntry) =>
    process.stdout.write((flags.json ? JSON.stringify(e) : describeEvent(e, color)) + '\n');
  for (const e of fo.events.tail(100)) if (e.type !== 'start' && e.type !== 'listening') print(e);
  fo.events.on('event', print);
  process.stdout.write(runningSummary(fo, plan, flags, adminToken, color) + '\n');
  await stopSignal();
  fo.events.off('event', print);
  await fo.close();
  process.stdout.write('failover stopped\n');
}

/** The DNS provider the controller writes through; none in front-door mode or without dns. */
async function dnsWriter(plan: FailoverPlan): Promise<DnsProvider | undefined> {
  const dnsConfig = plan.config.dns;
  if (plan.config.mode === 'front-door' || !dnsConfig) return undefined;
  const { createDnsProvider } = await import('../../adapters/dns.js');
  return createDnsProvider(dnsConfig);
}

/** What is running and where: the first lines `mcml failover run` prints. */
function runningSummary(
  fo: RunningFailover,
  plan: FailoverPlan,
  flags: FailoverRunFlags,
  adminToken: string | undefined,
  color: boolean,
): string {
  const status = fo.status();
  const lines = [
    `${paint('green', '✓', color)} failover running: ${status.targets.length} targets, routing ${status.routing}, failback ${status.failback}, active ${paint('bold', status.active ?? 'none', color)}`,
  ];
  if (flags.prefer !== undefined) lines.push(`  prefers     ${flags.prefer}, then the tiers`);
  if (fo.url) {
    lines.push(`  front door  ${fo.url}`);
    lines.push(`  status      ${fo.url}/_mcml/status   metrics ${fo.url}/_mcml/metrics`);
    lines.push(
      adminToken
        ? `  admin       POST ${fo.url}/_mcml/targets/NAME/fail|restore (bearer token from ${plan.config.frontDoor.adminTokenEnv})`
        : `  admin       off (set ${plan.config.frontDoor.adminTokenEnv} to enable fail/restore over HTTP)`,
    );
  }
  const dnsConfig = plan.config.dns;
  if (dnsConfig && plan.config.mode !== 'front-door') {
    lines.push(`  dns         ${dnsConfig.provider} ${dnsConfig.record} (ttl ${dnsConfig.ttl}s)`);
  }
  if (flags.events) lines.push(`  events      ${flags.events}`);
  lines.push('Press Ctrl-C to stop.');
  return lines.join('\n');
}

/** Resolves on the first SIGINT or SIGTERM. */
function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function frontDoorUrl(spec: Spec, override?: string): string {
  if (override) return baseUrlFlag('--url', override);
  const { host, port } = spec.failover.frontDoor;
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host;
  return `http://${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${port}`;
}

/** The status a running controller reports, or undefined when none answers there. */
export async function fetchStatus(url: string): Promise<FailoverStatus | undefined> {
  try {
    const res = await fetch(`${url}/_mcml/status`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as FailoverStatus;
    return Array.isArray(body.targets) ? body : undefined;
  } catch {
    return undefined;
  }
}

function renderStatus(status: FailoverStatus, source: string, color: boolean): string {
  const stateStyle = (s: string) =>
    s === 'healthy' ? 'green' : s === 'unhealthy' ? 'red' : s === 'unknown' ? 'gray' : 'yellow';
  const table = renderTable<TargetReport>(status.targets, [
    { header: 'TARGET', value: (t) => (t.active ? paint('bold', `${t.name} *`, color) : t.name) },
    { header: 'TIER', value: (t) => String(t.tier), align: 'right' },
    {
      header: 'STATE',
      value: (t) => paint(stateStyle(t.state), t.disabled ? `${t.state} (out)` : t.state, color),
    },
    { header: 'LAST CHECK', value: (t) => (t.lastCheck ? t.lastCheck.slice(11, 19) : '-') },
    {
      header: 'LATENCY',
      value: (t) => (t.latencyMs === undefined ? '-' : `${t.latencyMs.toFixed(1)} ms`),
      align: 'right',
    },
    { header: 'ENDPOINT', value: (t) => t.endpoint },
    { header: 'ERROR', value: (t) => t.lastError ?? '' },
  ]);
  const head = `active: ${paint('bold', status.active ?? 'none', color)}   routing: ${status.routing}   failback: ${status.failback}   (${source})`;
  const dns = status.dns
    ? `\ndns: ${status.dns.provider} ${status.dns.record} → ${status.dns.values?.join(', ') ?? '?'}${status.dns.lastError ? `  error: ${status.dns.lastError}` : ''}`
    : '';
  return `${head}\n${table}${dns}\n`;
}

/** `mcml failover status`: from the running controller, or one check of every target. */
export async function runFailoverStatus(flags: FailoverStatusFlags): Promise<void> {
  const { spec, plan } = await loadPlan(flags.file);
  const url = frontDoorUrl(spec, flags.url);
  let status = await fetchStatus(url);
  let source = `controller at ${redactUrl(url)}`;
  if (!status) {
    if (flags.url) {
      throw new McmlError(
        'UNAVAILABLE',
        `no failover controller answers at ${redactUrl(url)}/_mcml/status`,
        {
          hint: 'start one with "mcml failover run", or omit --url for a one-shot check',
        },
      );
    }
    source = 'one-shot check: no controller running';
    status = await oneShot(plan);
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    return;
  }
  process.stdout.write(renderStatus(status, source, useColor()));
}

async function oneShot(plan: FailoverPlan): Promise<FailoverStatus> {
  const now = new Date().toISOString();
  const results = await Promise.all(plan.targets.map((t) => checkTarget(t, plan.timeoutMs)));
  const targets: TargetReport[] = plan.targets.map((t, i) => {
    const r = results[i]!;
    return {
      name: t.name,
      tier: t.tier,
      endpoint: t.endpoint,
      jurisdiction: t.jurisdiction,
      state: r.ok ? 'healthy' : 'unhealthy',
      disabled: false,
      active: false,
      lastCheck: now,
      lastCheckOk: r.ok,
      latencyMs: r.latencyMs === undefined ? undefined : Math.round(r.latencyMs * 100) / 100,
      lastError: r.error,
    };
  });
  const best = targets.filter((t) => t.lastCheckOk).sort((a, b) => a.tier - b.tier)[0];
  if (best) best.active = true;
  return {
    active: best?.name,
    routing: plan.config.routing,
    mode: plan.config.mode,
    failback: plan.config.failback,
    frontDoor: undefined,
    dns: undefined,
    targets,
  };
}
