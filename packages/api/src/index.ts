export { ApiServer, DEFAULT_MAX_BODY_BYTES, type ApiServerOptions } from './server.js';
export * from './decisions.js';
