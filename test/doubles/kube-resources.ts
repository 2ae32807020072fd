/** The API resources the Kubernetes API server double serves, as discovery lists them. */

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  subresources?: string[];
  /** `all` for the kinds `kubectl get all` lists. */
  categories?: string[];
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const r = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType => ({
  group,
  version,
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced,
  ...extra,
});

/** Built-in kinds: what mcml renders and what kubectl asks about. */
export const BUILTIN_RESOURCES: ResourceType[] = [
  r('', 'v1', 'Namespace', 'namespaces', false, { shortNames: ['ns'], subresources: ['status'] }),
  r('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
  r('', 'v1', 'Secret', 'secrets', true),
  r('', 'v1', 'Service', 'services', true, {
    categories: ['all'],
    shortNames: ['svc'],
    subresources: ['status', 'proxy'],
  }),
  r('', 'v1', 'ServiceAccount', 'serviceaccounts', true, { shortNames: ['sa'] }),
  r('', 'v1', 'Event', 'events', true, { shortNames: ['ev'] }),
  r('', 'v1', 'Pod', 'pods', true, {
    categories: ['all'],
    shortNames: ['po'],
    subresources: ['status'],
  }),
  r('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, { shortNames: ['pvc'] }),
  r('apps', 'v1', 'Deployment', 'deployments', true, {
    categories: ['all'],
    shortNames: ['deploy'],
    subresources: ['status', 'scale'],
  }),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, {
    categories: ['all'],
    shortNames: ['rs'],
    subresources: ['status'],
  }),
  r('apps', 'v1', 'StatefulSet', 'statefulsets', true, {
    categories: ['all'],
    shortNames: ['sts'],
  }),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, { categories: ['all'], shortNames: ['ds'] }),
  r('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, {
    categories: ['all'],
    shortNames: ['hpa'],
    subresources: ['status'],
  }),
  r('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, {
    shortNames: ['pdb'],
    subresources: ['status'],
  }),
  r('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, { shortNames: ['ing'] }),
  r('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, {
    shortNames: ['netpol'],
  }),
  r('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  r('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  r('batch', 'v1', 'Job', 'jobs', true),
  r('batch', 'v1', 'CronJob', 'cronjobs', true, { categories: ['all'], shortNames: ['cj'] }),
];

export const groupVersion = (t: { group: string; version: string }) =>
  t.group === '' ? t.version : `${t.group}/${t.version}`;

/** APIResourceList of one group version. */
export function resourceList(types: ResourceType[], gv: string): object | undefined {
  const inGv = types.filter((t) => groupVersion(t) === gv);
  if (inGv.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: inGv.flatMap((t) => [
      {
        name: t.plural,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: VERBS,
        ...(t.shortNames ? { shortNames: t.shortNames } : {}),
        ...(t.categories ? { categories: t.categories } : {}),
        storageVersionHash: Buffer.from(`${gv}/${t.plural}`).toString('base64').slice(0, 11),
      },
      ...(t.subresources ?? []).map((sub) => {
        const kind = subresourceKind(t, sub);
        return {
          name: `${t.plural}/${sub}`,
          singularName: '',
          namespaced: t.namespaced,
          kind: kind.kind,
          ...(sub === 'scale' ? { group: kind.group, version: kind.version } : {}),
          verbs: subresourceVerbs(sub),
        };
      }),
    ]),
  };
}

/** What a subresource answers with: a Scale for `scale`, else the object's own kind. */
function subresourceKind(
  t: ResourceType,
  sub: string,
): { group: string; version: string; kind: string } {
  return sub === 'scale'
    ? { group: 'autoscaling', version: 'v1', kind: 'Scale' }
    : { group: t.group, version: t.version, kind: t.kind };
}

function subresourceVerbs(sub: string): string[] {
  return sub === 'proxy'
    ? ['create', 'delete', 'get', 'patch', 'update']
    : ['get', 'patch', 'update'];
}

/** APIGroupList of every named group. */
export function groupList(types: ResourceType[]): object {
  const groups = new Map<string, Set<string>>();
  for (const t of types) {
    if (t.group === '') continue;
    if (!groups.has(t.group)) groups.set(t.group, new Set());
    groups.get(t.group)!.add(t.version);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => groupOf(name, [...versions])),
  };
}

export function groupOf(name: string, versions: string[]): object {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: vs, preferredVersion: vs[0] };
}

/** The media type of aggregated discovery (apidiscovery.k8s.io/v2), as clients ask for it. */
export const AGGREGATED_DISCOVERY =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/**
 * Aggregated discovery (Kubernetes 1.30+ GA): every group's versions and resources in one
 * answer, at /api (the core group) or /apis (the named groups), for a client whose Accept asks
 * for AGGREGATED_DISCOVERY.
 */
export function aggregatedList(types: ResourceType[], core: boolean): object {
  const groups = new Map<string, Map<string, ResourceType[]>>();
  for (const t of types) {
    if ((t.group === '') !== core) continue;
    const versions = groups.get(t.group) ?? new Map<string, ResourceType[]>();
    versions.set(t.version, [...(versions.get(t.version) ?? []), t]);
    groups.set(t.group, versions);
  }
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: [...groups].map(([group, versions]) => ({
      metadata: { name: group, creationTimestamp: null },
      versions: [...versions].map(([version, inVersion]) => ({
        version,
        freshness: 'Current',
        resources: inVersion.map((t) => ({
          resource: t.plural,
          responseKind: { group: t.group, version: t.version, kind: t.kind },
          scope: t.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: t.singular,
          verbs: VERBS,
          ...(t.shortNames ? { shortNames: t.shortNames } : {}),
          ...(t.categories ? { categories: t.categories } : {}),
          ...(t.subresources
            ? {
                subresources: t.subresources.map((sub) => ({
                  subresource: sub,
                  responseKind: subresourceKind(t, sub),
                  verbs: subresourceVerbs(sub),
                })),
              }
            : {}),
        })),
      })),
    })),
  };
}
