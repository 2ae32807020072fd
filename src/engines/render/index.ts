/** Rendering to disk: the pure renderers' files plus the Terraform modules, written safely. */
export {
  MANIFEST,
  isToolFile,
  writeOutput,
  type WriteOptions,
  type WriteResult,
} from './write-output.js';
export { modulesDir, readModules } from './modules.js';
