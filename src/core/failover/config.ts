/**
 * From a spec to what the failover machine and engines need: target order, thresholds,
 * probe URLs, DNS settings. Pure; every problem is reported as an input error (exit 2).
 */
import { McmlError, type Issue } from '../errors.js';
import { durationMs, type Failover, type Spec, type Target } from '../spec/index.js';
import type { MachineConfig, TargetRef } from './machine.js';
import { ADMIN_TOKEN_ENV_HINT, adminTokenEnvProblem } from './secrets.js';

/** A target as the failover engines use it. */
export interface FailoverTarget extends TargetRef {
  /** Base URL the front door proxies to (no trailing slash). */
  endpoint: string;
  /** Full URLs probed by active health checks. */
  probes: string[];
  /** Probes that must pass for the check to pass. */
  quorum: number;
  provider: Target['provider'];
  /** The cloud it runs in for metrics: the provider, or what a local target emulates. */
  cloud: string;
  region: string;
}

/** Everything the failover engines need, derived from the spec. */
export interface FailoverPlan {
  targets: FailoverTarget[];
  machine: MachineConfig;
  intervalMs: number;
  timeoutMs: number;
  upstreamTimeoutMs: number;
  config: Failover;
}

/** Maps a target to its jurisdiction (e.g. "eu"); injected so the catalog can supply it. */
export type JurisdictionOf = (target: Pick<Target, 'provider' | 'region'>) => string | undefined;

/**
 * Builds the failover plan. Targets without an endpoint cannot be health-checked or proxied
 * to: they are an input error, as are DNS settings missing what their provider needs.
 */
export function planFailover(spec: Spec, jurisdictionOf: JurisdictionOf): FailoverPlan {
  const f = spec.failover;
  const issues: Issue[] = [];
  const path = f.check.path ?? spec.service.healthPath;
  if (!path.startsWith('/')) {
    issues.push({ path: 'failover.check.path', message: `health path must start with "/"` });
  }
  const targets = failoverTargets(spec, path, jurisdictionOf, issues);
  issues.push(
    ...duplicateNameIssues(spec),
    ...residencyIssues(f, targets),
    ...adminTokenIssues(f),
    ...modeIssues(f),
  );
  const intervalMs = durationMs(f.check.interval);
  const timeoutMs = durationMs(f.check.timeout);
  if (intervalMs <= 0) issues.push({ path: 'failover.check.interval', message: 'must be > 0' });
  if (timeoutMs <= 0) issues.push({ path: 'failover.check.timeout', message: 'must be > 0' });
  if (issues.length > 0) {
    throw new McmlError('SPEC_INVALID', `invalid failover configuration`, { issues });
  }
  return {
    targets,
    intervalMs,
    timeoutMs,
    upstreamTimeoutMs: durationMs(f.frontDoor.upstreamTimeout),
    config: f,
    machine: machineConfig(f),
  };
}

/**
 * Each target with an endpoint, its probes (the endpoint's health path unless the spec lists
 * them) and their quorum; a target without an endpoint, or a quorum above its probes, is an
 * issue.
 */
function failoverTargets(
  spec: Spec,
  path: string,
  jurisdictionOf: JurisdictionOf,
  issues: Issue[],
): FailoverTarget[] {
  const f = spec.failover;
  const targets: FailoverTarget[] = [];
  spec.targets.forEach((t, i) => {
    if (!t.endpoint && !(t.probes && t.probes.length > 0)) {
      issues.push({
        path: `targets[${i}].endpoint`,
        message: `target "${t.name}" has no endpoint to health-check and route to`,
        hint: 'set endpoint: https://… (the public URL of its service)',
      });
      return;
    }
    if (!t.endpoint) {
      issues.push({
        path: `targets[${i}].endpoint`,
        message: `target "${t.name}" has probes but no endpoint to route traffic to`,
        hint: 'set endpoint: https://…',
      });
      return;
    }
    const endpoint = t.endpoint.replace(/\/+$/, '');
    const probes = t.probes && t.probes.length > 0 ? t.probes : [endpoint + path];
    const quorum = f.check.quorum ?? Math.floor(probes.length / 2) + 1;
    if (quorum > probes.length) {
      issues.push({
        path: 'failover.check.quorum',
        message: `quorum ${quorum} is more than the ${probes.length} probe(s) of target "${t.name}"`,
      });
    }
    targets.push({
      name: t.name,
      tier: t.tier ?? i + 1,
      weight: t.weight,
      jurisdiction: jurisdictionOf(t),
      endpoint,
      probes,
      quorum: Math.min(quorum, probes.length),
      provider: t.provider,
      cloud: t.emulates ?? t.provider,
      region: t.region,
    });
  });
  return targets;
}

