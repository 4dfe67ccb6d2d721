/**
 * The wadm API service: a queue-group subscription (`wadm_server`) on `{prefix}.>` (or `*.{prefix}.>`
 * multitenant) that answers every operation of docs/wire/api.md with byte-compatible bodies. Requests run
 * on a bounded queue (p-queue); any failure is answered with the generic error body, never a crash.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import PQueue from 'p-queue';
import {
  LATEST_VERSION,
  VERSION_ANNOTATION,
  defaultStatus,
  manifestToJson,
  newVersion,
  parseManifest,
  statusToWire,
  undeployedStatus,
  validateManifest,
  type Manifest,
} from '@wadm-ts/model';
import {
  API_QUEUE_GROUP,
  HISTORY_UNSUPPORTED,
  MANIFEST_PUBLISHED,
  MANIFEST_UNPUBLISHED,
  apiSubscription,
  cloudEvent,
  isValidName,
  parseApiSubject,
  wadmEventSubject,
  type DeployModelResponse,
  type GetModelResponse,
  type ParsedApiSubject,
  type PlanModelResponse,
  type PutModelResponse,
  type StatusResponse,
} from '@wadm-ts/protocol';
import { ManifestKeyCollisionError, ManifestStore, StatusStore, StorageError, findVersion, latestVersion, releasedOf, type Scope, type StoredApp } from '@wadm-ts/store';
import type { Logger, Metrics, Tracing } from '@wadm-ts/obs';
import {
  checkDeploy,
  deployRecord,
  debugList,
  decideDelete,
  decidePut,
  decideUndeploy,
  deleteRemovesDeployment,
  dependentsError,
  isShared,
  missingSharedComponents,
  needsLatticeView,
  sharedDependents,
  summarize,
  versionsReply,
  withVersion,
} from './decisions.js';
import { planBodyKind, type PlanApp, type PlanPreview, type Planner } from './plan.js';

export interface ApiServerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
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
  signal?: (scope: Scope, reason: string) => void;
  /** Previews a deploy for `model.plan` (changes and the commands it would issue); `model.plan` answers an error without it. */
  planner?: Planner;
}

/** Any JSON reply body: a response object or the bare array of `model.list`. */
type Reply = object;

