export * from './plan.js';
export * from './apply.js';
export * from './worker.js';
export * from './reaper.js';
export * from './query.js';
