export { KubernetesCluster, type KubernetesClusterOptions } from './kubernetes-cluster.js';
export { kubeconfigFiles, loadKubeConfig } from './kubeconfig.js';
export { FIELD_MANAGER } from './object-client.js';
export { PART_OF, applySetId, parentName } from './applyset.js';
