/**
 * JetStream resources wadm-ts needs for the API: the manifest KV bucket, the status stream and the
 * wadm event stream — and the two functions every package uses to ensure its own streams and buckets.
 *
 * Missing resources are created with the configured storage and `num_replicas`. Existing ones are never
 * deleted: their `num_replicas` (and any field the caller lists in `reconcile`) is brought to the wanted
 * value with a stream update where NATS allows it; an update NATS refuses is logged as a warning and the
 * stream is used as it is. Transient failures (timeouts, no meta leader yet) are thrown so that the caller
 * can retry them (see retryTransient).
 *
 * An existing stream wadm-ts cannot use (stream-compat.ts: other subjects, retention, …), such as the Rust
 * wadm's `wadm_commands`, is never changed either: ensureStream uses a stream of wadm-ts's own name beside
 * it, or — where NATS would refuse that (overlapping subjects) — fails with a StreamConflictError that
 * names the streams in the way. Callers read the name in use with streamName().
 */
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamConfig, type StreamInfo, type StreamUpdateConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@wadm-ts/obs';
import {
  bucketStream,
  STATUS_STREAM,
  STATUS_STREAM_BESIDE,
  STATUS_SUBJECTS,
  TENANT_STATUS_STREAM,
  TENANT_STATUS_SUBJECTS,
  WADM_EVENT_SUBJECTS,
  WADM_EVENTS_STREAM,
  WADM_EVENTS_STREAM_BESIDE,
} from '@wadm-ts/protocol';
import { describeError, isTransientJetStreamError } from './retry.js';
import { isStreamNameExists, isStreamNotFound, isSubjectsOverlap, jetStreamErrCode, JsErrCode } from './js-errors.js';
import { StreamConflictError, describeDifferences, incompatibilities, subjectListsCollide, toleratedDifferences, type StreamDifference } from './stream-compat.js';

export * from './stream-compat.js';

const SEVENTY_SECONDS_NS = 70 * 1_000_000_000;

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
  /** Where ensureStream / ensureBucket log refused updates and conflicts (process warnings when absent). */
  logger?: StreamLogger;
  /**
   * Canonical stream name → the stream ensureStream resolved it to: the same name, or wadm-ts's own name
   * beside an incompatible stream (see ensureStream). Read it with streamName().
   */
  streams?: Map<string, string>;
}

export type StreamLogger = Pick<Logger, 'warn' | 'info'> & { error?: Logger['error'] };

/**
 * The clients for one connection. `jetstreamManager` checks the JetStream API with an account-info
 * request, which times out on a cluster that is still electing its meta leader: retry this with
 * retryTransient at startup.
 */
export async function jetStreamContext(nc: NatsConnection, settings: JetStreamSettings = {}, opts: { logger?: StreamLogger } = {}): Promise<JetStreamContext> {
  const o = settings.domain ? { domain: settings.domain } : {};
  const js = jetstream(nc, o);
  const jsm = await jetstreamManager(nc, o);
  return { nc, js, jsm, kvm: new Kvm(js), settings, streams: new Map(), ...(opts.logger ? { logger: opts.logger } : {}) };
}

function storageOf(s: JetStreamSettings): StorageType {
  return s.persistence === 'memory' ? StorageType.Memory : StorageType.File;
}

function warn(ctx: JetStreamContext, fields: Record<string, unknown>, msg: string): void {
  if (ctx.logger) ctx.logger.warn(fields, msg);
  else process.emitWarning(`${msg} ${JSON.stringify(fields)}`, 'WadmJetStreamWarning');
}


/** Fields of an existing stream that ensureStream can bring to the wanted value with an update. */
export type ReconcilableStreamField = Exclude<keyof StreamUpdateConfig, 'num_replicas'>;

