/**
 * Ensuring a KV bucket: created when missing (history 1, configured storage and replicas); an existing
 * bucket's stream gets its `num_replicas` reconciled like any stream (stream-update.ts). Never deletes.
 */
import type { StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { bucketStream } from '@wadm-ts/protocol';
import { describeError } from './retry.js';
import { isStreamNameExists, jetStreamErrCode, JsErrCode } from './js-errors.js';
import { storageOf, streamInfo, warn, type JetStreamContext } from './jetstream-context.js';
import { reconcileStream } from './stream-update.js';
import { withLeanWrites } from './js-publisher.js';

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
  withLeanWrites(kv, ctx.publisher);
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