/** A failure answered with the generic `{"result":"error","message":…}` body (plus `extra`). */
class ApiError extends Error {
  constructor(
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** KV keys allow `[-/_=.a-zA-Z0-9]`; names and lattices are subject tokens too, so no `.`. */
const KV_SAFE_TOKEN = /^[-/_=a-zA-Z0-9]+$/;

function errorBody(message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { result: 'error', message, ...extra };
}

/** Parse an optional JSON-object request body (`{"version": …}` and friends). */
function parseRequestBody(data: Uint8Array, what: string): Record<string, unknown> {
  if (data.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (err) {
    throw new ApiError(`Unable to parse ${what} request: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ApiError(`Unable to parse ${what} request: expected a JSON object, found ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}

function versionField(body: Record<string, unknown>, what: string): string | null {
  const v = body['version'];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ApiError(`Unable to parse ${what} request: invalid type for field \`version\`: expected a string, found ${JSON.stringify(v)}`);
  return v;
}

/** `non_destructive` of an undeploy request (0.x clients sent it; `destructive: true` is the default, said explicitly). */
function nonDestructiveField(body: Record<string, unknown>): boolean {
  const v = body['non_destructive'];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ApiError(`Unable to parse undeploy application request: invalid type for field \`non_destructive\`: expected a boolean, found ${JSON.stringify(v)}`);
  if (v && body['destructive'] === true) throw new ApiError('Unable to parse undeploy application request: `non_destructive` and `destructive` are both true');
  return v;
}

export class ApiServer {
  private sub: Subscription | undefined;
  private readonly queue: PQueue;
  private readonly maxBody: number;
  private readonly requests;
  private readonly duration;
  private readonly depth;

  constructor(private readonly o: ApiServerOptions) {
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

  private scopeOf(s: ParsedApiSubject): Scope {
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
    const log = this.o.logger.child({ lattice: s.lattice, ...(name ? { app: name } : {}) });
    if (name === undefined) {
      switch (s.operation) {
        case 'put':
          return this.put(msg, scope, log);
        case 'get':
          return { result: 'success', message: 'Successfully fetched list of applications', models: await this.summaries(scope) };
        case 'list':
          log.warn('model.list is deprecated; use model.get');
          return this.summaries(scope);
        default:
          return unsupported();
      }
    }
    if (s.operation === 'plan') return this.plan(msg, scope, checkedName(name), log);
    const known = ['get', 'versions', 'del', 'deploy', 'undeploy', 'status', 'history'];
    if (!known.includes(s.operation)) return unsupported();
    if (s.operation === 'history') throw new ApiError(HISTORY_UNSUPPORTED);
    if (!isValidName(name) || !KV_SAFE_TOKEN.test(name)) {
      throw new ApiError(
        `Application name ${name} contains invalid characters. Manifest names can only contain alphanumeric characters, dashes, and underscores.`,
      );
    }
    switch (s.operation) {
      case 'get':
        return this.get(msg, scope, name);
      case 'versions':
        return versionsReply((await this.o.manifests.load(scope, name))?.app ?? null, name);
      case 'del':
        return this.del(msg, scope, name, log);
      case 'deploy':
        return this.deploy(msg, scope, name, log);
      case 'undeploy':
        return this.undeploy(msg, scope, name, log);
      default:
        return this.status(scope, name);
    }
  }

  // ---- operations ----

  private async put(msg: Msg, scope: Scope, log: Logger): Promise<PutModelResponse | Record<string, unknown>> {
    const { manifest: m, name, warnings } = validatedManifest(msg);
    const others = needsLatticeView(m) ? await this.o.manifests.listApps(scope) : [];
    const missing = missingSharedComponents(m, others.filter((o) => o.name !== name));
    const missingNote = missing.length > 0 ? `, but some shared components are not deployed: ${debugList(missing)}` : '';
    const version = m.metadata.annotations[VERSION_ANNOTATION] ?? newVersion();
    const stored = withVersion(m, version);
    const reply = await this.o.manifests.mutate(scope, name, (cur) => decidePut(cur, name, version, stored, missingNote));
    if (reply.result === 'error') throw new ApiError(reply.message);
    log.info({ version, total: reply.total_versions }, 'manifest stored');
    return warnings.length > 0 ? { ...reply, warnings } : reply;
  }

  private async get(msg: Msg, scope: Scope, name: string): Promise<GetModelResponse> {
    const version = versionField(parseRequestBody(msg.data, 'get application'), 'get application');
    const loaded = await this.o.manifests.load(scope, name);
    if (!loaded) return { result: 'notfound', message: `Application with the name ${name} not found` };
    if (version === null) {
      const latest = latestVersion(loaded.app);
      if (!latest) return { result: 'notfound', message: `Application with the name ${name} not found` };
      return { result: 'success', message: `Successfully fetched application ${name}`, manifest: manifestToJson(latest.manifest) };
    }
    const v = findVersion(loaded.app, version);
    if (!v) return { result: 'notfound', message: `Application ${name} with version ${version} doesn't exist` };
    return { result: 'success', message: `Successfully fetched application ${name} ${version}`, manifest: manifestToJson(v.manifest) };
  }

  private async summaries(scope: Scope): Promise<ReturnType<typeof summarize>[]> {
    const apps = await this.o.manifests.listApps(scope);
    const statuses = await Promise.all(apps.map((a) => this.o.statuses.latest(scope.lattice, a.name, scope.account)));
    return apps.map((a, i) => summarize(a, statuses[i]));
  }

  /** Shared apps in use may not lose their deployment. */
  private async guardDependents(scope: Scope, app: StoredApp, action: 'undeploy' | 'delete'): Promise<void> {
    if (!isShared(app)) return;
    const dependents = sharedDependents(app.name, await this.o.manifests.listApps(scope));
    if (dependents.length > 0) throw new ApiError(dependentsError(action, app.name, dependents));
  }

  private async del(msg: Msg, scope: Scope, name: string, log: Logger): Promise<Record<string, unknown>> {
    const body = parseRequestBody(msg.data, 'delete application');
    // 0.x clients sent {"version": "", "delete_all": true} to delete everything; `undeploy` is accepted and ignored
    // (deleting the deployed version always undeploys).
    const version = body['delete_all'] === true ? null : versionField(body, 'delete application');
    const current = await this.o.manifests.load(scope, name);
    if (current && deleteRemovesDeployment(current.app, version)) await this.guardDependents(scope, current.app, 'delete');
    let removed = false;
    const reply = await this.o.manifests.mutate(scope, name, (cur) => {
      const d = decideDelete(cur, name, version);
      removed = d.kind === 'delete';
      return d;
    });
    // The app is gone: its status says so (the lattice's owner also does on its next pass; nothing
    // else would, a deleted app is no longer reconciled).
    if (removed) {
      try {
        await this.o.statuses.publishIfChanged(scope.lattice, name, undeployedStatus(), scope.account);
      } catch (err) {
        log.warn({ err }, 'publishing the undeployed status of a deleted app failed');
      }
    }
    if (reply.undeploy) {
      this.o.signal?.(scope, 'undeploy');
      try {
        await this.publishEvent(scope.lattice, 'manifest_unpublished', MANIFEST_UNPUBLISHED, { name });
      } catch (err) {
        log.error({ err }, 'publishing manifest_unpublished failed');
        return errorBody(
          'Error notifying processors of newly undeployed manifest on delete. This is likely a transient error, so please retry the request. Please note that the response will say it is a noop, but will notify the processors',
          { undeploy: false },
        );
      }
    }
    if (reply.result === 'deleted') log.info({ version, undeploy: reply.undeploy }, 'manifest deleted');
    return { ...reply };
  }

  private async deploy(msg: Msg, scope: Scope, name: string, log: Logger): Promise<DeployModelResponse | Record<string, unknown>> {
    const requested = versionField(parseRequestBody(msg.data, 'deploy application'), 'deploy application');
    // The other apps are read only when the version being deployed has explicit ids or shared references.
    let others: StoredApp[] | undefined;
    let deployed: Manifest | undefined;
    const NEED_OTHERS = { needOthers: true } as const;
    const attempt = (): Promise<DeployModelResponse | Record<string, unknown>> =>
      this.o.manifests.mutate(scope, name, (cur) => {
        deployed = undefined;
        if (!cur) {
          return { kind: 'keep', result: { result: 'notfound', message: `Application with the name ${name} not found`, name, version: requested } as DeployModelResponse | Record<string, unknown> };
        }
        const staged = requested === null || requested === LATEST_VERSION ? latestVersion(cur) : findVersion(cur, requested);
        if (staged && others === undefined && needsLatticeView(staged.manifest)) return { kind: 'keep', result: NEED_OTHERS };
        const check = checkDeploy(cur, requested, others ?? []);
        if (!check.ok) {
          return { kind: 'keep', result: check.generic ? errorBody(check.reply.message) : check.reply };
        }
        deployed = findVersion(cur, check.version)?.manifest;
        const ok: DeployModelResponse = { result: 'acknowledged', message: `Successfully deployed application ${name} ${check.version}`, name, version: check.version };
        const next = deployRecord(cur, check.version, Date.now());
        if (!next) return { kind: 'keep', result: ok };
        return { kind: 'write', app: next, result: ok };
      });
    let reply = await attempt();
    if (reply === NEED_OTHERS) {
      others = await this.o.manifests.listApps(scope);
      reply = await attempt();
    }
    if (reply['result'] !== 'acknowledged' || !deployed) return reply;
    this.o.signal?.(scope, 'deploy');
    try {
      await this.publishEvent(scope.lattice, 'manifest_published', MANIFEST_PUBLISHED, manifestToJson(deployed));
    } catch (err) {
      log.error({ err }, 'publishing manifest_published failed');
      return {
        result: 'error',
        message: 'Error notifying processors of newly deployed manifest. This is likely a transient error, so please retry the request',
        name,
        version: reply['version'] ?? null,
      };
    }
    log.info({ version: reply['version'] }, 'manifest deployed');
    return reply;
  }

  private async undeploy(msg: Msg, scope: Scope, name: string, log: Logger): Promise<DeployModelResponse | Record<string, unknown>> {
    const nonDestructive = nonDestructiveField(parseRequestBody(msg.data, 'undeploy application'));
    const current = await this.o.manifests.load(scope, name);
    if (current?.app.deployedVersion) await this.guardDependents(scope, current.app, 'undeploy');
    const reply = await this.o.manifests.mutate<DeployModelResponse>(scope, name, (cur) => decideUndeploy(cur, name, nonDestructive));
    if (reply.result !== 'acknowledged') return reply;
    this.o.signal?.(scope, 'undeploy');
    try {
      await this.publishEvent(scope.lattice, 'manifest_unpublished', MANIFEST_UNPUBLISHED, { name });
    } catch (err) {
      log.error({ err }, 'publishing manifest_unpublished failed');
      return {
        result: 'error',
        message: 'Error notifying processors of undeployed manifest. This is likely a transient error, so please retry the request',
        name,
        version: null,
      };
    }
    log.info({ nonDestructive }, 'manifest undeployed');
    return reply;
  }

  /**
   * `model.plan.{name}`: the changes and commands of deploying a stored version (body `{"version"}`,
   * empty: the latest) or a manifest (validated like `model.put`, stored nowhere). Writes nothing.
   */
  private async plan(msg: Msg, scope: Scope, name: string, log: Logger): Promise<PlanModelResponse> {
    if (!this.o.planner) throw new ApiError('Planning is not available on this wadm replica');
    const body = planBodyKind(msg.data);
    if (body.kind === 'invalid') throw new ApiError(body.message);
    const loaded = await this.o.manifests.load(scope, name);
    let candidate: PlanApp;
    if (body.kind === 'manifest') {
      const { manifest, name: manifestName } = validatedManifest(msg);
      if (manifestName !== name) throw new ApiError(`Manifest name ${manifestName} does not match the application ${name} of the plan subject`);
      const version = manifest.metadata.annotations[VERSION_ANNOTATION] ?? '';
      candidate = { name, version, manifest: version === '' ? manifest : withVersion(manifest, version) };
    } else {
      if (!loaded) throw new ApiError(`Application with the name ${name} not found`);
      const v = body.version === null || body.version === LATEST_VERSION ? latestVersion(loaded.app) : findVersion(loaded.app, body.version);
      if (!v) throw new ApiError(body.version === null ? `Application with the name ${name} not found` : `Application ${name} with version ${body.version} doesn't exist`);
      candidate = { name, version: v.version, manifest: v.manifest };
    }
    const deployedVersion = loaded?.app.deployedVersion ?? null;
    const dv = loaded && deployedVersion !== null ? findVersion(loaded.app, deployedVersion) : undefined;
    const deployed: PlanApp | null = dv ? { name, version: dv.version, manifest: dv.manifest } : null;
    const others: PlanApp[] = [];
    const released: string[] = [];
    for (const a of await this.o.manifests.listApps(scope)) {
      if (a.name !== name && releasedOf(a) !== undefined) released.push(a.name);
      if (a.name === name || a.deployedVersion === null) continue;
      const v = findVersion(a, a.deployedVersion);
      if (v) others.push({ name: a.name, version: v.version, manifest: v.manifest });
    }
    let preview: PlanPreview;
    try {
      preview = await this.o.planner({ scope, name, deployed, candidate, others, released });
    } catch (err) {
      log.error({ err, version: candidate.version }, 'planning failed');
      throw new ApiError(`Unable to plan application ${name}: ${(err as Error)?.message ?? String(err)}`);
    }
    log.info({ version: candidate.version, deployed: deployedVersion, changes: preview.changes.length, commands: preview.commands.length, source: preview.source }, 'plan computed');
    const nothing = preview.changes.length === 0 && preview.commands.length === 0;
    return {
      result: 'success',
      message: nothing
        ? `Deploying application ${name} ${candidate.version} would change nothing`
        : `Deploying application ${name} ${candidate.version} would make ${preview.changes.length} change(s) and issue ${preview.commands.length} command(s)`,
      name,
      version: candidate.version,
      deployed_version: deployedVersion,
      changes: preview.changes,
      commands: preview.commands,
    };
  }

  private async status(scope: Scope, name: string): Promise<StatusResponse> {
    const st = (await this.o.statuses.latest(scope.lattice, name, scope.account)) ?? defaultStatus();
    return { result: 'ok', message: `Successfully fetched status for application ${name}`, status: statusToWire(st) };
  }

  private async publishEvent(lattice: string, kind: 'manifest_published' | 'manifest_unpublished', type: string, data: unknown): Promise<void> {
    const ev = cloudEvent('wadm', type, data);
    await this.o.js.publish(wadmEventSubject(lattice, kind), JSON.stringify(ev));
  }
}

/**
 * Parse and validate a manifest request body exactly as `model.put` does: YAML or JSON (the
 * `Content-Type` header decides when present), `latest` refused as a version, the name a valid subject
 * token and KV key, every validation error joined with `; `.
 */
function validatedManifest(msg: Msg): { manifest: Manifest; name: string; warnings: string[] } {
  const ct = msg.headers?.has('Content-Type') ? msg.headers.get('Content-Type') : undefined;
  const parsed = parseManifest(msg.data, ct === undefined ? {} : { contentType: ct });
  if (!parsed.ok) throw new ApiError(`Unable to parse manifest: ${parsed.error}`);
  const m = parsed.manifest;
  if (m.metadata.annotations[VERSION_ANNOTATION] === LATEST_VERSION) {
    throw new ApiError('invalid manifest version, errors: "latest is not allowed in wadm"');
  }
  const name = m.metadata.name.trim();
  if (!isValidName(name)) {
    throw new ApiError(
      `Manifest name ${name} contains invalid characters. Manifest names can only contain alphanumeric characters, dashes, and underscores.`,
    );
  }
  if (!KV_SAFE_TOKEN.test(name)) {
    throw new ApiError(`Manifest name ${name} contains non-ASCII characters, which cannot be stored as a NATS KV key. Use ASCII letters, digits, dashes, and underscores.`);
  }
  const failures = [...parsed.warnings, ...validateManifest(m)];
  const errors = failures.filter((f) => f.level === 'error').map((f) => f.msg);
  if (errors.length > 0) throw new ApiError(errors.join('; '));
  const warnings = failures.filter((f) => f.level === 'warning').map((f) => f.msg);
  return { manifest: m, name, warnings };
}

/** An app name from the subject, checked as the other per-app operations check it. */
function checkedName(name: string): string {
  if (!isValidName(name) || !KV_SAFE_TOKEN.test(name)) {
    throw new ApiError(
      `Application name ${name} contains invalid characters. Manifest names can only contain alphanumeric characters, dashes, and underscores.`,
    );
  }
  return name;
}

function metricOp(op: string): string {
  if (op === 'plan') return op;
  return ['put', 'get', 'list', 'versions', 'del', 'deploy', 'undeploy', 'status', 'history'].includes(op) ? op : 'invalid';
}
