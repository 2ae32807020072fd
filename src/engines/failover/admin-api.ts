/**
 * The failover controller's admin API under /_mcml/: status, events and metrics to read;
 * fail (with a lease), restore and failback to act, behind a bearer token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McmlError } from '../../core/errors.js';
import { durationMs } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { EventLog } from './events.js';
import type { FailoverMetrics } from './metrics.js';

/** What the admin API reads and drives. */
export interface AdminControls {
  status(): unknown;
  fail(target: string, options?: { leaseMs?: number }): void;
  restore(target: string): void;
  failback(): void;
}

export interface AdminApiOptions {
  controls: AdminControls;
  events: EventLog;
  metrics: FailoverMetrics;
  clock: Clock;
  /** Without one, admin actions answer 403 naming `tokenEnv`. */
  adminToken: string | undefined;
  tokenEnv: string;
}

/** The /_mcml/* handler the front door calls. */
export function adminApi(o: AdminApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const send = (code: number, body: unknown, type = 'application/json') => {
      const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
      res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method === 'GET' && path === '/_mcml/status') return send(200, o.controls.status());
    if (req.method === 'GET' && path === '/_mcml/events') return send(200, o.events.tail(100));
    if (req.method === 'GET' && path === '/_mcml/metrics') {
      o.metrics.registry
        .metrics()
        .then((text) => send(200, text, o.metrics.registry.contentType))
        .catch(() => send(500, { error: 'metrics_failed' }));
      return;
    }
    const m = /^\/_mcml\/(?:targets\/([^/]+)\/(fail|restore)|(failback))$/.exec(path);
    if (!m || req.method !== 'POST') return send(404, { error: 'not_found' });
    req.resume();
    if (!o.adminToken) {
      return send(403, {
        error: 'admin_disabled',
        message: `admin actions are off: start the controller with ${o.tokenEnv} set`,
      });
    }
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!tokensEqual(given, o.adminToken)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(401, { error: 'unauthorized', message: 'missing or wrong bearer token' });
    }
    try {
      act(o, req, m);
      return send(200, o.controls.status());
    } catch (error) {
      const e = error instanceof McmlError ? error : undefined;
      const code = e?.code === 'CONFLICT' ? 409 : e?.code === 'INVALID_ARGUMENT' ? 400 : 404;
      const name = code === 409 ? 'conflict' : code === 400 ? 'bad_request' : 'not_found';
      return send(code, { error: name, message: (error as Error).message });
    }
  };
}

/** Runs the action the path names and records it. */
function act(o: AdminApiOptions, req: IncomingMessage, m: RegExpExecArray): void {
  const target = m[1] === undefined ? undefined : decodeTarget(m[1]);
  const lease = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('lease');
  const leaseMs = lease === null ? undefined : parseLease(lease);
  if (m[3]) o.controls.failback();
  else if (m[2] === 'fail') o.controls.fail(target!, leaseMs === undefined ? {} : { leaseMs });
  else o.controls.restore(target!);
  o.events.record('admin', o.clock.now(), {
    action: m[3] ?? m[2],
    target,
    ...(leaseMs === undefined ? {} : { leaseMs }),
  });
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function decodeTarget(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new McmlError(
      'INVALID_ARGUMENT',
      'the target name in the path is not valid percent-encoding',
    );
  }
}

/** A lease from the admin API: a duration ("15s", "500ms"), at most a day. */
function parseLease(text: string): number {
  let ms: number;
  try {
    ms = durationMs(text);
  } catch {
    ms = Number.NaN;
  }
  if (!Number.isFinite(ms) || ms <= 0 || ms > 86_400_000) {
    throw new McmlError('INVALID_ARGUMENT', 'lease must be a duration such as 15s, at most 24h');
  }
  return ms;
}
