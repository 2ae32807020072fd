export * from './diff.js';
export * from './residency.js';
