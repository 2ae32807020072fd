/**
 * The part of the API server's OpenAPI v3 that kubectl reads: the root listing one document
 * per group version, and per group version the PATCH operations with their query parameters
 * (kubectl checks that `fieldValidation` is among them, then leaves validation to the server).
 */
import { groupVersion, type ResourceType } from './kube-resources.js';

const QUERY_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'];

export function openApiRoot(types: ResourceType[]): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const t of types) {
    const gv = groupVersion(t);
    const key = t.group === '' ? `api/${gv}` : `apis/${gv}`;
    paths[key] = {
      serverRelativeURL: `/openapi/v3/${key}?hash=${Buffer.from(key).toString('hex').slice(0, 16).toUpperCase()}`,
    };
  }
  return { paths };
}

export function openApiDocument(types: ResourceType[], gv: string): object | undefined {
  const inGv = types.filter((t) => groupVersion(t) === gv);
  if (inGv.length === 0) return undefined;
  const paths: Record<string, object> = {};
  for (const t of inGv) {
    const prefix = t.group === '' ? `/api/${gv}` : `/apis/${gv}`;
    const path = t.namespaced
      ? `${prefix}/namespaces/{namespace}/${t.plural}/{name}`
      : `${prefix}/${t.plural}/{name}`;
    paths[path] = {
      patch: {
        operationId: `patch${t.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind },
        parameters: QUERY_PARAMS.map((name) => ({
          name,
          in: 'query',
          schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
        })),
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.4' }, paths };
}
