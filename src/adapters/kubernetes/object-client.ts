/**
 * Any-kind object access on one cluster: discovery (which resource and scope a kind has, cached
 * per group version for the life of the client), server-side apply, get, list, delete and watch
 * as plain requests on the cluster's connection, objects as plain JSON in and out — mcml
 * records applied objects byte for byte, so nothing may drop fields it does not know or turn
 * timestamps into Dates. A non-2xx answer throws an HttpError carrying the API server's Status
 * body; errors.ts turns it into a message.
 */
import type { ClusterObject, ObjectRef } from '../../ports/cluster.js';
import { HttpError, type ClusterConnection } from './connection.js';

export const FIELD_MANAGER = 'mcml';

export interface ObjectList {
  items: ClusterObject[];
  resourceVersion: string;
}

/** One entry of an APIResourceList. */
interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** A watch event as the API server streams it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: ClusterObject;
}

/**
 * Aggregated discovery (apidiscovery.k8s.io/v2, GA in Kubernetes 1.30): every named group's
 * resources in one answer of `/apis`. A server without it answers the plain APIGroupList.
 */
const AGGREGATED_DISCOVERY =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, application/json;q=0.9';

interface AggregatedDiscovery {
  kind?: string;
  items?: {
    metadata?: { name?: string };
    versions?: {
      version: string;
      freshness?: string;
      resources?: { resource: string; responseKind?: { kind?: string }; scope?: string }[];
    }[];
  }[];
}

function apiVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

export class ObjectClient {
  readonly #connection: ClusterConnection;
  readonly #timeoutMs: number;
  /** Where a namespaced object without a namespace goes (the context's namespace). */
  readonly #defaultNamespace: string;
  /** Resource lists by group version; a failed lookup is forgotten so it is asked again. */
  readonly #discovery = new Map<string, Promise<ApiResource[] | undefined>>();
  /** The one aggregated discovery of the named groups, asked for at the first need. */
  #aggregated: Promise<void> | undefined;

  constructor(connection: ClusterConnection, requestTimeoutMs: number, defaultNamespace: string) {
    this.#connection = connection;
    this.#timeoutMs = requestTimeoutMs;
    this.#defaultNamespace = defaultNamespace;
  }

