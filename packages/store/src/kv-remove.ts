/**
 * Removing keys from buckets that replicas watch, and dropping the markers of removed keys.
 *
 * A key is removed with a delete marker (`KV-Operation: DEL`, compare-and-set on the revision), never
 * with a purge. A KV purge is a subject rollup, and nats-server 2.9.10 moves every consumer of the
 * stream forward to the rollup (fixed upstream in nats-io/nats-server#3838, 2023): a watch that lags
 * behind the server (a busy replica that reads its socket late) then silently skips every change in
 * between, of every key, and the in-memory views built on it stay wrong. With history 1 the marker
 * replaces the value just the same. For the same reason markers are dropped one message at a time
 * (`dropMarkers`), never with a filtered stream purge.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import { isNoMessage } from './js-errors.js';

/** Remove `key` if it is still at `revision` (compare-and-set; throws the conflict otherwise). */
export async function removeKey(kv: KV, key: string, revision: number): Promise<void> {
  await kv.delete(key, { previousSeq: revision });
}

/**
 * Delete the last message of each subject when it is at most `maxSeq` (when given), stored before
 * `opts.storedBefore` (ms since the epoch, when given) and (unless `anyMessage`) a KV delete or purge
 * marker, one message at a time: consumers skip a deleted message and keep their place. Returns how many
 * were deleted.
 */
export async function dropMarkers(
  jsm: JetStreamManager,
  stream: string,
  subjects: readonly string[],
  maxSeq = Number.POSITIVE_INFINITY,
  opts: { anyMessage?: boolean; storedBefore?: number } = {},
): Promise<number> {
  let dropped = 0;
  for (const subject of subjects) {
    try {
      const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
      if (!m || m.seq > maxSeq) continue;
      if (opts.storedBefore !== undefined && m.time.getTime() >= opts.storedBefore) continue;
      const op = m.header?.get(KV_OPERATION);
      if (!opts.anyMessage && op !== 'DEL' && op !== 'PURGE') continue;
      if (await jsm.streams.deleteMessage(stream, m.seq, false)) dropped++;
    } catch (err) {
      if (!isNoMessage(err)) throw err;
    }
  }
  return dropped;
}

/** Every subject of `stream` matching `filter` that holds a message (one stream-info call). */
export async function subjectsOf(jsm: JetStreamManager, stream: string, filter: string): Promise<string[]> {
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  return Object.keys(info.state.subjects ?? {});
}

const KV_OPERATION = 'KV-Operation';
