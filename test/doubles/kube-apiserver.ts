/**
 * A double of the Kubernetes API server, speaking its HTTP wire protocol to the official client
 * (`@kubernetes/client-node`) and to the real `kubectl`: discovery (`/api`, `/apis`, resource
 * lists, OpenAPI v3 enough for kubectl's field validation check), get/list/watch/create/
 * update/patch/delete of namespaced and cluster-scoped objects, server-side apply with managed
 * fields and 409 per-field conflicts (`force` takes them), `dryRun=All`, label and field
 * selectors, `Status` error bodies (401, 403, 404, 409, 422), server-side printing (`Table`)
 * for `kubectl get`, the service proxy (`…/services/NAME:PORT/proxy/…`), and a Deployment
 * controller that moves rollouts along (see kube-controller.ts). It counts every request.
 *
 * Started in-process on a loopback port, over TLS (kubectl sends credentials over TLS only)
 * with the test certificate authority in test/fixtures/kube; `kubeconfig()` writes a config.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import {
  applyConfig,
  fieldName,
  isObject,
  managedFieldsJson,
  recordUpdate,
  sameManagers,
  str,
  type Json,
  type JsonObject,
  type Manager,
} from './kube-apply.js';
import { DeploymentController, type ControllerOptions } from './kube-controller.js';
import {
  BUILTIN_RESOURCES,
  groupList,
  groupOf,
  groupVersion,
  resourceList,
  aggregatedList,
  AGGREGATED_DISCOVERY,
  type ResourceType,
} from './kube-resources.js';
import { openApiDocument, openApiRoot } from './kube-openapi.js';

export interface KubeApiOptions extends ControllerOptions {
  /** false: no aggregated discovery, as a server before Kubernetes 1.26 (default true). */
  aggregatedDiscovery?: boolean;
  /** Bearer token the server accepts (default: a random one; see `token`). */
  token?: string;
  /** Name of the cluster (for kubeconfig). */
  name?: string;
  /** A shared log, to see the order of requests across several doubles. */
  log?: RequestRecord[];
  /**
   * Built-in kinds this cluster does not serve ("autoscaling/v2/HorizontalPodAutoscaler"): an
   * older cluster, or a kind whose CustomResourceDefinition is not installed.
   */
  withoutKinds?: string[];
}

export interface RequestRecord {
  cluster: string;
  method: string;
  path: string;
  query: string;
  status?: number;
  at: number;
}

interface Stored {
  type: ResourceType;
  object: JsonObject;
  managers: Manager[];
}

interface Watcher {
  type: ResourceType;
  namespace: string | undefined;
  matches: (o: JsonObject) => boolean;
  res: ServerResponse;
}

interface Change {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: ResourceType;
  object: JsonObject;
}

export interface ServiceResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export type ServiceHandler = (req: {
  method: string;
  path: string;
  body: string;
  headers: Record<string, string>;
}) => ServiceResponse | Promise<ServiceResponse>;

export interface KubeApiDouble {
  name: string;
  /** https://127.0.0.1:PORT */
  server: string;
  token: string;
  requests: RequestRecord[];
  /** TLS connections clients have opened so far. */
  connections(): number;
  controller: DeploymentController;
  /** A kubeconfig document (YAML) with one context named `context` (default: the name). */
  kubeconfig(context?: string): string;
  /** An object as stored (with managedFields), or undefined. */
  get(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): JsonObject | undefined;
  /** Every stored object of a kind. */
  list(apiVersion: string, kind: string, namespace?: string): JsonObject[];
  /** Writes an object as another field manager would (kubectl edit, an operator, …). */
  put(object: JsonObject, manager?: string): JsonObject;
  /** Answers `verb` on `resource` with 403 (RBAC says no). */
  forbid(verb: string, resource: string): void;
  /**
   * Closes the connection of the next `count` requests (of `method`, if given) without an
   * answer, as a server does with a kept-alive connection it has just timed out.
   */
  dropNext(count: number, method?: string | ((request: RequestRecord) => boolean)): void;
  /** Answers every request `ms` late from now on, as a cluster far away does (0: at once). */
  latency(ms: number): void;
  /** Lifts a `forbid`. */
  allow(verb: string, resource: string): void;
  /** Installs a CustomResourceDefinition's kind. */
  installKind(type: Omit<ResourceType, 'singular'>): void;
  /** Routes the service proxy of namespace/name to a handler. */
  routeService(namespace: string, name: string, handler: ServiceHandler): void;
  stop(): Promise<void>;
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'kube');
const TLS = {
  key: readFileSync(join(FIXTURES, 'server.key')),
  cert: readFileSync(join(FIXTURES, 'server.crt')),
};
/** The certificate authority of the doubles' serving certificate, PEM. */
export const KUBE_CA = readFileSync(join(FIXTURES, 'ca.crt'), 'utf8');

