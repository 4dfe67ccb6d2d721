/**
 * Bringing an existing stream to the wanted configuration where NATS allows it: `num_replicas` (to the
 * configured replicas) and the fields the caller lists. Never deletes; an update NATS refuses is logged
 * as a warning and the stream used as it is; transient failures are thrown for the caller to retry.
 */
import type { StreamConfig, StreamInfo, StreamUpdateConfig } from '@nats-io/jetstream';
import { describeError, isTransientJetStreamError } from './retry.js';
import { jetStreamErrCode } from './js-errors.js';
import { storageOf, warn, type JetStreamContext } from './jetstream-context.js';

/** err_code: "no suitable peers for placement" (more replicas than JetStream servers). */
const NO_PEERS = 10005;

/** Fields of an existing stream that ensureStream can bring to the wanted value with an update. */
export type ReconcilableStreamField = Exclude<keyof StreamUpdateConfig, 'num_replicas'>;

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
