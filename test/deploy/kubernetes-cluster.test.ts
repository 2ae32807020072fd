/** The Kubernetes adapter against the API server double: the Cluster contract. */
import { runClusterContract } from '../contracts/cluster.js';
import { kubeFixture } from './kube-fixture.js';

runClusterContract({ name: 'kubernetes (API server double)', create: () => kubeFixture() });
