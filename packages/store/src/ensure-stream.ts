/**
 * Ensuring a stream: created when missing (configured storage and replicas); an existing one is never
 * deleted, and only brought to the wanted `num_replicas` and listed fields (stream-update.ts).
 *
 * An existing stream wadm-ts cannot use (stream-compat.ts: other subjects, retention, …), such as the Rust
 * wadm's `wadm_commands`, is never changed either: ensureStream uses a stream of wadm-ts's own name beside
 * it, or — where NATS would refuse that (overlapping subjects) — fails with a StreamConflictError that
 * names the streams in the way. Callers read the name in use with streamName().
 */
import type { StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { describeError } from './retry.js';
import { isStreamNameExists, isSubjectsOverlap, jetStreamErrCode, JsErrCode } from './js-errors.js';
import { StreamConflictError, describeDifferences, incompatibilities, subjectListsCollide, toleratedDifferences, type StreamDifference } from './stream-compat.js';
import { logError, storageOf, streamInfo, warn, type JetStreamContext } from './jetstream-context.js';
import { reconcileStream, type EnsureResult, type ReconcilableStreamField } from './stream-update.js';

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