export interface EnsureStreamOptions {
  /**
   * Fields of an existing stream to update to the value in the wanted config when they differ
   * (e.g. `['max_msgs_per_subject']`). `num_replicas` is always reconciled (to `settings.replicas`).
   */
  reconcile?: readonly ReconcilableStreamField[];
  /**
   * wadm-ts's own name for this stream, used when a stream of the wanted name exists with a configuration
   * wadm-ts cannot use (e.g. `wadm_ts_commands` beside the Rust wadm's `wadm_commands`).
   */
  fallback?: string;
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
  /** Set when `name` is the fallback: the stream it stands for. */
  canonical?: string;
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
 * reconcile `num_replicas` and the fields listed in `opts.reconcile`. Never deletes, and never changes
 * anything else of an existing stream.
 *
 * An existing stream of that name whose configuration wadm-ts cannot use (other subjects, another
 * retention, a mirror, sealed: see stream-compat.ts) — e.g. the Rust wadm's `wadm_commands` — is left
 * alone. With `opts.fallback`, wadm-ts uses (creating it when missing) a stream of that name beside it
 * and logs a warning naming both streams and the differences; without one, or when no stream can be
 * created beside it (its subjects would overlap: NATS forbids that), it throws a StreamConflictError
 * after logging the conflict. Once a fallback stream exists it is preferred, also when the original is
 * gone, so that every replica (and every restart) keeps using the same stream. The name in use is the
 * result's `name` and is recorded in `ctx.streams` (see streamName).
 */
export async function ensureStream(ctx: JetStreamContext, cfg: Partial<StreamConfig> & { name: string; subjects: string[] }, opts: EnsureStreamOptions = {}): Promise<EnsureResult> {
  const result = await resolveStream(ctx, cfg, opts);
  (ctx.streams ??= new Map()).set(cfg.name, result.name);
  return result;
}

/** The stream wadm-ts uses for `canonical` (its fallback after ensureStream moved beside an incompatible one). */
export function streamName(ctx: Pick<JetStreamContext, 'streams'>, canonical: string): string {
  return ctx.streams?.get(canonical) ?? canonical;
}

async function resolveStream(ctx: JetStreamContext, cfg: Partial<StreamConfig> & { name: string; subjects: string[] }, opts: EnsureStreamOptions): Promise<EnsureResult> {
  const skip: readonly string[] = opts.reconcile ?? [];
  const fallback = opts.fallback;
  let warned = false;
  for (let attempt = 0; ; attempt++) {
    const existing = await streamInfo(ctx, cfg.name);
    const beside = fallback ? await streamInfo(ctx, fallback) : undefined;
    const bad = existing ? incompatibilities(existing.config, cfg, skip) : [];
    if (fallback && beside && incompatibilities(beside.config, cfg, skip).length === 0) {
      // Moved beside earlier (by this replica or another): stay there.
      if (existing && bad.length > 0) {
        if (!warned) warnBeside(ctx, cfg.name, fallback, bad);
      } else {
        // (A usable stream of the canonical name cannot exist beside it: their subjects would overlap.)
        ctx.logger?.info({ stream: cfg.name, using: fallback }, `stream ${fallback}: in use for ${cfg.name} (created beside an incompatible ${cfg.name} earlier, which is gone now); it stays in use`);
      }
      return { ...(await reconcileExisting(ctx, beside, { ...cfg, name: fallback }, opts)), canonical: cfg.name };
    }
    if (existing && bad.length === 0) return reconcileExisting(ctx, existing, cfg, opts);
    if (!existing) {
      const created = await createStream(ctx, cfg, cfg.name, undefined);
      if (created) return created;
    } else {
      const conflict = (why: string, overlapping: string[] = []): StreamConflictError => {
        const msg = `stream ${cfg.name} exists with a configuration wadm-ts cannot use (${describeDifferences(bad)}) and ${why}. wadm-ts changes and deletes nothing of it; remove or fix that stream, or point wadm-ts at a NATS account without it`;
        logError(ctx, { stream: cfg.name, differences: bad, ...(fallback ? { fallback } : {}), ...(overlapping.length ? { overlapping } : {}) }, msg);
        return new StreamConflictError(msg, cfg.name, bad, overlapping);
      };
      if (!fallback) throw conflict('wadm-ts has no other name for it');
      if (beside) {
        const alsoBad = incompatibilities(beside.config, cfg, skip);
        throw conflict(`wadm-ts's own stream ${fallback} exists too but cannot be used either (${describeDifferences(alsoBad)})`);
      }
      if (subjectListsCollide(existing.config.subjects ?? [], cfg.subjects)) {
        throw conflict(`captures subjects wadm-ts needs (${cfg.subjects.join(', ')}), so no stream can be created beside it (NATS forbids overlapping subjects)`, [cfg.name]);
      }
      if (!warned) warnBeside(ctx, cfg.name, fallback, bad);
      warned = true;
      const created = await createStream(ctx, { ...cfg, name: fallback }, cfg.name, fallback);
      if (created) return { ...created, canonical: cfg.name };
    }
    // Another replica created it meanwhile ("already in use"): look again.
    if (attempt >= 3) throw new Error(`stream ${cfg.name}: creating it kept reporting "already in use", but no usable stream is there`);
  }
}

function warnBeside(ctx: JetStreamContext, name: string, fallback: string, bad: readonly StreamDifference[]): void {
  warn(
    ctx,
    { stream: name, using: fallback, differences: bad },
    `stream ${name} exists with a configuration wadm-ts cannot use (${describeDifferences(bad)}), probably left by the Rust wadm; wadm-ts leaves it untouched and uses its own stream ${fallback} beside it`,
  );
}

function logError(ctx: JetStreamContext, fields: Record<string, unknown>, msg: string): void {
  if (ctx.logger?.error) ctx.logger.error(fields, msg);
  else warn(ctx, fields, msg);
}

/** Streams whose harmless differences were logged already (once per context, not on every re-ensure). */
const toleratedLogged = new WeakMap<JetStreamContext, Set<string>>();

/** Use an existing, compatible stream: reconcile what may be reconciled; log what differs but is harmless. */
async function reconcileExisting(ctx: JetStreamContext, info: StreamInfo, cfg: Partial<StreamConfig>, opts: EnsureStreamOptions): Promise<EnsureResult> {
  const tolerated = toleratedDifferences(info.config, cfg, opts.reconcile ?? []);
  let logged = toleratedLogged.get(ctx);
  if (!logged) toleratedLogged.set(ctx, (logged = new Set()));
  if (tolerated.length > 0 && !logged.has(info.config.name)) {
    logged.add(info.config.name);
    ctx.logger?.info(
      { stream: info.config.name, differences: tolerated },
      `stream ${info.config.name}: using it as it is; it differs from what wadm-ts would create in ways wadm-ts works with (${describeDifferences(tolerated, 'wadm-ts would create')})`,
    );
  }
  return reconcileStream(ctx, info, cfg, opts.reconcile);
}

/**
 * Create `cfg` (named `name`; `canonical` is the stream it stands for). Undefined when a stream of that
 * name appeared meanwhile (another replica); a StreamConflictError when other streams hold its subjects.
 */
async function createStream(ctx: JetStreamContext, cfg: Partial<StreamConfig> & { name: string; subjects: string[] }, canonical: string, fallback: string | undefined): Promise<EnsureResult | undefined> {
  const replicas = ctx.settings.replicas ?? 1;
  const full: Partial<StreamConfig> & { name: string } = { storage: storageOf(ctx.settings), num_replicas: replicas, ...cfg };
  const created = (info: StreamInfo, refused: Record<string, string> = {}): EnsureResult => {
    if (fallback) ctx.logger?.info({ stream: canonical, using: fallback, subjects: cfg.subjects }, `stream ${fallback} created (for ${canonical})`);
    return { name: cfg.name, created: true, updated: [], refused, replicas: info.config.num_replicas };
  };
  const overlap = async (err: unknown): Promise<never> => {
    const others = await overlappingStreams(ctx, cfg.subjects);
    const msg = `cannot create stream ${cfg.name}${fallback ? ` (for ${canonical})` : ''}: its subjects ${cfg.subjects.join(', ')} overlap those of stream(s) ${others.join(', ') || '(not found)'}, and NATS forbids overlapping subjects. wadm-ts changes and deletes nothing of them; remove them or change their subjects so they do not capture ${cfg.subjects.join(', ')}`;
    logError(ctx, { stream: canonical, ...(fallback ? { creating: fallback } : {}), subjects: cfg.subjects, overlapping: others, err: describeError(err) }, msg);
    throw new StreamConflictError(msg, canonical, [], others);
  };
  try {
    return created(await ctx.jsm.streams.add(full));
  } catch (err) {
    if (isSubjectsOverlap(err)) return overlap(err);
    if (jetStreamErrCode(err) === JsErrCode.ReplicasNotSupported && (full.num_replicas ?? 1) > 1) {
      warn(ctx, { stream: cfg.name, wanted: full.num_replicas, err: describeError(err) }, `stream ${cfg.name}: the server is not clustered; creating it with 1 replica`);
      try {
        return created(await ctx.jsm.streams.add({ ...full, num_replicas: 1 }), { num_replicas: describeError(err) });
      } catch (err2) {
        if (isSubjectsOverlap(err2)) return overlap(err2);
        if (!isStreamNameExists(err2)) throw err2;
      }
    } else if (!isStreamNameExists(err)) {
      throw err;
    }
  }
  return undefined;
}


/** Streams whose subjects overlap any of `subjects`. */
async function overlappingStreams(ctx: JetStreamContext, subjects: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  try {
    for await (const si of ctx.jsm.streams.list()) {
      if (subjectListsCollide(si.config.subjects ?? [], subjects)) out.add(si.config.name);
    }
  } catch {
    // Only for the message.
  }
  return [...out].sort();
}

async function streamInfo(ctx: JetStreamContext, name: string): Promise<StreamInfo | undefined> {
  try {
    return await ctx.jsm.streams.info(name);
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * The status and wadm event streams. Both have the Rust wadm's subjects and retention, so the Rust wadm's
 * streams are used as they are (status history included); where one is incompatible, wadm-ts's own
 * stream beside it (`wadm_ts_status`, `wadm_ts_events`) when that is possible (see ensureStream).
 */
export async function ensureApiStreams(ctx: JetStreamContext, opts: { multitenant?: boolean } = {}): Promise<void> {
  if (opts.multitenant) {
    await ensureStream(ctx, {
      name: TENANT_STATUS_STREAM,
      subjects: [TENANT_STATUS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 10,
      allow_direct: true,
    });
  }
  await ensureStream(
    ctx,
    {
      name: STATUS_STREAM,
      subjects: [STATUS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 10,
      allow_direct: true,
    },
    { fallback: STATUS_STREAM_BESIDE },
  );
  await ensureStream(
    ctx,
    {
      name: WADM_EVENTS_STREAM,
      subjects: [WADM_EVENT_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_age: SEVENTY_SECONDS_NS,
    },
    { fallback: WADM_EVENTS_STREAM_BESIDE },
  );
}

/**
 * For a work-queue stream that refused `consumer` because other consumers overlap it (someone else
 * consumes the stream, e.g. a Rust wadm's per-lattice consumers): logs the conflict naming them and
 * returns the StreamConflictError to throw. wadm-ts deletes no consumer.
 */
export async function workQueueConsumerConflict(ctx: JetStreamContext, canonical: string, stream: string, consumer: string, err: unknown): Promise<StreamConflictError> {
  const others: string[] = [];
  try {
    for await (const c of ctx.jsm.consumers.list(stream)) if (c.name !== consumer) others.push(c.name);
  } catch {
    // Only for the message.
  }
  const msg = `stream ${stream} is a work queue that other consumers read (${others.join(', ') || 'unknown'}), so NATS refuses wadm-ts's consumer ${consumer} on it (${describeError(err)}). wadm-ts deletes none of them; remove those consumers (or the stream, once nothing else needs it)`;
  logError(ctx, { stream: canonical, ...(stream !== canonical ? { using: stream } : {}), consumer, otherConsumers: others, err: describeError(err) }, msg);
  return new StreamConflictError(msg, canonical, [{ field: 'consumers', found: others, wanted: [consumer] }]);
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
    if (jetStreamErrCode(err) === JsErrCode.ReplicasNotSupported && opts.replicas > 1) {
      warn(ctx, { bucket: name, wanted: opts.replicas, err: describeError(err) }, `bucket ${name}: the server is not clustered; creating it with 1 replica`);
      kv = await createOrOpen(ctx, name, { ...opts, replicas: 1 });
    } else if (isStreamNameExists(err)) {
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
    if (!isStreamNameExists(err)) throw err;
    return ctx.kvm.create(name, opts);
  }
}
