/**
 * The wadm API service's transport and routing: a queue-group subscription (`wadm_server`) on
 * `{prefix}.>` (or `*.{prefix}.>` multitenant) that answers every operation of docs/wire/api.md with
 * byte-compatible bodies. Requests run on a bounded queue (p-queue) with a body limit, a span and
 * metrics each; the subject picks the handler (`handlers/*.ts`); any failure is answered with the
 * generic error body, never a crash.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import PQueue from 'p-queue';
import { API_QUEUE_GROUP, HISTORY_UNSUPPORTED, apiSubscription, parseApiSubject, type ParsedApiSubject } from '@wadm-ts/protocol';
import type { LatticeRef } from '@wadm-ts/protocol';
import { ManifestKeyCollisionError, ManifestStore, StatusStore, StorageError, type JsPublisher } from '@wadm-ts/store';
import type { Logger, Metrics, Tracing } from '@wadm-ts/obs';
import type { Planner } from './plan.js';
import { ApiError, KV_SAFE_TOKEN, checkedName, errorBody } from './request.js';
import type { ApiRequest, HandlerContext, Reply } from './handlers/context.js';
import { deployModel, undeployModel } from './handlers/deployment.js';
import { deleteModel, putModel } from './handlers/manifests.js';
import { planModel } from './handlers/plan.js';
import { getModel, listModels, modelStatus, modelVersions, summaries } from './handlers/queries.js';

export interface ApiServerOptions {
  nc: NatsConnection;
  /** The replica's JetStream publisher (`JetStreamContext.publisher`). */
  publisher: JsPublisher;
  manifests: ManifestStore;
  statuses: StatusStore;
  logger: Logger;
  metrics: Metrics;
  prefix: string;
  multitenant: boolean;
  /** Largest accepted request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Concurrent requests handled by this replica (default 256). */
  maxJobs?: number;
  /** Spans per request (OTLP traces); none when absent. */
  tracing?: Tracing;
  /** Ask for the lattice to be reconciled (deploy, undeploy, delete of a deployed version). */
  signal?: (scope: LatticeRef, reason: string) => void;
  /** Previews a deploy for `model.plan` (changes and the commands it would issue); `model.plan` answers an error without it. */
  planner?: Planner;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export class ApiServer {
  private sub: Subscription | undefined;
  private readonly queue: PQueue;
  private readonly maxBody: number;
  private readonly requests;
  private readonly duration;
  private readonly depth;

  private readonly ctx: HandlerContext;

  constructor(private readonly o: ApiServerOptions) {
    this.ctx = { publisher: o.publisher, manifests: o.manifests, statuses: o.statuses, signal: o.signal, planner: o.planner };
    this.queue = new PQueue({ concurrency: o.maxJobs ?? 256 });
    this.maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.requests = o.metrics.counter('wadm_api_requests_total', 'API requests handled, by operation and result', ['operation', 'result']);
    this.duration = o.metrics.histogram('wadm_api_request_duration_seconds', 'API request handling time', ['operation']);
    this.depth = o.metrics.gauge('wadm_api_queue_depth', 'API requests waiting or running on this replica');
  }

  get subject(): string {
    return apiSubscription(this.o.prefix, this.o.multitenant);
  }

  /** Subscribe; resolves once the server has registered the subscription. */
  async start(): Promise<void> {
    this.sub = this.o.nc.subscribe(this.subject, {
      queue: API_QUEUE_GROUP,
      callback: (err, msg) => {
        if (err) {
          this.o.logger.error({ err }, 'API subscription error');
          return;
        }
        this.depth.inc();
        void this.queue.add(() => this.handle(msg)).finally(() => this.depth.dec());
      },
    });
    await this.o.nc.flush();
    this.o.logger.info({ subject: this.subject, queue: API_QUEUE_GROUP }, 'API listening');
  }

  /** Stop taking requests and finish the ones under way. */
  async drain(): Promise<void> {
    if (this.sub && !this.sub.isClosed()) await this.sub.drain();
    await this.queue.onIdle();
  }

  get pending(): number {
    return this.queue.size + this.queue.pending;
  }

  private respond(msg: Msg, body: Reply): void {
    if (!msg.reply) return;
    msg.respond(JSON.stringify(body));
  }

  async handle(msg: Msg): Promise<void> {
    const started = process.hrtime.bigint();
    let operation = 'invalid';
    let body: Reply;
    const parsed = parseApiSubject(msg.subject, this.o.prefix, this.o.multitenant);
    if (parsed.ok) operation = parsed.subject.operation;
    const attrs: Record<string, string> = { 'wadm.operation': operation, 'messaging.destination.name': msg.subject };
    if (parsed.ok) {
      attrs['lattice'] = parsed.subject.lattice;
      if (parsed.subject.name) attrs['app'] = parsed.subject.name;
    }
    body = await (this.o.tracing?.span(`wadm.api ${metricOp(operation)}`, attrs, async (span) => {
      const b = await this.answer(msg, parsed, operation);
      const r = Array.isArray(b) ? 'success' : String((b as { result?: unknown }).result);
      span.setAttribute('wadm.result', r);
      return b;
    }) ?? this.answer(msg, parsed, operation));
    const result = Array.isArray(body) ? 'success' : String((body as { result?: unknown }).result);
    this.requests.inc({ operation: metricOp(operation), result });
    this.duration.observe({ operation: metricOp(operation) }, Number(process.hrtime.bigint() - started) / 1e9);
    try {
      this.respond(msg, body);
    } catch (err) {
      this.o.logger.error({ err, subject: msg.subject }, 'failed to send API reply');
    }
  }

  private async answer(msg: Msg, parsed: ReturnType<typeof parseApiSubject>, operation: string): Promise<Reply> {
    try {
      if (!parsed.ok) throw new ApiError(`Invalid subject: ${parsed.reason}`);
      return await this.route(msg, parsed.subject);
    } catch (err) {
      return this.failure(err, msg.subject, operation);
    }
  }

  private failure(err: unknown, subject: string, operation: string): Record<string, unknown> {
    const extra = err instanceof ApiError ? err.extra : {};
    if (operation === 'get' && !subject.match(/\.get\.[^.]+$/)) extra['models'] = [];
    if (operation === 'versions') extra['versions'] = [];
    if (err instanceof ApiError) return errorBody(err.message, extra);
    // The manifest bucket's key layout makes this app's key (or its lattice's index key) another's.
    if (err instanceof ManifestKeyCollisionError) {
      this.o.logger.warn({ subject, key: err.context.key, holds: err.context.holds }, err.message);
      return errorBody(err.message, extra);
    }
    if (err instanceof StorageError) {
      this.o.logger.error({ err, subject }, 'storage error while handling API request');
      return errorBody('Internal storage error', extra);
    }
    this.o.logger.error({ err, subject }, 'unexpected error while handling API request');
    return errorBody(`Internal error: ${(err as Error)?.message ?? String(err)}`, extra);
  }

  private scopeOf(s: ParsedApiSubject): LatticeRef {
    if (!KV_SAFE_TOKEN.test(s.lattice)) {
      throw new ApiError(`Invalid lattice id '${s.lattice}': lattice ids may contain only ASCII letters, digits, '-', '_', '=' and '/'`);
    }
    // No '-' in account ids (real ones are nkeys): `{account}-{lattice}` keys must tell accounts apart.
    if (s.account !== undefined && (!KV_SAFE_TOKEN.test(s.account) || s.account.includes('-'))) {
      throw new ApiError(`Invalid account id '${s.account}': account ids may contain only ASCII letters, digits, '_', '=' and '/'`);
    }
    return s.account === undefined ? { lattice: s.lattice } : { lattice: s.lattice, account: s.account };
  }

  private async route(msg: Msg, s: ParsedApiSubject): Promise<Reply> {
    if (msg.data.length > this.maxBody) {
      throw new ApiError(`Request body of ${msg.data.length} bytes exceeds the limit of ${this.maxBody} bytes (WADM_MAX_REQUEST_BYTES)`);
    }
    const unsupported = (): never => {
      throw new ApiError(`Unsupported subject: ${msg.subject}`);
    };
    if (s.category !== 'model') unsupported();
    const scope = this.scopeOf(s);
    const name = s.name;
    // The request's logger is made the first time something is logged (most requests log nothing).
    const parent = this.o.logger;
    let child: Logger | undefined;
    const req: ApiRequest = {
      msg,
      scope,
      get log(): Logger {
        return (child ??= parent.child({ lattice: s.lattice, ...(name ? { app: name } : {}) }));
      },
    };
    const ctx = this.ctx;
    if (name === undefined) {
      switch (s.operation) {
        case 'put':
          return putModel(ctx, req);
        case 'get':
          return listModels(ctx, scope);
        case 'list':
          req.log.warn('model.list is deprecated; use model.get');
          return summaries(ctx, scope);
        default:
          return unsupported();
      }
    }
    if (s.operation === 'plan') return planModel(ctx, req, checkedName(name));
    const known = ['get', 'versions', 'del', 'deploy', 'undeploy', 'status', 'history'];
    if (!known.includes(s.operation)) return unsupported();
    if (s.operation === 'history') throw new ApiError(HISTORY_UNSUPPORTED);
    checkedName(name);
    switch (s.operation) {
      case 'get':
        return getModel(ctx, req, name);
      case 'versions':
        return modelVersions(ctx, scope, name);
      case 'del':
        return deleteModel(ctx, req, name);
      case 'deploy':
        return deployModel(ctx, req, name);
      case 'undeploy':
        return undeployModel(ctx, req, name);
      default:
        return modelStatus(ctx, scope, name);
    }
  }
}

function metricOp(op: string): string {
  if (op === 'plan') return op;
  return ['put', 'get', 'list', 'versions', 'del', 'deploy', 'undeploy', 'status', 'history'].includes(op) ? op : 'invalid';
}
