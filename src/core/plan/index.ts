export * from './types.js';
export * from './planner.js';
export * from './check.js';
