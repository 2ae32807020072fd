export { planWaves, type WaveOrder, type WavePlanOptions, type WaveTarget } from './waves.js';
export {
  runDeploy,
  formatMs,
  type DeployEvent,
  type DeployOptions,
  type DeployReport,
  type DeployTarget,
  type TargetOutcome,
  type TargetPhase,
} from './rollout.js';
export {
  healthGate,
  prometheusGate,
  type GateResult,
  type InferenceProbe,
  type MetricGate,
} from './gates.js';
export { inferenceBody, modelInputOf, type ModelInput } from './inference.js';
export { buildKustomization, targetObjects } from './kustomize.js';
