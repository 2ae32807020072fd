export type * from './clock.js';
export type * from './logger.js';
export type * from './object-store.js';
export type * from './dns-provider.js';
export type * from './cluster.js';
export type * from './billing-source.js';