  /** A request whose answer must be 2xx, parsed as JSON. */
  async #json(
    method: string,
    path: string,
    options: { query?: Record<string, string>; body?: string; contentType?: string } = {},
  ): Promise<unknown> {
    return (await this.#text(method, path, options))();
  }

  /** A request whose answer must be 2xx; the answer is parsed when (if) the caller asks. */
  async #text(
    method: string,
    path: string,
    options: { query?: Record<string, string>; body?: string; contentType?: string } = {},
  ): Promise<() => unknown> {
    const answer = await this.#connection.send(method, path, {
      ...options,
      timeoutMs: this.#timeoutMs,
    });
    if (answer.status < 200 || answer.status >= 300)
      throw new HttpError(answer.status, answer.body);
    return () => JSON.parse(answer.body) as unknown;
  }

  /**
   * The resources of a group version; undefined when the server does not serve it (404). A
   * named group's come from one aggregated discovery of all groups when the server has it
   * (one request for every group the set uses, instead of one each), else from its own list.
   */
  async #resources(apiVersion: string): Promise<ApiResource[] | undefined> {
    if (apiVersion.includes('/') && !this.#discovery.has(apiVersion)) {
      this.#aggregated ??= this.#discoverAll();
      await this.#aggregated;
    }
    let known = this.#discovery.get(apiVersion);
    if (!known) {
      known = this.#json('GET', apiVersionPath(apiVersion)).then(
        (list) => (list as { resources?: ApiResource[] }).resources ?? [],
        (error: unknown) => {
          this.#discovery.delete(apiVersion);
          if (error instanceof HttpError && error.statusCode === 404) return undefined;
          throw error;
        },
      );
      this.#discovery.set(apiVersion, known);
    }
    return known;
  }

  /**
   * Seeds discovery with every current group version of an aggregated discovery of `/apis`.
   * Anything else (an older server's APIGroupList, an error) leaves each group to its own list.
   */
  async #discoverAll(): Promise<void> {
    const answer = await this.#connection
      .send('GET', '/apis', { accept: AGGREGATED_DISCOVERY, timeoutMs: this.#timeoutMs })
      .catch(() => undefined);
    // Not reached (a prefetch beside a ping that fails): the next lookup asks again.
    if (!answer) this.#aggregated = undefined;
    if (!answer || answer.status !== 200) return;
    let doc: AggregatedDiscovery;
    try {
      doc = JSON.parse(answer.body) as AggregatedDiscovery;
    } catch {
      return;
    }
    if (doc.kind !== 'APIGroupDiscoveryList') return;
    for (const group of doc.items ?? []) {
      for (const v of group.versions ?? []) {
        const gv = `${group.metadata?.name ?? ''}/${v.version}`;
        // A stale version's list may miss resources: that group is asked on its own.
        if (v.freshness === 'Stale' || this.#discovery.has(gv)) continue;
        const resources = (v.resources ?? []).map((r) => ({
          name: r.resource,
          kind: r.responseKind?.kind ?? '',
          namespaced: r.scope === 'Namespaced',
        }));
        this.#discovery.set(gv, Promise.resolve(resources));
      }
    }
  }

  /**
   * Starts the aggregated discovery of `/apis` now (beside the ping, on the second connection),
   * so the apply that follows finds every group version known and goes straight to its reads.
   */
  prefetchDiscovery(): void {
    this.#aggregated ??= this.#discoverAll();
  }

  /**
   * Remembers a resource list the caller already has (the ping reads `/api/v1`), so discovery
   * does not ask for it again.
   */
  seedDiscovery(apiVersion: string, listBody: string): void {
    try {
      const list = JSON.parse(listBody) as { resources?: ApiResource[] };
      if (Array.isArray(list.resources))
        this.#discovery.set(apiVersion, Promise.resolve(list.resources));
    } catch {
      // not a resource list: discovery asks for it when needed
    }
  }

  async #resource(apiVersion: string, kind: string): Promise<ApiResource> {
    let resources = await this.#resources(apiVersion);
    // A kind not in a cached list may have been installed since (a CRD): ask once more.
    if (resources && !resources.some((r) => r.kind === kind)) {
      this.#discovery.delete(apiVersion);
      resources = await this.#resources(apiVersion);
    }
    const resource = resources?.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!resource) throw new Error(`Unrecognized API version and kind: ${apiVersion} ${kind}`);
    return resource;
  }

  /** Whether objects of this kind live in a namespace (from discovery). */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.#resource(apiVersion, kind)).namespaced;
  }

  /** The path of a collection (no name) or of one object. */
  async #path(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name?: string,
  ): Promise<string> {
    const resource = await this.#resource(apiVersion, kind);
    let path = apiVersionPath(apiVersion);
    if (resource.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
    path += `/${resource.name}`;
    return name === undefined ? path : `${path}/${encodeURIComponent(name)}`;
  }

  #objectPath(ref: ObjectRef): Promise<string> {
    return this.#path(ref.apiVersion, ref.kind, ref.namespace ?? this.#defaultNamespace, ref.name);
  }

  /** Server-side apply as `mcml` (dryRun: the API server answers and stores nothing). */
  async applyObject(
    object: ClusterObject,
    options: { dryRun?: boolean; force?: boolean } = {},
  ): Promise<ClusterObject> {
    return (await this.applyObjectLazily(object, options))();
  }

  /**
   * applyObject, with the object the server answers parsed only when asked for: an apply of
   * objects mcml recorded needs only to know that each one succeeded.
   */
  async applyObjectLazily(
    object: ClusterObject,
    options: { dryRun?: boolean; force?: boolean } = {},
  ): Promise<() => ClusterObject> {
    const path = await this.#objectPath(refOf(object));
    return (await this.#text('PATCH', path, {
      query: {
        fieldManager: FIELD_MANAGER,
        fieldValidation: 'Strict',
        ...(options.force ? { force: 'true' } : {}),
        ...(options.dryRun ? { dryRun: 'All' } : {}),
      },
      body: JSON.stringify(object),
      contentType: 'application/apply-patch+yaml',
    })) as () => ClusterObject;
  }

  /** The object, or undefined when it does not exist. */
  async getObject(ref: ObjectRef): Promise<ClusterObject | undefined> {
    try {
      return (await this.#json('GET', await this.#objectPath(ref))) as ClusterObject;
    } catch (error) {
      if (error instanceof HttpError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async listObjects(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector?: string,
  ): Promise<ObjectList> {
    const path = await this.#path(apiVersion, kind, namespace);
    const list = (await this.#json('GET', path, {
      query: labelSelector ? { labelSelector } : {},
    })) as { items?: ClusterObject[]; metadata?: { resourceVersion?: string } };
    return {
      items: (list.items ?? []).map((item) => ({ ...item, apiVersion, kind })),
      resourceVersion: list.metadata?.resourceVersion ?? '',
    };
  }

  /** Deletes with background propagation; a missing object is not an error. */
  async deleteObject(ref: ObjectRef, options: { dryRun?: boolean } = {}): Promise<void> {
    try {
      await this.#json('DELETE', await this.#objectPath(ref), {
        query: { propagationPolicy: 'Background', ...(options.dryRun ? { dryRun: 'All' } : {}) },
      });
    } catch (error) {
      if (error instanceof HttpError && error.statusCode === 404) return;
      throw error;
    }
  }

  /**
   * Watches a kind's objects in a namespace from `resourceVersion`: `onEvent` gets each event
   * (objects with their apiVersion and kind). Resolves when the server ends the watch.
   */
  async watch(
    apiVersion: string,
    kind: string,
    namespace: string,
    query: { labelSelector: string; resourceVersion: string },
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const path = await this.#path(apiVersion, kind, namespace);
    await this.#connection.stream(
      path,
      { watch: 'true', allowWatchBookmarks: 'true', ...query },
      (line) => {
        const event = JSON.parse(line) as WatchEvent;
        if (event.type !== 'BOOKMARK' && event.type !== 'ERROR')
          event.object = { ...event.object, apiVersion, kind };
        onEvent(event);
      },
      signal,
    );
  }
}

export function refOf(object: ClusterObject): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
  };
}
