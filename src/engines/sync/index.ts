export * from './sync.js';
export * from './verify.js';
export * from './datasets.js';
