/**
 * Any-kind object access on @kubernetes/client-node's KubernetesObjectApi (its discovery cache
 * and request pipeline), sending and receiving objects as plain JSON: the client's typed
 * serializer would drop fields its models do not know and turn timestamps into Dates, and mcml
 * records applied objects byte for byte.
 */
import {
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  type KubeConfig,
  type KubernetesObject,
  type RequestContext,
} from '@kubernetes/client-node';
import type { ClusterObject, ObjectRef } from '../../ports/cluster.js';
import { isStaleSocket, type ClusterConnection } from './connection.js';

export const FIELD_MANAGER = 'mcml';

export interface ObjectList {
  items: ClusterObject[];
  resourceVersion: string;
}

/** KubernetesObjectApi with JSON in and out, and a time limit on every request. */
export class ObjectClient extends KubernetesObjectApi {
  static create(
    kc: KubeConfig,
    connection: ClusterConnection,
    requestTimeoutMs: number,
  ): ObjectClient {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig context has no cluster');
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: connection },
      promiseMiddleware: [
        {
          pre: (ctx: RequestContext) => {
            ctx.setSignal(AbortSignal.timeout(requestTimeoutMs));
            return Promise.resolve(ctx);
          },
          post: (res) => Promise.resolve(res),
        },
      ],
    });
    const client = new ObjectClient(config);
    client.defaultNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    return client;
  }

  /** Whether objects of this kind live in a namespace (from discovery). */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean> {
    const unknown = new Error(`Unrecognized API version and kind: ${apiVersion} ${kind}`);
    const resource = await this.resource(apiVersion, kind).catch((error: unknown) => {
      // A group version the server does not serve at all (its CRD is not installed).
      throw error instanceof ApiException && error.code === 404 ? unknown : error;
    });
    if (!resource) throw unknown;
    return resource.namespaced;
  }

  async #send(
    method: HttpMethod,
    spec: KubernetesObject,
    action: 'create' | 'delete' | 'patch' | 'read' | 'list',
    options: { query?: Record<string, string>; body?: string; contentType?: string } = {},
  ): Promise<unknown> {
    const path = await this.specUriPath(structuredClone(spec), action);
    const send = () => {
      const ctx = this.configuration.baseServer.makeRequestContext(path, method);
      ctx.setHeaderParam('Accept', 'application/json');
      for (const [k, v] of Object.entries(options.query ?? {})) ctx.setQueryParam(k, v);
      if (options.body !== undefined) {
        ctx.setHeaderParam('Content-Type', options.contentType ?? 'application/json');
        ctx.setBody(options.body);
      }
      return this.requestPromise(ctx, 'any');
    };
    return send().catch((error: unknown) => {
      if (isStaleSocket(error)) return send();
      throw error;
    });
  }

  /** Server-side apply as `mcml` (dryRun: the API server answers and stores nothing). */
  async applyObject(
    object: ClusterObject,
    options: { dryRun?: boolean; force?: boolean } = {},
  ): Promise<ClusterObject> {
    return (await this.#send(HttpMethod.PATCH, object, 'patch', {
      query: {
        fieldManager: FIELD_MANAGER,
        fieldValidation: 'Strict',
        ...(options.force ? { force: 'true' } : {}),
        ...(options.dryRun ? { dryRun: 'All' } : {}),
      },
      body: JSON.stringify(object),
      contentType: PatchStrategy.ServerSideApply,
    })) as ClusterObject;
  }

  /** The object, or undefined when it does not exist. */
  async getObject(ref: ObjectRef): Promise<ClusterObject | undefined> {
    try {
      return (await this.#send(HttpMethod.GET, specOf(ref), 'read')) as ClusterObject;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  async listObjects(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector?: string,
  ): Promise<ObjectList> {
    const spec = {
      apiVersion,
      kind,
      metadata: namespace === undefined ? {} : { namespace },
    } as KubernetesObject;
    const list = (await this.#send(HttpMethod.GET, spec, 'list', {
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
      await this.#send(HttpMethod.DELETE, specOf(ref), 'delete', {
        query: { propagationPolicy: 'Background', ...(options.dryRun ? { dryRun: 'All' } : {}) },
      });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return;
      throw error;
    }
  }

  /** The path of a resource collection, for watches. */
  async collectionPath(apiVersion: string, kind: string, namespace: string): Promise<string> {
    return this.specUriPath({ apiVersion, kind, metadata: { namespace } }, 'list');
  }
}

function specOf(ref: ObjectRef): KubernetesObject {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
}

export function refOf(object: ClusterObject): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
  };
}
