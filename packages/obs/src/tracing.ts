/**
 * OTLP/HTTP traces (the Rust wadm's `-t/--tracing` and `-e/--tracing-endpoint`, same default and the
 * same rule: `/v1/traces` is appended when missing). Spans are batched and exported in the
 * background: an unreachable collector costs dropped spans and a warning, never a blocked or crashed
 * replica. With tracing off every span is the OpenTelemetry API's no-op.
 */
import { trace, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from './logger.js';

export const DEFAULT_TRACING_ENDPOINT = 'http://localhost:4318/v1/traces';

export interface TracingOptions {
  enabled: boolean;
  endpoint?: string;
  serviceName?: string;
  serviceVersion?: string;
  /** Added to every span (the replica id). */
  replica: string;
  logger: Logger;
  /** Export batches at most this often (ms, default 2000). */
  exportIntervalMs?: number;
}

/** The endpoint as the Rust wadm reads it: `/v1/traces` appended when missing. */
export function tracesEndpoint(endpoint: string | undefined): string {
  const e = (endpoint ?? DEFAULT_TRACING_ENDPOINT).replace(/\/+$/, '');
  return e.endsWith('/v1/traces') ? e : `${e}/v1/traces`;
}

export class Tracing {
  readonly tracer: Tracer;
  private constructor(
    private readonly provider: BasicTracerProvider | undefined,
    private readonly replica: string,
  ) {
    this.tracer = provider ? provider.getTracer('wadm-ts') : trace.getTracer('wadm-ts-off');
  }

  static start(o: TracingOptions): Tracing {
    if (!o.enabled) return new Tracing(undefined, o.replica);
    const url = tracesEndpoint(o.endpoint);
    const exporter = new OTLPTraceExporter({ url, timeoutMillis: 5000 });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName ?? 'wadm-ts', [ATTR_SERVICE_VERSION]: o.serviceVersion ?? '0.1.0', replica: o.replica }),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: o.exportIntervalMs ?? 2000, maxQueueSize: 4096, exportTimeoutMillis: 5000 })],
    });
    o.logger.info({ endpoint: url }, 'exporting OTLP traces');
    return new Tracing(provider, o.replica);
  }

  get enabled(): boolean {
    return this.provider !== undefined;
  }

  /**
   * Run `f` inside a span named `name` with `attrs` (and `replica`); the span ends when `f` settles and
   * records its error. Never throws on its own.
   */
  async span<T>(name: string, attrs: Attributes, f: (span: Span) => Promise<T>): Promise<T> {
    if (!this.provider) return f(trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }));
    return this.tracer.startActiveSpan(name, { attributes: { ...attrs, replica: this.replica } }, async (span) => {
      try {
        return await f(span);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /** Export what is queued (bounded by the exporter's timeout), then stop. */
  async shutdown(): Promise<void> {
    await this.provider?.shutdown().catch(() => undefined);
  }

  /** Export what is queued now (tests, shutdown). */
  async flush(): Promise<void> {
    await this.provider?.forceFlush().catch(() => undefined);
  }
}