const STATUS_REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  503: 'ServiceUnavailable',
};

function sendStatus(
  res: ServerResponse,
  code: number,
  message: string,
  details?: JsonObject,
  reason = STATUS_REASONS[code] ?? 'InternalError',
): void {
  sendJson(res, code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-cache, private',
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

const resourceName = (t: ResourceType) => (t.group === '' ? t.plural : `${t.plural}.${t.group}`);

/** `app=x,tier!=y,env in (a,b),!legacy,owned`, as label selectors read. */
export function labelMatcher(selector: string | null): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const terms = selector.match(/(?:[^,(]|\([^)]*\))+/g) ?? [];
  const tests = terms.map((raw) => {
    const term = raw.trim();
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      const key = m[1]!;
      return m[2] === 'in'
        ? (l: Record<string, string>) => l[key] !== undefined && values.includes(l[key])
        : (l: Record<string, string>) => l[key] === undefined || !values.includes(l[key]);
    }
    m = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m;
      return op === '!='
        ? (l: Record<string, string>) => l[key!] !== value
        : (l: Record<string, string>) => l[key!] === value;
    }
    if (term.startsWith('!')) return (l: Record<string, string>) => l[term.slice(1)] === undefined;
    return (l: Record<string, string>) => l[term] !== undefined;
  });
  return (labels) => tests.every((t) => t(labels));
}

function fieldMatcher(selector: string | null): (o: JsonObject) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(',').map((term) => {
    const m = /^([\w.]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!m) return () => true;
    const [, path, op, value] = m;
    return (o: JsonObject) => {
      let v: Json | undefined = o;
      for (const part of path!.split('.')) v = isObject(v) ? v[part] : undefined;
      const equal = str(v) === value;
      return op === '!=' ? !equal : equal;
    };
  });
  return (o) => tests.every((t) => t(o));
}

const meta = (o: JsonObject) => o.metadata as JsonObject;
const labelsOf = (o: JsonObject) => (meta(o).labels ?? {}) as Record<string, string>;

function age(created: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(created)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

/** Server-side printing, as `kubectl get` asks for it. */
function table(type: ResourceType, objects: JsonObject[], rv: string): object {
  const deployment = type.kind === 'Deployment';
  const columns = deployment
    ? ['Name', 'Ready', 'Up-to-date', 'Available', 'Age']
    : ['Name', 'Age'];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: rv },
    columnDefinitions: columns.map((name) => ({
      name,
      type: name === 'Name' || name === 'Age' || name === 'Ready' ? 'string' : 'integer',
      format: name === 'Name' ? 'name' : '',
      description: name,
      priority: 0,
    })),
    rows: objects.map((o) => {
      const m = meta(o);
      const status = (o.status ?? {}) as JsonObject;
      const spec = (o.spec ?? {}) as JsonObject;
      const cells = deployment
        ? [
            m.name,
            `${Number(status.readyReplicas ?? 0)}/${Number(spec.replicas ?? 1)}`,
            Number(status.updatedReplicas ?? 0),
            Number(status.availableReplicas ?? 0),
            age(str(m.creationTimestamp)),
          ]
        : [m.name, age(str(m.creationTimestamp))];
      return {
        cells,
        object: {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: { ...m, managedFields: undefined },
        },
      };
    }),
  };
}

