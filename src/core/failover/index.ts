export * from './machine.js';
export * from './config.js';
export * from './jurisdiction.js';
export * from './latency.js';
export * from './secrets.js';
