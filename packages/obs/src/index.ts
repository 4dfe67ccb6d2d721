export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { Metrics, type MetricsRegistry } from './metrics.js';
export { Tracing, tracesEndpoint, DEFAULT_TRACING_ENDPOINT, type TracingOptions } from './tracing.js';