/** Starts a double on a random loopback port. */
export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApiDouble> {
  const name = options.name ?? 'kube';
  const token = options.token ?? randomUUID().replace(/-/g, '');
  const types = BUILTIN_RESOURCES.filter(
    (t) => !(options.withoutKinds ?? []).includes(`${groupVersion(t)}/${t.kind}`),
  );
  const store = new Map<string, Stored>();
  const requests: RequestRecord[] = [];
  const history: Change[] = [];
  const watchers = new Set<Watcher>();
  const forbidden = new Set<string>();
  let drops: { count: number; method: string | ((r: RequestRecord) => boolean) | undefined } = {
    count: 0,
    method: undefined,
  };
  const services = new Map<string, ServiceHandler>();
  let rv = 100;
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  const keyOf = (t: ResourceType, ns: string | undefined, n: string) =>
    `${groupVersion(t)}/${t.plural}/${ns ?? ''}/${n}`;
  const typeByKind = (apiVersion: string, kind: string) =>
    types.find((t) => groupVersion(t) === apiVersion && t.kind === kind);

  /**
   * An object as the API returns it (with managedFields). Shallow: a stored object is never
   * changed after it is saved (every write stores a new one), and what this returns is
   * serialised at once or kept for watches; `snapshot` is the deep copy handed to tests.
   */
  const render = (s: Stored): JsonObject => ({
    ...s.object,
    metadata: { ...meta(s.object), managedFields: managedFieldsOf(s.managers) },
  });
  const snapshot = (s: Stored): JsonObject => structuredClone(render(s));

  const notify = (type: Change['type'], resource: ResourceType, object: JsonObject) => {
    history.push({ rv, type, resource, object });
    if (history.length > 2000) history.splice(0, history.length - 2000);
    for (const w of watchers) {
      if (w.type !== resource) continue;
      if (w.namespace !== undefined && meta(object).namespace !== w.namespace) continue;
      if (!w.matches(object)) continue;
      w.res.write(JSON.stringify({ type, object }) + '\n');
    }
  };

  const save = (s: Stored, type: 'ADDED' | 'MODIFIED') => {
    rv += 1;
    meta(s.object).resourceVersion = String(rv);
    store.set(
      keyOf(s.type, meta(s.object).namespace as string | undefined, str(meta(s.object).name)),
      s,
    );
    notify(type, s.type, render(s));
  };

  const remove = (s: Stored) => {
    const m = meta(s.object);
    store.delete(keyOf(s.type, m.namespace as string | undefined, str(m.name)));
    rv += 1;
    notify('DELETED', s.type, {
      ...render(s),
      metadata: { ...(render(s).metadata as JsonObject), resourceVersion: String(rv) },
    });
    if (s.type.kind === 'Namespace') {
      for (const other of [...store.values()]) {
        if (meta(other.object).namespace === m.name) remove(other);
      }
    }
  };

  const deploymentsType = types.find((t) => t.kind === 'Deployment')!;
  const eventsType = types.find((t) => t.kind === 'Event')!;
  const controller = new DeploymentController(
    {
      get: (ns, n) => store.get(keyOf(deploymentsType, ns, n))?.object,
      writeStatus: (ns, n, status) => {
        const s = store.get(keyOf(deploymentsType, ns, n));
        if (!s) return;
        const before = s.object;
        const after = { ...structuredClone(before), status };
        s.managers = recordUpdate({
          before,
          after,
          managers: s.managers,
          manager: 'kube-controller-manager',
          apiVersion: 'apps/v1',
          subresource: 'status',
          now: now(),
        });
        s.object = after;
        save(s, 'MODIFIED');
      },
      event: ({ namespace, involved, type, reason, message }) => {
        const name = `${involved.name}.${(rv + 1).toString(16)}`;
        const object: JsonObject = {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace, uid: randomUUID(), creationTimestamp: now() },
          involvedObject: { ...involved, namespace },
          reason,
          message,
          type,
          source: { component: involved.kind === 'Pod' ? 'kubelet' : 'deployment-controller' },
          firstTimestamp: now(),
          lastTimestamp: now(),
          count: 1,
        };
        save({ type: eventsType, object, managers: [] }, 'ADDED');
      },
    },
    options,
  );

  /** Defaults the API server fills in, and the checks it makes. */
  const admit = (
    type: ResourceType,
    object: JsonObject,
    previous: JsonObject | undefined,
  ): { code: number; message: string; details?: JsonObject } | undefined => {
    const m = meta(object);
    if (!previous) {
      m.uid = randomUUID();
      m.creationTimestamp = now();
      m.generation = 1;
    } else {
      const pm = meta(previous);
      m.uid = pm.uid!;
      m.creationTimestamp = pm.creationTimestamp!;
      const strip = (o: JsonObject) => {
        const { metadata: _m, status: _s, ...rest } = o;
        return rest;
      };
      m.generation =
        Number(pm.generation ?? 1) + (isDeepStrictEqual(strip(previous), strip(object)) ? 0 : 1);
    }
    const spec = isObject(object.spec) ? object.spec : undefined;
    if (type.kind === 'Deployment' && spec) {
      spec.replicas ??= 1;
      spec.progressDeadlineSeconds ??= 600;
      spec.revisionHistoryLimit ??= 10;
      const prevSelector = previous && (previous.spec as JsonObject).selector;
      if (prevSelector !== undefined && !isDeepStrictEqual(prevSelector, spec.selector)) {
        return immutable(type, str(m.name), 'spec.selector', spec.selector ?? null);
      }
    }
    if (type.kind === 'Service' && spec) {
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      for (const p of (spec.ports ?? []) as JsonObject[]) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port!;
      }
      const prevIp = previous && (previous.spec as JsonObject).clusterIP;
      if (spec.clusterIP === undefined)
        spec.clusterIP = prevIp ?? `10.96.${(rv >> 8) & 255}.${rv & 255}`;
      if (prevIp !== undefined && spec.clusterIP !== prevIp) {
        return immutable(type, str(m.name), 'spec.clusterIP', spec.clusterIP);
      }
      spec.clusterIPs = [spec.clusterIP];
    }
    if (type.kind === 'Namespace') {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
    }
    return undefined;
  };

  const immutable = (type: ResourceType, objectName: string, field: string, value: Json) => {
    const message = `Invalid value: ${JSON.stringify(value)}: field is immutable`;
    return {
      code: 422,
      message:
        `${type.kind}.${type.group || 'core'} "${objectName}" is invalid: ${field}: ${message}`.replace(
          '.core "',
          ' "',
        ),
      details: {
        name: objectName,
        group: type.group,
        kind: type.kind,
        causes: [{ reason: 'FieldValueInvalid', message, field }],
      },
    };
  };

  const namespaceExists = (ns: string) =>
    store.has(
      keyOf(
        types.find((t) => t.kind === 'Namespace')!,
        undefined,
        ns,
      ),
    );

  /** Writes of objects: apply, merge patch, update and create share this ending. */
  const write = (
    res: ServerResponse,
    type: ResourceType,
    ns: string | undefined,
    objectName: string,
    next: { object: JsonObject; managers: Manager[] },
    previous: Stored | undefined,
    dryRun: boolean,
    created: boolean,
  ) => {
    const object = next.object;
    meta(object).name = objectName;
    if (type.namespaced) meta(object).namespace = ns!;
    object.apiVersion = groupVersion(type);
    object.kind = type.kind;
    if (previous?.object.status !== undefined && object.status === undefined) {
      object.status = structuredClone(previous.object.status);
    }
    const problem = admit(type, object, previous?.object);
    if (problem) return sendStatus(res, problem.code, problem.message, problem.details);
    const stored: Stored = { type, object, managers: next.managers };
    if (dryRun) {
      meta(object).resourceVersion = previous ? str(meta(previous.object).resourceVersion) : '';
      return sendJson(res, created ? 201 : 200, render(stored));
    }
    const unchanged =
      previous &&
      isDeepStrictEqual(
        { ...previous.object, metadata: { ...meta(previous.object), resourceVersion: '' } },
        { ...object, metadata: { ...meta(object), resourceVersion: '' } },
      ) &&
      sameManagers(previous.managers, next.managers);
    if (unchanged) return sendJson(res, 200, render(previous));
    save(stored, created ? 'ADDED' : 'MODIFIED');
    if (type.kind === 'Deployment') controller.changed(ns!, objectName, previous?.object);
    sendJson(res, created ? 201 : 200, render(stored));
  };

  const handleObject = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    type: ResourceType,
    ns: string | undefined,
    objectName: string | undefined,
    sub: string | undefined,
  ) => {
    const method = req.method ?? 'GET';
    const verb =
      method === 'GET'
        ? objectName
          ? 'get'
          : url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1'
            ? 'watch'
            : 'list'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'PATCH'
              ? 'patch'
              : method === 'DELETE'
                ? 'delete'
                : '';
    if (forbidden.has(`${verb} ${type.plural}`) || forbidden.has(`* ${type.plural}`)) {
      const what = objectName ? `${resourceName(type)} "${objectName}"` : resourceName(type);
      return sendStatus(
        res,
        403,
        `${what} is forbidden: User "system:serviceaccount:ci:mcml-deployer" cannot ${verb} resource "${type.plural}" in API group "${type.group}"${type.namespaced && ns ? ` in the namespace "${ns}"` : ''}`,
        { ...(objectName ? { name: objectName } : {}), group: type.group, kind: type.plural },
      );
    }
    if (type.namespaced && ns === undefined && (method !== 'GET' || objectName)) {
      return sendStatus(res, 404, 'the server could not find the requested resource');
    }
    const dryRun = url.searchParams.get('dryRun') === 'All';
    const key = objectName ? keyOf(type, ns, objectName) : '';
    const existing = objectName ? store.get(key) : undefined;
    const notFound = () =>
      sendStatus(res, 404, `${resourceName(type)} "${objectName}" not found`, {
        name: objectName!,
        group: type.group,
        kind: type.plural,
      });

    if (sub === 'proxy' && type.kind === 'Service') return proxy(req, res, ns!, objectName!, url);
    if (sub === 'status' && method === 'GET')
      return existing ? sendJson(res, 200, render(existing)) : notFound();
    if (sub !== undefined && sub !== 'status') {
      return sendStatus(res, 404, 'the server could not find the requested resource');
    }

    if (method === 'GET' && objectName) {
      if (!existing) return notFound();
      if (wantsTable(req)) return sendJson(res, 200, table(type, [existing.object], String(rv)));
      return sendJson(res, 200, render(existing));
    }
    if (method === 'GET') {
      const labels = labelMatcher(url.searchParams.get('labelSelector'));
      const fields = fieldMatcher(url.searchParams.get('fieldSelector'));
      const matches = (o: JsonObject) => labels(labelsOf(o)) && fields(o);
      const items = [...store.values()]
        .filter((s) => s.type === type && (ns === undefined || meta(s.object).namespace === ns))
        .filter((s) => matches(s.object))
        .sort((a, b) =>
          keyOf(a.type, meta(a.object).namespace as string, str(meta(a.object).name)).localeCompare(
            keyOf(b.type, meta(b.object).namespace as string, str(meta(b.object).name)),
          ),
        );
      if (verb === 'watch') return watch(req, res, url, type, ns, matches, items);
      if (wantsTable(req))
        return sendJson(
          res,
          200,
          table(
            type,
            items.map((s) => s.object),
            String(rv),
          ),
        );
      return sendJson(res, 200, {
        kind: `${type.kind}List`,
        apiVersion: groupVersion(type),
        metadata: { resourceVersion: String(rv) },
        items: items.map(render),
      });
    }
    if (method === 'DELETE') {
      if (!objectName)
        return sendStatus(res, 405, 'deletecollection is not supported by the double');
      if (!existing) return notFound();
      if (!dryRun) remove(existing);
      return sendJson(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: {
          name: objectName,
          group: type.group,
          kind: type.plural,
          uid: meta(existing.object).uid,
        },
      });
    }

    const text = await readBody(req);
    let body: JsonObject;
    try {
      const parsed = (text.trim() === '' ? {} : parseBody(text)) as Json;
      if (!isObject(parsed)) throw new Error('not an object');
      body = parsed;
    } catch (error) {
      return sendStatus(
        res,
        400,
        `the body of the request was in an unknown format: ${(error as Error).message}`,
      );
    }
    if (type.namespaced && ns && !namespaceExists(ns) && !existing) {
      return sendStatus(res, 404, `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    }
    const manager = url.searchParams.get('fieldManager') ?? userAgentManager(req);
    const bodyMeta = isObject(body.metadata) ? body.metadata : {};
    if (objectName && bodyMeta.name !== undefined && bodyMeta.name !== objectName) {
      return sendStatus(
        res,
        400,
        `the name of the object (${str(bodyMeta.name)}) does not match the name on the URL (${objectName})`,
      );
    }

    if (method === 'PATCH') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (contentType === 'application/apply-patch+yaml') {
        if (!url.searchParams.get('fieldManager')) {
          return sendStatus(
            res,
            422,
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          );
        }
        if (bodyMeta.managedFields !== undefined) {
          return sendStatus(res, 400, 'metadata.managedFields must be nil');
        }
        if (body.apiVersion !== groupVersion(type) || body.kind !== type.kind) {
          return sendStatus(
            res,
            400,
            `apiVersion/kind ${str(body.apiVersion)}/${str(body.kind)} does not match the resource ${groupVersion(type)}/${type.plural}`,
          );
        }
        if (
          existing &&
          bodyMeta.resourceVersion !== undefined &&
          bodyMeta.resourceVersion !== meta(existing.object).resourceVersion
        ) {
          return sendStatus(
            res,
            409,
            `Operation cannot be fulfilled on ${resourceName(type)} "${objectName}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        }
        const force = url.searchParams.get('force') === 'true';
        const outcome = applyConfig({
          live: existing?.object,
          managers: existing?.managers ?? [],
          config: body,
          manager,
          force,
          now: now(),
        });
        if (outcome.conflicts.length > 0) {
          const causes = outcome.conflicts.map((c) => ({
            reason: 'FieldManagerConflict',
            message: `conflict with "${c.manager}" using ${groupVersion(type)}`,
            field: fieldName(c.field),
          }));
          const summary = causes.map((c) => `${c.message}: ${c.field}`).join('\n- ');
          return sendStatus(
            res,
            409,
            `Apply failed with ${causes.length} conflict${causes.length === 1 ? '' : 's'}: ${causes.length === 1 ? summary : `\n- ${summary}`}`,
            { causes },
          );
        }
        return write(res, type, ns, objectName!, outcome, existing, dryRun, !existing);
      }
      if (!existing) return notFound();
      if (
        contentType !== 'application/merge-patch+json' &&
        contentType !== 'application/strategic-merge-patch+json'
      ) {
        return sendStatus(res, 415, `the server does not support ${contentType} in the double`);
      }
      const after = mergePatch(existing.object, body) as JsonObject;
      const managers = recordUpdate({
        before: existing.object,
        after,
        managers: existing.managers,
        manager,
        apiVersion: groupVersion(type),
        now: now(),
      });
      return write(
        res,
        type,
        ns,
        objectName!,
        { object: after, managers },
        existing,
        dryRun,
        false,
      );
    }
    if (method === 'PUT') {
      if (!existing) return notFound();
      const { managedFields: _mf, ...bodyMetaRest } = bodyMeta;
      const after: JsonObject = { ...body, metadata: bodyMetaRest };
      const managers = recordUpdate({
        before: existing.object,
        after,
        managers: existing.managers,
        manager,
        apiVersion: groupVersion(type),
        now: now(),
      });
      return write(
        res,
        type,
        ns,
        objectName!,
        { object: after, managers },
        existing,
        dryRun,
        false,
      );
    }
    if (method === 'POST') {
      const n = typeof bodyMeta.name === 'string' ? bodyMeta.name : undefined;
      if (!n)
        return sendStatus(
          res,
          422,
          `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
        );
      if (store.has(keyOf(type, ns, n))) {
        return sendStatus(
          res,
          409,
          `${resourceName(type)} "${n}" already exists`,
          { name: n, group: type.group, kind: type.plural },
          'AlreadyExists',
        );
      }
      const managers = recordUpdate({
        before: undefined,
        after: body,
        managers: [],
        manager,
        apiVersion: groupVersion(type),
        now: now(),
      });
      return write(
        res,
        type,
        ns,
        n,
        { object: structuredClone(body), managers },
        undefined,
        dryRun,
        true,
      );
    }
    return sendStatus(res, 405, `${method} is not allowed`);
  };

  const watch = (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    type: ResourceType,
    ns: string | undefined,
    matches: (o: JsonObject) => boolean,
    current: Stored[],
  ) => {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = url.searchParams.get('resourceVersion');
    if (from && from !== '0') {
      for (const c of history) {
        if (c.rv <= Number(from) || c.resource !== type) continue;
        if (ns !== undefined && meta(c.object).namespace !== ns) continue;
        if (matches(c.object)) res.write(JSON.stringify({ type: c.type, object: c.object }) + '\n');
      }
    } else {
      for (const s of current)
        res.write(JSON.stringify({ type: 'ADDED', object: render(s) }) + '\n');
    }
    const watcher: Watcher = { type, namespace: ns, matches, res };
    watchers.add(watcher);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    req.on('close', () => {
      watchers.delete(watcher);
      if (timer) clearTimeout(timer);
    });
    res.on('close', () => watchers.delete(watcher));
  };

  const proxy = async (
    req: IncomingMessage,
    res: ServerResponse,
    ns: string,
    svc: string,
    url: URL,
  ) => {
    const serviceName = svc.split(':').length === 3 ? svc.split(':')[1]! : svc.split(':')[0]!;
    const handler = services.get(`${ns}/${serviceName}`);
    if (
      !store.has(
        keyOf(
          types.find((t) => t.kind === 'Service')!,
          ns,
          serviceName,
        ),
      )
    ) {
      return sendStatus(res, 404, `services "${serviceName}" not found`, {
        name: serviceName,
        kind: 'services',
      });
    }
    if (!handler) {
      return sendStatus(res, 503, `no endpoints available for service "${serviceName}"`);
    }
    // The service segment may come percent-encoded ("web%3A80"): cut at its "/proxy".
    const cut = url.pathname.indexOf('/proxy', url.pathname.indexOf('/services/'));
    const path = (url.pathname.slice(cut + '/proxy'.length) || '/') + url.search;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const answer = await handler({
      method: req.method ?? 'GET',
      path,
      body: await readBody(req),
      headers,
    });
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body);
  };

  let connections = 0;
  let latencyMs = 0;
  const server: Server = createServer(TLS, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: RequestRecord = {
      cluster: name,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      at: performance.now(),
    };
    requests.push(record);
    options.log?.push(record);
    const dropped =
      drops.method === undefined ||
      (typeof drops.method === 'function' ? drops.method(record) : drops.method === record.method);
    if (drops.count > 0 && dropped) {
      drops.count--;
      req.socket.destroy();
      return;
    }
    res.once('finish', () => (record.status = res.statusCode));
    const answer = () =>
      route(req, res, url).catch((error: unknown) => {
        if (!res.headersSent)
          sendStatus(res, 500, `internal error: ${String(error)}`, undefined, 'InternalError');
        else res.destroy();
      });
    if (latencyMs > 0) setTimeout(() => void answer(), latencyMs);
    else void answer();
  });

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz' || path === '/readyz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok');
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${token}`) return sendStatus(res, 401, 'Unauthorized');
    if (path === '/version') {
      return sendJson(res, 200, {
        major: '1',
        minor: '32',
        gitVersion: 'v1.32.4-mcml-double',
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2026-01-01T00:00:00Z',
        goVersion: 'go1.23.8',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
    }
    const aggregated =
      options.aggregatedDiscovery !== false &&
      (req.headers.accept ?? '').includes(AGGREGATED_DISCOVERY);
    if ((path === '/api' || path === '/apis') && aggregated) {
      // Aggregated discovery, as kubectl and mcml ask for it first.
      return sendJson(res, 200, aggregatedList(types, path === '/api'), AGGREGATED_DISCOVERY);
    }
    if (path === '/api') {
      return sendJson(res, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: url.host }],
      });
    }
    if (path === '/apis') return sendJson(res, 200, groupList(types));
    if (path === '/openapi/v3') return sendJson(res, 200, openApiRoot(types));
    const openapi = /^\/openapi\/v3\/(api|apis)\/(.+)$/.exec(path);
    if (openapi) {
      const doc = openApiDocument(types, openapi[2]!);
      return doc
        ? sendJson(res, 200, doc)
        : sendStatus(res, 404, 'the server could not find the requested resource');
    }
    if (path.startsWith('/openapi/'))
      return sendStatus(res, 404, 'the server could not find the requested resource');
    const core = /^\/api\/v1(?:\/(.*))?$/.exec(path);
    const named = /^\/apis\/([^/]+)(?:\/([^/]+)(?:\/(.*))?)?$/.exec(path);
    let gv: string;
    let rest: string | undefined;
    if (core) {
      gv = 'v1';
      rest = core[1];
    } else if (named) {
      if (named[2] === undefined) {
        const versions = [
          ...new Set(types.filter((t) => t.group === named[1]).map((t) => t.version)),
        ];
        return versions.length > 0
          ? sendJson(res, 200, groupOf(named[1]!, versions))
          : sendStatus(res, 404, 'the server could not find the requested resource');
      }
      gv = `${named[1]}/${named[2]}`;
      rest = named[3];
    } else {
      return sendStatus(res, 404, 'the server could not find the requested resource');
    }
    if (rest === undefined) {
      const list = resourceList(types, gv);
      return list
        ? sendJson(res, 200, list)
        : sendStatus(res, 404, 'the server could not find the requested resource');
    }
    const segs = rest.split('/').map(decodeURIComponent);
    let ns: string | undefined;
    let plural: string;
    let objectName: string | undefined;
    let sub: string | undefined;
    if (segs[0] === 'namespaces' && segs.length >= 3 && gv === 'v1' && segs[2] === 'status') {
      plural = 'namespaces';
      objectName = segs[1];
      sub = 'status';
    } else if (segs[0] === 'namespaces' && segs.length >= 3) {
      ns = segs[1];
      plural = segs[2]!;
      objectName = segs[3];
      sub = segs[4];
    } else {
      plural = segs[0]!;
      objectName = segs[1];
      sub = segs[2];
    }
    const type = types.find((t) => groupVersion(t) === gv && t.plural === plural);
    if (!type) return sendStatus(res, 404, 'the server could not find the requested resource');
    if (!type.namespaced && ns !== undefined) {
      return sendStatus(res, 404, 'the server could not find the requested resource');
    }
    return handleObject(req, res, url, type, ns, objectName, sub);
  };

  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    name,
    server: base,
    token,
    requests,
    connections: () => connections,
    controller,
    kubeconfig: (context = name) => kubeconfigYaml([{ context, server: base, token }], context),
    get: (apiVersion, kind, ns, n) => {
      const t = typeByKind(apiVersion, kind);
      const s = t && store.get(keyOf(t, t.namespaced ? ns : undefined, n));
      return s ? snapshot(s) : undefined;
    },
    list: (apiVersion, kind, ns) => {
      const t = typeByKind(apiVersion, kind);
      return [...store.values()]
        .filter((s) => s.type === t && (ns === undefined || meta(s.object).namespace === ns))
        .map(snapshot);
    },
    put: (object, manager = 'kubectl-edit') => {
      const t = typeByKind(str(object.apiVersion), str(object.kind));
      if (!t) throw new Error(`unknown kind ${str(object.kind)}`);
      const m = meta(object);
      const existing = store.get(keyOf(t, m.namespace as string | undefined, str(m.name)));
      const { managedFields: _mf, ...rest } = m;
      const after: JsonObject = structuredClone({ ...object, metadata: rest });
      const managers = recordUpdate({
        before: existing?.object,
        after,
        managers: existing?.managers ?? [],
        manager,
        apiVersion: groupVersion(t),
        now: now(),
      });
      if (existing?.object.status !== undefined && after.status === undefined)
        after.status = existing.object.status;
      const problem = admit(t, after, existing?.object);
      if (problem) throw new Error(problem.message);
      const stored: Stored = { type: t, object: after, managers };
      save(stored, existing ? 'MODIFIED' : 'ADDED');
      if (t.kind === 'Deployment')
        controller.changed(str(m.namespace), str(m.name), existing?.object);
      return snapshot(stored);
    },
    forbid: (verb, resource) => forbidden.add(`${verb} ${resource}`),
    allow: (verb, resource) => forbidden.delete(`${verb} ${resource}`),
    dropNext: (count, method) => (drops = { count, method }),
    latency: (ms) => (latencyMs = ms),
    installKind: (type) => types.push({ ...type, singular: type.kind.toLowerCase() }),
    routeService: (ns, n, handler) => services.set(`${ns}/${n}`, handler),
    stop: async () => {
      controller.close();
      for (const w of watchers) w.res.end();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A request body: JSON (what clients send, also for `application/apply-patch+yaml`) is read as
 * JSON; anything else as YAML, which JSON is a subset of.
 */
function parseBody(text: string): unknown {
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // not JSON after all: YAML flow style reads it (or says why not)
    }
  }
  return parseYaml(text);
}

