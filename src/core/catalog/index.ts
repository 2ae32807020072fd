export * from './types.js';
export * from './parse.js';
export * from './query.js';
export { canonicalGpu } from './gpu-names.js';
