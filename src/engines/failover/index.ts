export * from './controller.js';
export * from './front-door.js';
export * from './health-checker.js';
export * from './dns-updater.js';
export * from './events.js';
export * from './metrics.js';
export { systemClock } from './clock.js';
