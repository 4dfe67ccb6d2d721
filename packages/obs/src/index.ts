export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { Metrics, type MetricsRegistry } from './metrics.js';
