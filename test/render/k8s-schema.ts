/**
 * Validates Kubernetes objects against the Kubernetes OpenAPI schema, offline, two ways:
 * - `kubernetes-models` (Kubernetes 1.33 OpenAPI compiled to JSON-schema validators): types,
 *   required fields, enums, int-or-string;
 * - `@kubernetes/client-node` 1.x (OpenAPI v1.34 models): every field must be a field of its
 *   type (the JSON schemas allow unknown fields, the API server's strict decoding does not).
 */
import * as k8s from '@kubernetes/client-node';

type Json = unknown;

/**
 * `client` is the @kubernetes/client-node model for the unknown-field check; custom resources
 * (Gateway API, cert-manager) have none there and are checked against their CRD schemas
 * (`@kubernetes-models/gateway-api`, `@kubernetes-models/cert-manager`) only.
 */
const KINDS: Record<string, { models: string; client?: string }> = {
  'gateway.networking.k8s.io/v1/Gateway': {
    models: '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway',
  },
  'gateway.networking.k8s.io/v1/HTTPRoute': {
    models: '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute',
  },
  'cert-manager.io/v1/Certificate': {
    models: '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate',
  },
  'v1/ConfigMap': { models: 'kubernetes-models/v1/ConfigMap', client: 'V1ConfigMap' },
  'v1/Namespace': { models: 'kubernetes-models/v1/Namespace', client: 'V1Namespace' },
  'v1/ServiceAccount': {
    models: 'kubernetes-models/v1/ServiceAccount',
    client: 'V1ServiceAccount',
  },
  'v1/Service': { models: 'kubernetes-models/v1/Service', client: 'V1Service' },
  'v1/Secret': { models: 'kubernetes-models/v1/Secret', client: 'V1Secret' },
  'apps/v1/Deployment': { models: 'kubernetes-models/apps/v1/Deployment', client: 'V1Deployment' },
  'apps/v1/DaemonSet': { models: 'kubernetes-models/apps/v1/DaemonSet', client: 'V1DaemonSet' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    models: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    client: 'V2HorizontalPodAutoscaler',
  },
  'policy/v1/PodDisruptionBudget': {
    models: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    client: 'V1PodDisruptionBudget',
  },
};

interface AttributeType {
  name: string;
  baseName: string;
  type: string;
}

const PRIMITIVES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

function unknownFields(value: Json, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return void out.push(`${path}: expected a list`);
    value.forEach((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value))
      return void out.push(`${path}: expected a map`);
    for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  if (PRIMITIVES.has(type)) return;
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeType[] }>)[
    type
  ];
  if (!cls?.getAttributeTypeMap) return void out.push(`${path}: no model for type ${type}`);
  if (typeof value !== 'object' || Array.isArray(value))
    return void out.push(`${path}: expected an object (${type})`);
  const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = attrs.get(k);
    if (t === undefined) out.push(`${path}.${k}: unknown field of ${type}`);
    else unknownFields(v, t, `${path}.${k}`, out);
  }
}

/** Problems with one object; [] when it is valid. */
export async function validateObject(obj: Record<string, unknown>): Promise<string[]> {
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const kind = KINDS[key];
  if (!kind) return [`${key}: kind not covered by the validator`];
  const problems: string[] = [];
  const mod = (await import(kind.models)) as Record<
    string,
    new (d: unknown) => { validate(): void }
  >;
  const Cls = Object.values(mod)[0]!;
  try {
    new Cls(obj).validate();
  } catch (error) {
    problems.push(
      `${key} ${JSON.stringify((obj.metadata as { name?: string } | undefined)?.name)}: ${(error as Error).message}`,
    );
  }
  if (kind.client !== undefined) unknownFields(obj, kind.client, key, problems);
  return problems;
}
