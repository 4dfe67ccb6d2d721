export * from './api-subject.js';
export * from './api-types.js';
export * from './cloudevents.js';
export * from './lattice-events.js';
export * from './ctl.js';
