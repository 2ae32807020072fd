export * from './store.js';
export * from './import.js';
export * from './pull.js';
