/**
 * Reporting a work-queue stream that refuses wadm-ts's consumer because other consumers read it.
 */
import { describeError } from './retry.js';
import { StreamConflictError } from './stream-compat.js';
import { logError, type JetStreamContext } from './jetstream-context.js';

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
