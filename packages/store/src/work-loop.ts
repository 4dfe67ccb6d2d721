/** The bounded work loop shared by the durable-consumer workers (event ingest, command execution). */
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type PQueue from 'p-queue';

/**
 * Hand every delivered message to `handle` on `queue`, never holding more than `max` waiting. Once
 * `stopping()` is true, messages the iterator still yields (already received) are handed back with a
 * nak at once, so another replica gets them without waiting for ack_wait.
 */
export async function runWorkLoop(messages: ConsumerMessages, queue: PQueue, max: number, stopping: () => boolean, handle: (m: JsMsg) => Promise<void>): Promise<void> {
  for await (const m of messages) {
    if (stopping()) {
      m.nak();
      continue;
    }
    void queue.add(() => handle(m));
    if (queue.size > max) await queue.onSizeLessThan(max);
  }
}
