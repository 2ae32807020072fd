/** `mcml serve`: the ONNX inference server that runs in every cloud. */
export { startServer, type RunningServer, type ServeOptions } from './server.js';
export {
  fetchModel,
  modelFromEnv,
  parseModelSpec,
  type ModelSpec,
  type ResolveStore,
} from './model-source.js';
export { labelsFromEnv, type DeploymentLabels } from './metrics.js';
export { DEVICES, type Device } from './session.js';