/** Target names identify targets in metrics, routes and records: each once. */
function duplicateNameIssues(spec: Spec): Issue[] {
  const issues: Issue[] = [];
  const names = new Set<string>();
  spec.targets.forEach((t, i) => {
    if (names.has(t.name)) {
      issues.push({ path: `targets[${i}].name`, message: `duplicate target name "${t.name}"` });
    }
    names.add(t.name);
  });
  return issues;
}

/** Residency routing must know every target's jurisdiction. */
function residencyIssues(f: Failover, targets: readonly FailoverTarget[]): Issue[] {
  if (f.routing !== 'residency') return [];
  const unknown = targets.filter((t) => t.jurisdiction === undefined).map((t) => t.name);
  if (unknown.length === 0) return [];
  return [
    {
      path: 'failover.routing',
      message: `residency routing needs the jurisdiction of every target; unknown for ${unknown.join(', ')}`,
      hint: 'check the region names of those targets',
    },
  ];
}

/** A mode with DNS records needs a complete dns section. */
function modeIssues(f: Failover): Issue[] {
  if (f.mode === 'front-door') return [];
  if (f.dns) return dnsIssues(f.dns);
  return [
    {
      path: 'failover.dns',
      message: `mode "${f.mode}" needs a dns section`,
      hint: 'add failover.dns with provider, zone and record, or use mode: front-door',
    },
  ];
}

/** The state machine's thresholds and policies from the spec. */
function machineConfig(f: Failover): MachineConfig {
  return {
    failureThreshold: f.check.failureThreshold,
    successThreshold: f.check.successThreshold,
    stablePeriodMs: durationMs(f.stablePeriod),
    failback: f.failback,
    routing: f.routing,
    passiveThreshold: f.outlier.consecutiveErrors,
    maxEjectionPercent: f.outlier.maxEjectionPercent,
  };
}

function adminTokenIssues(f: Failover): Issue[] {
  const tsig = f.dns?.provider === 'rfc2136' ? f.dns.tsigSecretEnv : undefined;
  const problem = adminTokenEnvProblem(f.frontDoor.adminTokenEnv, tsig);
  if (problem === undefined) return [];
  return [
    { path: 'failover.frontDoor.adminTokenEnv', message: problem, hint: ADMIN_TOKEN_ENV_HINT },
  ];
}

/** A URL without its user:password part, for status, events and messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1');
}

function dnsIssues(dns: NonNullable<Failover['dns']>): Issue[] {
  const need = (field: keyof typeof dns, why: string): Issue[] =>
    dns[field] === undefined || dns[field] === ''
      ? [{ path: `failover.dns.${field}`, message: `${dns.provider} needs ${field}: ${why}` }]
      : [];
  switch (dns.provider) {
    case 'rfc2136':
      return [
        ...need('server', 'the name server that accepts updates, host:port'),
        ...need('tsigKeyName', 'the TSIG key the server allows to update the zone'),
      ];
    case 'clouddns':
      return need('project', 'the GCP project that owns the managed zone');
    case 'azuredns':
      return [
        ...need('resourceGroup', 'the resource group of the DNS zone'),
        ...need('subscriptionId', 'the Azure subscription id'),
      ];
    case 'route53':
      return [];
  }
}

/** The DNS record value for a target: its endpoint's host, as A/AAAA for IPs, CNAME otherwise. */
export function dnsValueFor(endpoint: string): { type: 'A' | 'AAAA' | 'CNAME'; value: string } {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return { type: 'A', value: host };
  if (host.includes(':')) return { type: 'AAAA', value: host };
  return { type: 'CNAME', value: host.replace(/\.$/, '') };
}
