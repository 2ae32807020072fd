/** Cluster, failover and rollout events as lines of the dashboard's timeline. */
import type { ClusterEvent } from '../../adapters/local/local-cluster.js';
import type { DeployEvent } from '../../engines/deploy/index.js';
import type { FailoverLogEntry } from '../../engines/failover/index.js';
import type { EventView } from '../dashboard/state.js';

export function clusterEventView(e: ClusterEvent): EventView {
  const level: EventView['level'] =
    e.type === 'replica-exited'
      ? 'error'
      : e.type === 'replica-timeout' || e.type === 'replica-unready' || e.type === 'rollout-failed'
        ? 'warn'
        : e.type === 'replica-ready' || e.type === 'rollout-finished'
          ? 'ok'
          : 'info';
  return {
    at: e.time,
    kind: e.type === 'scaled' ? 'scale' : 'replica',
    level,
    target: e.target,
    message: e.message,
  };
}

/** Maps the failover event log to timeline lines; returns undefined for noise. */
export function failoverEventView(entry: FailoverLogEntry): EventView | undefined {
  const at = Date.parse(entry.time);
  switch (entry.type) {
    case 'state':
      return healthChangeView(entry, at);
    case 'active':
      return activeChangeView(entry, at);
    case 'start':
      return startView(entry, at);
    case 'disabled':
    case 'enabled':
      return rotationView(entry, at);
    default:
      if (entry.type.startsWith('dns')) {
        return {
          at,
          kind: 'info',
          level: 'info',
          message: `${entry.type}: ${JSON.stringify(entry)}`,
        };
      }
      return undefined;
  }
}

/** A log entry's field as text: strings as they are, nothing as `none`, the rest as JSON. */
function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? 'none' : JSON.stringify(v);
}

/** A target's health state changed. */
function healthChangeView(entry: FailoverLogEntry, at: number): EventView {
  const to = str(entry.to);
  const level: EventView['level'] =
    to === 'unhealthy' ? 'error' : to === 'suspect' ? 'warn' : to === 'healthy' ? 'ok' : 'info';
  return {
    at,
    kind: 'health',
    level,
    target: str(entry.target),
    message: `${str(entry.target)} ${str(entry.from)} → ${to}${entry.reason ? ` (${str(entry.reason)})` : ''}`,
  };
}

/** Traffic moved to another target (or to none). */
function activeChangeView(entry: FailoverLogEntry, at: number): EventView {
  const reason = str(entry.reason);
  const level: EventView['level'] =
    reason === 'all-down' ? 'error' : reason === 'failover' || reason === 'manual' ? 'warn' : 'ok';
  const kind = reason === 'failback' ? 'failback' : 'failover';
  const text =
    reason === 'initial'
      ? `${str(entry.to)} is active`
      : `${reason}: ${str(entry.from)} → ${str(entry.to)}`;
  return { at, kind, level, ...(entry.to ? { target: str(entry.to) } : {}), message: text };
}

/** The failover loop started, with an active target or none. */
function startView(entry: FailoverLogEntry, at: number): EventView {
  return entry.active
    ? {
        at,
        kind: 'failover',
        level: 'ok',
        target: str(entry.active),
        message: `${str(entry.active)} is active`,
      }
    : { at, kind: 'failover', level: 'error', message: 'no healthy target at start' };
}

/** A person took a target out of rotation (`disabled`) or put it back (`enabled`). */
function rotationView(entry: FailoverLogEntry, at: number): EventView {
  return entry.type === 'disabled'
    ? {
        at,
        kind: 'admin',
        level: 'warn',
        target: str(entry.target),
        message: `${str(entry.target)} taken out of rotation by hand`,
      }
    : {
        at,
        kind: 'admin',
        level: 'info',
        target: str(entry.target),
        message: `${str(entry.target)} restored by hand`,
      };
}

/** A rollout event worth a timeline line (phase changes and gate results), else undefined. */
export function deployEventView(e: DeployEvent): EventView | undefined {
  switch (e.type) {
    case 'wave':
      return {
        at: e.at,
        kind: 'deploy',
        level: e.state === 'failed' ? 'error' : e.state === 'passed' ? 'ok' : 'info',
        message: `wave ${e.wave} (${e.targets.join(', ')}) ${e.state}`,
      };
    case 'phase':
      if (e.phase === 'waiting' || e.phase === 'connecting') return undefined;
      return {
        at: e.at,
        kind: 'deploy',
        level:
          e.phase === 'failed' || e.phase === 'rolled-back'
            ? 'error'
            : e.phase === 'done'
              ? 'ok'
              : e.phase === 'halted' || e.phase === 'interrupted' || e.phase === 'skipped'
                ? 'warn'
                : 'info',
        target: e.target,
        message: `${e.target} ${e.phase}: ${e.message}`,
      };
    case 'gate':
      return {
        at: e.at,
        kind: 'deploy',
        level: e.result.ok ? 'ok' : 'error',
        target: e.target,
        message: `${e.target} ${e.result.gate} gate ${e.result.ok ? 'passed' : 'failed'}: ${e.result.message}`,
      };
    default:
      return undefined;
  }
}