/**
 * managedFields of a manager list, computed once per list (frozen: shared by every answer): a
 * list is never changed in place (applyConfig and recordUpdate return new ones), and an object
 * is rendered on every read and every watch event.
 */
const renderedManagers = new WeakMap<Manager[], Json[]>();
function managedFieldsOf(managers: Manager[]): Json[] {
  let json = renderedManagers.get(managers);
  if (!json) {
    json = deepFreeze(managedFieldsJson(managers));
    renderedManagers.set(managers, json);
  }
  return json;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function wantsTable(req: IncomingMessage): boolean {
  return /as=Table/.test(req.headers.accept ?? '');
}

function userAgentManager(req: IncomingMessage): string {
  const ua = req.headers['user-agent'] ?? 'unknown';
  return ua.split('/')[0] ?? 'unknown';
}

/** JSON merge patch (RFC 7386): null deletes, objects merge, everything else replaces. */
function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A kubeconfig with one cluster, user and context per entry. */
export function kubeconfigYaml(
  entries: { context: string; server: string; token: string; namespace?: string }[],
  current?: string,
): string {
  const lines = ['apiVersion: v1', 'kind: Config', 'preferences: {}', 'clusters:'];
  for (const e of entries) {
    lines.push(
      `- name: ${e.context}`,
      '  cluster:',
      `    server: ${e.server}`,
      `    certificate-authority-data: ${Buffer.from(KUBE_CA).toString('base64')}`,
    );
  }
  lines.push('users:');
  for (const e of entries)
    lines.push(`- name: ${e.context}-user`, '  user:', `    token: ${e.token}`);
  lines.push('contexts:');
  for (const e of entries) {
    lines.push(
      `- name: ${e.context}`,
      '  context:',
      `    cluster: ${e.context}`,
      `    user: ${e.context}-user`,
      ...(e.namespace ? [`    namespace: ${e.namespace}`] : []),
    );
  }
  lines.push(`current-context: ${current ?? entries[0]?.context ?? ''}`);
  return lines.join('\n') + '\n';
}
