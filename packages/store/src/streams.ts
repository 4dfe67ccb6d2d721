/**
 * JetStream resources wadm-ts needs for the API: the manifest KV bucket, the status stream and the
 * wadm event stream — and the two functions every package uses to ensure its own streams and buckets.
 *
 * Missing resources are created with the configured storage and `num_replicas`. Existing ones are never
 * deleted: their `num_replicas` (and any field the caller lists in `reconcile`) is brought to the wanted
 * value with a stream update where NATS allows it; an update NATS refuses is logged as a warning and the
 * stream is used as it is. Transient failures (timeouts, no meta leader yet) are thrown so that the caller
 * can retry them (see retryTransient).
 */
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamConfig, type StreamInfo, type StreamUpdateConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@wadm-ts/obs';
import { describeError, isTransientJetStreamError, jetStreamErrCode } from './retry.js';

export const STATUS_STREAM = 'wadm_status';
export const EVENTS_STREAM = 'wadm_events';
const SEVENTY_SECONDS_NS = 70 * 1_000_000_000;

/** err_code: "stream not found". */
const STREAM_NOT_FOUND = 10059;
/** err_code: "stream name already in use with a different configuration" (another replica created it first). */
const STREAM_NAME_EXISTS = 10058;
/** err_code: "replicas > 1 not supported in non-clustered mode". */
const REPLICAS_NOT_SUPPORTED = 10074;
/** err_code: "no suitable peers for placement" (more replicas than JetStream servers). */
const NO_PEERS = 10005;

export interface JetStreamSettings {
  domain?: string;
  /** `file` (default) or `memory`. */
  persistence?: 'file' | 'memory';
  /** Replicas of every stream and bucket wadm-ts creates, and what existing ones are updated to (default 1 for new ones; existing ones are left alone when unset). */
  replicas?: number;
}

