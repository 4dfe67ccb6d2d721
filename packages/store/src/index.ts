export * from './errors.js';
export * from './nats-server.js';
export * from './connect.js';
export * from './streams.js';
export * from './stored-app.js';
export * from './manifest-store.js';
export * from './status-store.js';
export * from './lattice-state.js';
