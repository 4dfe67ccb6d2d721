export * from './types.js';
export * from './plan/index.js';
export * from './runtime/ctl.js';
export * from './runtime/commands.js';
export * from './runtime/claims.js';
export * from './runtime/reconciler.js';
export * from './runtime/resync.js';