export interface JetStreamContext {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
  settings: JetStreamSettings;
  /** Where ensureStream / ensureBucket log refused updates (process warnings when absent). */
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * The clients for one connection. `jetstreamManager` checks the JetStream API with an account-info
 * request, which times out on a cluster that is still electing its meta leader: retry this with
 * retryTransient at startup.
 */
export async function jetStreamContext(nc: NatsConnection, settings: JetStreamSettings = {}, opts: { logger?: Pick<Logger, 'warn' | 'info'> } = {}): Promise<JetStreamContext> {
  const o = settings.domain ? { domain: settings.domain } : {};
  const js = jetstream(nc, o);
  const jsm = await jetstreamManager(nc, o);
  return { nc, js, jsm, kvm: new Kvm(js), settings, ...(opts.logger ? { logger: opts.logger } : {}) };
}

function storageOf(s: JetStreamSettings): StorageType {
  return s.persistence === 'memory' ? StorageType.Memory : StorageType.File;
}

function warn(ctx: JetStreamContext, fields: Record<string, unknown>, msg: string): void {
  if (ctx.logger) ctx.logger.warn(fields, msg);
  else process.emitWarning(`${msg} ${JSON.stringify(fields)}`, 'WadmJetStreamWarning');
}

function isStreamNotFound(err: unknown): boolean {
  return jetStreamErrCode(err) === STREAM_NOT_FOUND || /stream not found/i.test(String((err as Error)?.message));
}

function isAlreadyExists(err: unknown): boolean {
  return jetStreamErrCode(err) === STREAM_NAME_EXISTS || /already in use|already exists/i.test(String((err as Error)?.message));
}

/** Fields of an existing stream that ensureStream can bring to the wanted value with an update. */
export type ReconcilableStreamField = Exclude<keyof StreamUpdateConfig, 'num_replicas'>;

export interface EnsureStreamOptions {
  /**
   * Fields of an existing stream to update to the value in the wanted config when they differ
   * (e.g. `['max_msgs_per_subject']`). `num_replicas` is always reconciled (to `settings.replicas`).
   */
  reconcile?: readonly ReconcilableStreamField[];
}

export interface EnsureResult {
  name: string;
  /** This call created the resource. */
  created: boolean;
  /** Fields this call changed on an existing resource. */
  updated: string[];
  /** Updates NATS refused (logged as warnings): field → error. */
  refused: Record<string, string>;
  /** num_replicas after this call. */
  replicas: number;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Bring an existing stream's `num_replicas` (and the listed fields) to the wanted values. Never deletes.
 * Transient failures are thrown; refusals are logged and reported in the result.
 */
export async function reconcileStream(ctx: JetStreamContext, info: StreamInfo, wanted: Partial<StreamConfig>, fields: readonly ReconcilableStreamField[] = []): Promise<EnsureResult> {
  const name = info.config.name;
  const result: EnsureResult = { name, created: false, updated: [], refused: {}, replicas: info.config.num_replicas };
  const update = async (changes: Partial<StreamUpdateConfig>, what: string): Promise<void> => {
    const from = Object.fromEntries(Object.keys(changes).map((k) => [k, (info.config as unknown as Record<string, unknown>)[k]]));
    try {
      const after = await ctx.jsm.streams.update(name, changes);
      info = after;
      result.updated.push(...Object.keys(changes));
      result.replicas = after.config.num_replicas;
      ctx.logger?.info({ stream: name, from, to: changes }, `stream ${name}: ${what} updated`);
    } catch (err) {
      // A timeout or a missing leader is worth another attempt by the caller; "no suitable peers" on an
      // update means more replicas than servers, which waiting will not fix: a refusal.
      if (isTransientJetStreamError(err) && jetStreamErrCode(err) !== NO_PEERS) throw err;
      for (const k of Object.keys(changes)) result.refused[k] = describeError(err);
      warn(ctx, { stream: name, from, to: changes, err: describeError(err) }, `stream ${name}: NATS refused updating ${what}; using the stream as it is`);
    }
  };

  const changes: Partial<StreamUpdateConfig> = {};
  for (const f of fields) {
    const want = (wanted as Record<string, unknown>)[f];
    if (want === undefined) continue;
    if (!same((info.config as unknown as Record<string, unknown>)[f], want)) (changes as Record<string, unknown>)[f] = want;
  }
  if (Object.keys(changes).length > 0) await update(changes, Object.keys(changes).join(', '));

  const wantReplicas = ctx.settings.replicas;
  if (wantReplicas !== undefined && info.config.num_replicas !== wantReplicas) {
    if (wantReplicas > 1 && info.cluster === undefined) {
      // nats-server 2.9 accepts raising num_replicas on a non-clustered server, then cannot recover the
      // stream after a restart ("replicas > 1 not supported in non-clustered mode"): it is gone, with its data.
      result.refused['num_replicas'] = 'the server is not clustered';
      warn(ctx, { stream: name, replicas: info.config.num_replicas, wanted: wantReplicas }, `stream ${name}: not raising num_replicas on a non-clustered JetStream server`);
    } else {
      await update({ num_replicas: wantReplicas }, 'num_replicas');
    }
  }
  const wantStorage = wanted.storage ?? storageOf(ctx.settings);
  if (info.config.storage !== wantStorage) {
    warn(ctx, { stream: name, storage: info.config.storage, wanted: wantStorage }, `stream ${name}: storage cannot be changed by an update; keeping it`);
  }
  return result;
}

/**
 * Create a stream when it is missing (with the configured storage and replicas); on an existing one,
 * reconcile `num_replicas` and the fields listed in `opts.reconcile`. Never deletes.
 */
export async function ensureStream(ctx: JetStreamContext, cfg: Partial<StreamConfig> & { name: string; subjects: string[] }, opts: EnsureStreamOptions = {}): Promise<EnsureResult> {
  const existing = await streamInfo(ctx, cfg.name);
  if (existing) return reconcileStream(ctx, existing, cfg, opts.reconcile);
  const replicas = ctx.settings.replicas ?? 1;
  const full: Partial<StreamConfig> & { name: string } = { storage: storageOf(ctx.settings), num_replicas: replicas, ...cfg };
  try {
    const info = await ctx.jsm.streams.add(full);
    return { name: cfg.name, created: true, updated: [], refused: {}, replicas: info.config.num_replicas };
  } catch (err) {
    if (jetStreamErrCode(err) === REPLICAS_NOT_SUPPORTED && (full.num_replicas ?? 1) > 1) {
      warn(ctx, { stream: cfg.name, wanted: full.num_replicas, err: describeError(err) }, `stream ${cfg.name}: the server is not clustered; creating it with 1 replica`);
      try {
        const info = await ctx.jsm.streams.add({ ...full, num_replicas: 1 });
        return { name: cfg.name, created: true, updated: [], refused: { num_replicas: describeError(err) }, replicas: info.config.num_replicas };
      } catch (err2) {
        if (!isAlreadyExists(err2)) throw err2;
      }
    } else if (!isAlreadyExists(err)) {
      throw err;
    }
  }
  // Another replica created it first: reconcile what it made.
  const raced = await streamInfo(ctx, cfg.name);
  if (!raced) throw new Error(`stream ${cfg.name}: creating it reported "already in use", but it is not there`);
  return reconcileStream(ctx, raced, cfg, opts.reconcile);
}

async function streamInfo(ctx: JetStreamContext, name: string): Promise<StreamInfo | undefined> {
  try {
    return await ctx.jsm.streams.info(name);
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  }
}

export async function ensureApiStreams(ctx: JetStreamContext): Promise<void> {
  await ensureStream(ctx, {
    name: STATUS_STREAM,
    subjects: ['wadm.status.*.*'],
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 10,
    allow_direct: true,
  });
  await ensureStream(ctx, {
    name: EVENTS_STREAM,
    subjects: ['wadm.evt.*.>'],
    retention: RetentionPolicy.Limits,
    max_age: SEVENTY_SECONDS_NS,
  });
}

/** The stream behind KV bucket `name`. */
export function bucketStream(name: string): string {
  return `KV_${name}`;
}

/**
 * Open (creating when missing) a KV bucket with history 1, the configured storage and replicas; an
 * existing bucket's stream (`KV_<name>`) gets its `num_replicas` reconciled like any stream. Never deletes.
 */
export async function ensureBucket(ctx: JetStreamContext, name: string): Promise<KV> {
  const opts = { history: 1, storage: storageOf(ctx.settings), replicas: ctx.settings.replicas ?? 1 };
  let kv: KV;
  try {
    kv = await ctx.kvm.create(name, opts);
  } catch (err) {
    if (jetStreamErrCode(err) === REPLICAS_NOT_SUPPORTED && opts.replicas > 1) {
      warn(ctx, { bucket: name, wanted: opts.replicas, err: describeError(err) }, `bucket ${name}: the server is not clustered; creating it with 1 replica`);
      kv = await createOrOpen(ctx, name, { ...opts, replicas: 1 });
    } else if (isAlreadyExists(err)) {
      kv = await ctx.kvm.create(name, opts); // created by another replica meanwhile: now it is found
    } else {
      throw err;
    }
  }
  const info = await streamInfo(ctx, bucketStream(name));
  if (info) await reconcileStream(ctx, info, { storage: opts.storage });
  return kv;
}

async function createOrOpen(ctx: JetStreamContext, name: string, opts: { history: number; storage: StorageType; replicas: number }): Promise<KV> {
  try {
    return await ctx.kvm.create(name, opts);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return ctx.kvm.create(name, opts);
  }
}
