/**
 * Kubernetes API failures as McmlErrors a person can act on: which target, which object, what
 * the API server said, and what to do. Input errors (credentials, RBAC, a kind the cluster
 * does not serve, conflicts, invalid objects) exit 2; an unreachable cluster exits 1.
 */
import { McmlError, type ErrorCode, type Issue } from '../../core/errors.js';
import type { ObjectRef } from '../../ports/cluster.js';
import { HttpError } from './connection.js';

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: StatusCause[] };
}

interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** What is being done when the error happens, for the message. */
export interface ErrorContext {
  target: string;
  where: string;
  /** "apply", "read", "list", "delete", … */
  verb: string;
  object?: ObjectRef;
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

function statusOf(error: unknown): { code: number; status: StatusBody } | undefined {
  if (error instanceof HttpError) {
    let status: StatusBody;
    try {
      const parsed = JSON.parse(error.body) as unknown;
      status = parsed && typeof parsed === 'object' ? parsed : {};
    } catch {
      status = error.body.trim() === '' ? {} : { message: error.body.slice(0, 300) };
    }
    return { code: error.statusCode, status };
  }
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof code === 'number') return { code, status: { message: (error as Error).message } };
  return undefined;
}

/** The network-level cause of a failed request (ECONNREFUSED, ETIMEDOUT, an abort), if any. */
function networkCause(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e; depth++) {
    const err = e as { code?: unknown; name?: unknown; type?: unknown; message?: unknown };
    if (typeof err.code === 'string' && /^E[A-Z]+/.test(err.code)) return err.code;
    if (err.name === 'AbortError' || err.type === 'aborted') return 'timed out';
    if (err.name === 'TimeoutError') return 'timed out';
    if (typeof err.message === 'string' && /certificate|self[- ]signed|TLS/i.test(err.message)) {
      return `TLS: ${err.message}`;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Maps anything a Kubernetes call throws to an McmlError. */
export function kubeError(error: unknown, ctx: ErrorContext): McmlError {
  if (error instanceof McmlError) return error;
  const who = `target "${ctx.target}" (${ctx.where})`;
  const obj = ctx.object ? describeRef(ctx.object) : undefined;
  const details = { target: ctx.target, ...(ctx.object ? { object: ctx.object } : {}) };
  const unknownKind = /Unrecognized API version and kind: (\S+) (\S+)/.exec(
    error instanceof Error ? error.message : '',
  );
  if (unknownKind) {
    return new McmlError(
      'NOT_FOUND',
      `${who}: the cluster does not serve ${unknownKind[1]} ${unknownKind[2]}${obj ? ` (needed by ${obj})` : ''}`,
      {
        hint: 'install the CustomResourceDefinition (or the operator that brings it) on that cluster first, or remove the object from the manifests',
        details,
      },
    );
  }
  const http = statusOf(error);
  if (http) return statusError(http.code, http.status, who, obj, ctx, details, error);
  const network = networkCause(error);
  if (network) {
    return new McmlError('PROVIDER_UNAVAILABLE', `${who} does not answer: ${network}`, {
      hint: 'check that the cluster is up and reachable from here (VPN, API server allow-list), then run again',
      details,
      cause: error,
    });
  }
  return new McmlError(
    'PROVIDER_UNAVAILABLE',
    `${who}: ${ctx.verb}${obj ? ` ${obj}` : ''} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    { details, cause: error },
  );
}

/** Builds one status failure's McmlError, with the HTTP status, reason and cause attached. */
type MakeError = (code: ErrorCode, message: string, hint?: string, issues?: Issue[]) => McmlError;

/** A refused request, in the words its messages are made of. */
interface Refusal {
  who: string;
  obj: string | undefined;
  /** ` <object>`, or nothing. */
  what: string;
  /** What the API server said. */
  said: string;
  verb: string;
  make: MakeError;
}

function statusError(
  code: number,
  status: StatusBody,
  who: string,
  obj: string | undefined,
  ctx: ErrorContext,
  details: Record<string, unknown>,
  cause: unknown,
): McmlError {
  const said = status.message ?? `HTTP ${code}`;
  const what = obj ? ` ${obj}` : '';
  const make: MakeError = (errorCode, message, hint, issues) =>
    new McmlError(errorCode, message, {
      details: { ...details, status: code, reason: status.reason },
      ...(hint ? { hint } : {}),
      ...(issues ? { issues } : {}),
      cause,
    });
  const refusal: Refusal = { who, obj, what, said, verb: ctx.verb, make };
  const causes = status.details?.causes ?? [];
  switch (code) {
    case 401:
      return make(
        'PROVIDER_AUTH',
        `${who} refused the credentials (401 Unauthorized)`,
        'the token or certificate in the kubeconfig is wrong or expired: refresh it (e.g. "aws eks update-kubeconfig", "gcloud container clusters get-credentials", "az aks get-credentials")',
      );
    case 403:
      return make(
        'PERMISSION_DENIED',
        `${who}: not allowed to ${ctx.verb}${what}: ${said}`,
        'grant the identity in the kubeconfig this verb on that kind (a Role/ClusterRole binding), or deploy with an identity that has it',
      );
    case 404:
      return make('NOT_FOUND', `${who}: ${ctx.verb}${what}: ${said}`);
    case 409:
      return conflictError(refusal, causes);
    case 400:
    case 422:
      return invalidObjectError(refusal, causes);
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return make(
        'PROVIDER_UNAVAILABLE',
        `${who}: the API server failed to ${ctx.verb}${what}: ${said}`,
        'the cluster is overloaded or unwell; run again',
      );
    default:
      return make('PROVIDER_UNAVAILABLE', `${who}: ${ctx.verb}${what}: HTTP ${code}: ${said}`);
  }
}

/** 409: fields another field manager owns (server-side apply), or a plain conflict. */
function conflictError(r: Refusal, causes: StatusCause[]): McmlError {
  if (causes.some((c) => c.reason === 'FieldManagerConflict')) {
    return r.make(
      'CONFLICT',
      `${r.who}: ${r.obj ?? 'an object'} has ${causes.length} field${causes.length === 1 ? '' : 's'} managed by another tool`,
      'mcml does not take fields silently: pass --force-conflicts to take them over, or remove them from the other tool (kubectl edit, an operator, an HPA) first',
      causes.map((c) => ({
        path: c.field ?? '?',
        message: (c.message ?? 'conflict').replace(/^conflict with/, 'managed by'),
      })),
    );
  }
  return r.make('CONFLICT', `${r.who}: ${r.verb}${r.what}: ${r.said}`, 'run again');
}

/** 400 and 422: an object the cluster refuses, one issue per field it names. */
function invalidObjectError(r: Refusal, causes: StatusCause[]): McmlError {
  const immutable = causes.some((c) => /immutable/.test(c.message ?? ''));
  return r.make(
    'INVALID_ARGUMENT',
    `${r.who}: the cluster refuses${r.what}: ${r.said}`,
    immutable
      ? 'an immutable field cannot change in place: delete the object on that cluster (kubectl delete) and deploy again, or keep the old value'
      : 'fix the manifests (mcml render shows them) and deploy again',
    causes.map((c) => ({ path: c.field ?? '?', message: c.message ?? '' })),
  );
}
