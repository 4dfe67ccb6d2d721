/** A typed client of the wadm NATS API (docs/wire/api.md), sending what `wash app` sends. */
import { errors, headers, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { parseManifest, serializeManifest, statusFromWire, type Manifest, type Status } from '@wadm-ts/model';
import {
  apiSubject,
  isSafeToken,
  isValidName,
  normalizeApiPrefix,
  statusSubject,
  DEFAULT_API_PREFIX,
  type ApiOperation,
  type DeleteModelResponse,
  type DeployModelResponse,
  type GetModelResponse,
  type ListModelsResponse,
  type ModelSummary,
  type PlanModelResponse,
  type PutModelResponse,
  type StatusResponse,
  type VersionRequest,
  type VersionResponse,
} from '@wadm-ts/protocol';
import { describeError, NO_RESPONDERS_MESSAGE, WadmClientError } from './errors.js';
import { decodeSummaryArray, parseReplyJson, withDefaults } from './replies.js';

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_LATTICE = 'default';

export interface WadmClientOptions {
  /** Lattice id, e.g. `default`. */
  lattice: string;
  /** API subject prefix; default `wadm.api`. Whitespace and leading/trailing dots are trimmed. */
  prefix?: string;
  /** Account id for a multitenant wadm: subjects become `{account}.{prefix}.…`. */
  account?: string;
  /** Per-request timeout; default 5000 ms. */
  timeoutMs?: number;
}

export interface PutOptions {
  /** How to parse manifest text locally (`application/json` or `application/yaml`); default: YAML, then JSON. */
  contentType?: string;
}

export interface UndeployOptions {
  /**
   * Stop managing the app but leave what it runs (instances, providers, links, configs) in place, with
   * their ownership annotations: sends `{"non_destructive": true}`. A later deploy adopts them.
   */
  nonDestructive?: boolean;
}

/** A live feed of an application's status, as published on `wadm.status.{lattice}.{name}`. */
export interface StatusSubscription extends AsyncIterable<Status> {
  /** Stop receiving; a pending iteration ends. */
  stop(): void;
}

/** A request body: nothing, a JSON value to serialise, or text already serialised. */
type RequestBody = undefined | { json: unknown } | { text: string; headers: MsgHdrs };

export class WadmClient {
  readonly lattice: string;
  readonly prefix: string;
  readonly account: string | undefined;
  readonly timeoutMs: number;

  constructor(
    private readonly nc: NatsConnection,
    opts: WadmClientOptions,
  ) {
    if (!isSafeToken(opts.lattice)) {
      throw new WadmClientError('invalid_argument', `Invalid lattice id ${JSON.stringify(opts.lattice)}`);
    }
    if (opts.account !== undefined && !isSafeToken(opts.account)) {
      throw new WadmClientError('invalid_argument', `Invalid account id ${JSON.stringify(opts.account)}`);
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new WadmClientError('invalid_argument', `Invalid timeout ${String(opts.timeoutMs)}: expected a positive integer of milliseconds`);
    }
    this.lattice = opts.lattice;
    this.prefix = normalizeApiPrefix(opts.prefix ?? DEFAULT_API_PREFIX);
    this.account = opts.account;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Store a new manifest version. Text is parsed locally first (a parse error is thrown as `invalid_manifest`
   * and nothing is sent); the normalised manifest is sent as JSON with `Content-Type: application/json`, like wash.
   */
  async put(manifest: string | Manifest, opts: PutOptions = {}): Promise<PutModelResponse> {
    const parsed = typeof manifest === 'string' ? parseLocally(manifest, opts.contentType) : manifest;
    const h = headers();
    h.set('Content-Type', 'application/json');
    const raw = await this.request('put', undefined, { text: serializeManifest(parsed), headers: h });
    return withDefaults<PutModelResponse>(raw, this.subject('put'), { total_versions: 0, current_version: '', name: '' });
  }

  /** Fetch one manifest version (latest when `version` is omitted). */
  async get(name: string, version?: string): Promise<GetModelResponse> {
    const raw = await this.request('get', name, versionBody(version));
    return withDefaults<GetModelResponse>(raw, this.subject('get', name), {});
  }

  /** List applications (`model.get` without a name, the current form). */
  async list(): Promise<ListModelsResponse> {
    const raw = await this.request('get');
    return withDefaults<ListModelsResponse>(raw, this.subject('get'), { models: [] });
  }

  /** List applications with the deprecated `model.list` subject (bare array reply); an error reply is thrown. */
  async listDeprecated(): Promise<ModelSummary[]> {
    const raw = await this.request('list');
    return decodeSummaryArray(raw, this.subject('list'));
  }

  /** All stored versions, oldest first, with the deployed flag. */
  async versions(name: string): Promise<VersionResponse> {
    const raw = await this.request('versions', name);
    return withDefaults<VersionResponse>(raw, this.subject('versions', name), { versions: [] });
  }

  /** Delete one version, or the whole application when `version` is omitted. */
  async delete(name: string, version?: string): Promise<DeleteModelResponse> {
    const raw = await this.request('del', name, versionBody(version));
    return withDefaults<DeleteModelResponse>(raw, this.subject('del', name), { undeploy: false });
  }

  /** Deploy a version (latest when omitted). `acknowledged` means accepted, not running. */
  async deploy(name: string, version?: string): Promise<DeployModelResponse> {
    const raw = await this.request('deploy', name, versionBody(version));
    return withDefaults<DeployModelResponse>(raw, this.subject('deploy', name), { name, version: version ?? null });
  }

  /**
   * The version `rollback(name)` would deploy: wadm-ts's `previous_version` of `model.versions` (the most
   * recent version other than the deployed one that reached `deployed`). A failed reply, or none known
   * (also from the Rust wadm, which keeps no such history), is answered with a `DeployModelResponse` error.
   */
  async rollbackTarget(name: string): Promise<{ version: string } | { error: DeployModelResponse }> {
    const vs = await this.versions(name);
    const error = (message: string): { error: DeployModelResponse } => ({ error: { result: vs.result === 'notfound' ? 'notfound' : 'error', message, name, version: null } });
    if (vs.result !== 'success') return error(vs.message || `wadm replied "${vs.result}"`);
    const prev = vs.previous_version;
    if (!prev) {
      return error(
        `Application ${name} has no previous deployed version to roll back to (none of its other stored versions is known to have reached deployed; a Rust wadm records none); give the version to deploy: rollback ${name} <version>`,
      );
    }
    return { version: prev };
  }

  /**
   * Deploy the previous deployed version (see `rollbackTarget`), or `version` when given, through the
   * ordinary `model.deploy`. Returns the deploy reply, or an error reply when there is no previous version.
   */
  async rollback(name: string, version?: string): Promise<DeployModelResponse> {
    if (version !== undefined) return this.deploy(name, version);
    const t = await this.rollbackTarget(name);
    return 'error' in t ? t.error : this.deploy(name, t.version);
  }

  /** Undeploy (versions are kept); `nonDestructive` leaves what the app runs in place. */
  async undeploy(name: string, opts: UndeployOptions = {}): Promise<DeployModelResponse> {
    const raw = await this.request('undeploy', name, opts.nonDestructive === true ? { json: { non_destructive: true } } : undefined);
    return withDefaults<DeployModelResponse>(raw, this.subject('undeploy', name), { name, version: null });
  }

  /**
   * wadm-ts only: what deploying a stored version (latest when omitted) would change and the commands it
   * would issue now. Nothing is deployed. (The Rust wadm has no such subject: no responders / an error.)
   */
  async plan(name: string, version?: string): Promise<PlanModelResponse> {
    const raw = await this.request('plan', name, versionBody(version));
    return withDefaults<PlanModelResponse>(raw, this.subject('plan', name), PLAN_DEFAULTS(name, version ?? ''));
  }

  /**
   * wadm-ts only: the plan of deploying a manifest that need not be stored (it is not stored by this).
   * Parsed locally like `put` (a parse error is `invalid_manifest`), sent as JSON.
   */
  async planManifest(manifest: string | Manifest, opts: PutOptions = {}): Promise<PlanModelResponse> {
    const parsed = typeof manifest === 'string' ? parseLocally(manifest, opts.contentType) : manifest;
    const name = parsed.metadata.name.trim();
    const h = headers();
    h.set('Content-Type', 'application/json');
    const raw = await this.request('plan', name, { text: serializeManifest(parsed), headers: h });
    return withDefaults<PlanModelResponse>(raw, this.subject('plan', name), PLAN_DEFAULTS(name, parsed.metadata.annotations['version'] ?? ''));
  }

  /** The last published status of an application (wadm does not check that it exists). */
  async status(name: string): Promise<StatusResponse> {
    const raw = await this.request('status', name);
    return withDefaults<StatusResponse>(raw, this.subject('status', name), {});
  }

  /** Live status updates; messages that are not a Status are skipped. */
  subscribeStatus(name: string): StatusSubscription {
    checkName(name);
    const sub = this.nc.subscribe(statusSubject(this.lattice, name));
    return { stop: () => sub.unsubscribe(), [Symbol.asyncIterator]: () => decodeStatuses(sub) };
  }

  private subject(operation: ApiOperation, name?: string): string {
    const parts: Parameters<typeof apiSubject>[0] = { prefix: this.prefix, lattice: this.lattice, operation };
    if (name !== undefined) parts.name = name;
    if (this.account !== undefined) parts.account = this.account;
    return apiSubject(parts);
  }

  /** The one place that talks to NATS: send, map transport errors, JSON-decode the reply. */
  private async request(op: ApiOperation, name?: string, body?: RequestBody): Promise<unknown> {
    if (name !== undefined) checkName(name);
    const subject = this.subject(op, name);
    const opts: { timeout: number; headers?: MsgHdrs } = { timeout: this.timeoutMs };
    let payload: string | undefined;
    if (body !== undefined && 'json' in body) payload = JSON.stringify(body.json);
    if (body !== undefined && 'text' in body) {
      payload = body.text;
      opts.headers = body.headers;
    }
    try {
      const msg = await this.nc.request(subject, payload, opts);
      return parseReplyJson(msg.data, subject);
    } catch (e) {
      throw this.transportError(e, subject);
    }
  }

  private transportError(e: unknown, subject: string): unknown {
    if (e instanceof WadmClientError) return e;
    if (isNoResponders(e)) return new WadmClientError('no_responders', NO_RESPONDERS_MESSAGE, { cause: e });
    if (isTimeout(e)) {
      return new WadmClientError(
        'timeout',
        `Timed out after ${this.timeoutMs} ms waiting for wadm to reply on ${subject}. Ensure wadm is running and healthy.`,
        { cause: e },
      );
    }
    return new WadmClientError('transport', `Request on ${subject} failed: ${describeError(e)}`, { cause: e });
  }
}

const PLAN_DEFAULTS = (name: string, version: string): Omit<PlanModelResponse, 'result' | 'message'> => ({ name, version, deployed_version: null, changes: [], commands: [] });

function parseLocally(text: string, contentType: string | undefined): Manifest {
  const result = contentType === undefined ? parseManifest(text) : parseManifest(text, { contentType });
  if (!result.ok) throw new WadmClientError('invalid_manifest', `Invalid manifest: ${describeError(result.error)}`);
  return result.manifest;
}

function versionBody(version: string | undefined): RequestBody {
  if (version === undefined) return undefined;
  const body: VersionRequest = { version };
  return { json: body };
}

function checkName(name: string): void {
  if (!isValidName(name)) {
    throw new WadmClientError(
      'invalid_argument',
      `Invalid application name ${JSON.stringify(name)}: names can only contain alphanumeric characters, dashes, and underscores.`,
    );
  }
}

function isNoResponders(e: unknown): boolean {
  if (e instanceof errors.NoRespondersError) return true;
  return e instanceof errors.RequestError && e.isNoResponders();
}

function isTimeout(e: unknown): boolean {
  if (e instanceof errors.TimeoutError) return true;
  return e instanceof Error && e.cause instanceof errors.TimeoutError;
}

async function* decodeStatuses(sub: Subscription): AsyncGenerator<Status> {
  try {
    for await (const msg of sub) {
      const status = decodeStatus(msg.data);
      if (status !== undefined) yield status;
    }
  } finally {
    sub.unsubscribe();
  }
}

function decodeStatus(data: Uint8Array): Status | undefined {
  try {
    return statusFromWire(JSON.parse(new TextDecoder().decode(data)));
  } catch {
    return undefined;
  }
}
