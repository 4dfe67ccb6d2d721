export { ApiServer, DEFAULT_MAX_BODY_BYTES, type ApiServerOptions } from './server.js';
export { planBodyKind, type PlanApp, type PlanPreview, type PlanRequest, type Planner } from './plan.js';
