export * from './types.js';
export * from './focus.js';
export * from './range.js';
export * from './anomalies.js';
export * from './estimate.js';
export * from './report.js';
