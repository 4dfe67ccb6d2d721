/**
 * A supervised pull-consumer work loop that survives server restarts, leader changes and deleted
 * consumers: `ConsumerLoop`, with the bounded work loop behind it (`runWorkLoop`). And `watchConnection`, for everything else that must react to a reconnect.
 *
 * What `@nats-io/jetstream` 3.4 `consume()` does by itself (lib/consumer.js, PullConsumerMessagesImpl):
 * - On `disconnect` it pauses its heartbeat monitor; on `reconnect` it calls `consumer.info()` and, when
 *   that works, forgets the pulls it had outstanding and pulls again. When that info fails with anything
 *   but "not found", it waits `jitter(expires)` — 15–45 s with the default 30 s `expires` — and tries
 *   again, so a reconnect to a server whose JetStream is still recovering stalls the consumer that long.
 * - Missed idle heartbeats (2 in a row, default heartbeat `expires/2`) trigger the same info-and-repull;
 *   this is the only thing that notices a pull lost in a cluster leader change, since the connection
 *   itself stays up.
 * - A consumer or stream that is gone (memory storage after a restart, or deleted) is reported as the
 *   `consumer_not_found` / `stream_not_found` / `consumer_deleted` notifications, and — unless
 *   `abort_on_missing_resource` — the iterator keeps polling `info()` forever: a plain (non-ordered)
 *   consumer is never re-created by the client, so the worker silently stops working.
 * - A pull answered `503` (no responders: the consumer is not there) is only a `no_responders`
 *   notification; the iterator stalls until heartbeats are missed.
 * - When the connection closes, the iterator ends without an error.
 *
 * So ConsumerLoop consumes with `abort_on_missing_resource` and short pull expiry/heartbeats, and
 * restarts `consume()` itself: when the iterator ends or fails, when the connection reconnects, and when
 * heartbeats are missed or a pull finds no responders. A missing stream/consumer is re-created through
 * the caller's `ensure()` before consuming again. Every restart backs off (jittered, exponential) and is
 * logged with the stream, consumer and reason. Messages already handed to the handler keep their
 * JsMsg and are acknowledged normally; messages the server had sent to a pull lost in the restart are
 * redelivered after the consumer's ack_wait.
 */
import type { NatsConnection, Status } from '@nats-io/transport-node';
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type PQueue from 'p-queue';
import type { Logger } from '@wadm-ts/obs';
import { backoffDelay, describeError, isMissingResource, isTransientJetStreamError, retryTransient, sleep } from './retry.js';

export interface ConnectionWatch {
  stop(): void;
}

export interface ConnectionHandlers {
  onDisconnect?: (server: string | undefined) => void;
  /** After a reconnect: re-check or re-create what the server may have lost (memory storage, a new node). */
  onReconnect?: (server: string | undefined) => void | Promise<void>;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Call `onReconnect` after every reconnect of `nc` (and `onDisconnect` on every disconnect). Errors of
 * the handlers are logged, never thrown. The core client resubscribes core subscriptions itself; what it
 * does not restore is server-side state: streams, KV buckets and consumers with memory storage, and push
 * consumers re-created elsewhere. Use this to re-run the ensure* functions (with retryTransient).
 */
export function watchConnection(nc: NatsConnection, h: ConnectionHandlers): ConnectionWatch {
  // The client's status iterator is a QueuedIterator with stop(); the type only promises AsyncIterable.
  const status = nc.status() as AsyncIterable<Status> & { stop?: () => void };
  let stopped = false;
  void (async () => {
    for await (const s of status) {
      if (stopped) break;
      const server = 'server' in s ? String(s.server) : undefined;
      try {
        if (s.type === 'disconnect') h.onDisconnect?.(server);
        else if (s.type === 'reconnect') await h.onReconnect?.(server);
      } catch (err) {
        h.logger?.warn({ err: describeError(err), status: s.type, server }, 'connection status handler failed');
      }
    }
  })().catch(() => undefined);
  return {
    stop: () => {
      stopped = true;
      status.stop?.();
    },
  };
}

export interface ConsumerLoopOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  /** The stream, or where to read its name each time the consumer is opened (ensure() may resolve another: see ensureStream). */
  stream: string | (() => string);
  /** Durable consumer name. */
  consumer: string;
  logger: Logger;
  /** (Re-)create the stream and the durable consumer; called when either is missing. Must be idempotent. */
  ensure: () => Promise<void>;
  /** Handle one message (ack/nak/term it). Errors are logged; the message is then left to ack_wait. */
  handle: (m: JsMsg) => Promise<void>;
  /** Where handlers run (bounded concurrency). */
  queue: PQueue;
  /** Messages pulled at a time and waiting in the queue at most. */
  maxMessages: number;
  /** Pull request expiry, ms (default 10 000; the client's minimum is 1000). */
  expiresMs?: number;
  /** Server heartbeat on an idle pull, ms (default min(expires/2, 5000)); two missed restart the pull. */
  idleHeartbeatMs?: number;
  /** Longest backoff between restarts, ms (default 5000). */
  maxDelayMs?: number;
  /** Called with each consumer handle the loop starts consuming from (e.g. for lag metrics). */
  onConsumer?: (c: Consumer) => void;
}

type Restart = { reason: string; ensure?: boolean };

export class ConsumerLoop {
  private stopped = false;
  private readonly abort = new AbortController();
  private messages: ConsumerMessages | undefined;
  private current: Consumer | undefined;
  private pendingRestart: Restart | undefined;
  private loop: Promise<void> | undefined;
  private watch: ConnectionWatch | undefined;
  /** consume() sessions started so far (1 after a clean start). */
  sessions = 0;
  private readonly log: Logger;

  constructor(private readonly o: ConsumerLoopOptions) {
    this.log = o.logger.child({ stream: this.stream, consumer: o.consumer });
  }

  /** The stream consumed from (its name as currently resolved). */
  get stream(): string {
    return typeof this.o.stream === 'string' ? this.o.stream : this.o.stream();
  }

  /** The consumer handle currently consumed from. */
  get consumer(): Consumer | undefined {
    return this.current;
  }

  /** True while a consume() session is running. */
  consuming(): boolean {
    return this.messages !== undefined && !this.stopped;
  }

  /** Start; resolves once the first consume() session runs (retrying transient failures meanwhile). */
  async start(): Promise<void> {
    if (this.loop) return;
    let first!: () => void;
    const started = new Promise<void>((r) => (first = r));
    this.watch = watchConnection(this.o.nc, {
      logger: this.log,
      onReconnect: (server) => this.restart({ reason: `reconnected to ${server ?? 'a server'}` }),
    });
    this.loop = this.run(first).finally(() => first());
    await started;
  }

  /** Stop consuming; resolves when the loop has ended (handlers still queued are the caller's to await). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.watch?.stop();
    this.messages?.stop();
    await this.loop;
  }

  /** End the current session and start another (after backoff). */
  private restart(r: Restart): void {
    if (this.stopped || !this.messages) return;
    this.pendingRestart ??= r;
    this.messages.stop();
  }

  private async run(started: () => void): Promise<void> {
    let attempt = 0;
    let needEnsure = false;
    while (!this.stopped) {
      const sessionStart = Date.now();
      let outcome: Restart;
      try {
        const consumer = await this.open(needEnsure);
        if (this.stopped) break;
        needEnsure = false;
        const expires = this.o.expiresMs ?? 10_000;
        const messages = await consumer.consume({
          max_messages: this.o.maxMessages,
          expires,
          idle_heartbeat: this.o.idleHeartbeatMs ?? Math.min(Math.floor(expires / 2), 5000),
          abort_on_missing_resource: true,
        });
        this.current = consumer;
        this.messages = messages;
        this.pendingRestart = undefined;
        this.sessions++;
        this.o.onConsumer?.(consumer);
        if (this.sessions > 1) this.log.info({ session: this.sessions }, 'consuming again');
        started();
        void this.watchNotifications(messages);
        await runWorkLoop(messages, this.o.queue, this.o.maxMessages, () => this.stopped, (m) =>
          this.o.handle(m).catch((err: unknown) => this.log.error({ err: describeError(err), seq: m.seq }, 'message handler failed; the message is redelivered after ack_wait')),
        );
        outcome = this.pendingRestart ?? { reason: this.o.nc.isClosed() ? 'connection closed' : 'consume iterator ended' };
      } catch (err) {
        outcome = { reason: describeError(err), ensure: isMissingResource(err) };
        if (!outcome.ensure && !isTransientJetStreamError(err)) this.log.error({ err: describeError(err) }, 'consume failed with an unexpected error; restarting it');
      } finally {
        this.messages = undefined;
      }
      if (this.stopped || this.o.nc.isClosed()) break;
      needEnsure ||= outcome.ensure === true;
      if (Date.now() - sessionStart > 30_000) attempt = 0; // a healthy session resets the backoff
      const delayMs = backoffDelay(attempt++, 100, this.o.maxDelayMs ?? 5000);
      this.log.warn({ reason: outcome.reason, recreate: needEnsure, retryInMs: delayMs }, 'consumer session ended; restarting');
      await sleep(delayMs, this.abort.signal);
    }
  }

  /** The durable consumer, re-created through ensure() when it (or its stream) is missing. */
  private async open(ensureFirst: boolean): Promise<Consumer> {
    const retry = { logger: this.log, signal: this.abort.signal, maxDelayMs: this.o.maxDelayMs ?? 5000, context: { consumer: this.o.consumer } };
    let ensure = ensureFirst;
    for (let attempt = 0; ; attempt++) {
      if (ensure) {
        await retryTransient(`re-creating stream ${this.stream} / consumer ${this.o.consumer}`, () => this.o.ensure(), retry);
        this.log.info({ streamInUse: this.stream }, 'stream and consumer ensured');
      }
      const stream = this.stream;
      try {
        return await retryTransient(`getting consumer ${stream}/${this.o.consumer}`, () => this.o.js.consumers.get(stream, this.o.consumer), retry);
      } catch (err) {
        const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
        if (!isMissingResource(cause) || attempt >= 5) throw err;
        ensure = true;
      }
    }
  }

  /** Restart on what the client only reports: missed heartbeats, a pull nobody answered. */
  private async watchNotifications(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const n of messages.status()) {
        if (n.type === 'heartbeats_missed') this.restart({ reason: `missed ${n.count} idle heartbeats` });
        else if (n.type === 'no_responders') this.restart({ reason: 'a pull found no responders (503)' });
        else if (n.type === 'consumer_not_found' || n.type === 'stream_not_found' || n.type === 'consumer_deleted') this.restart({ reason: n.type.replace(/_/g, ' '), ensure: true });
      }
    } catch {
      // the status iterator ends with the session
    }
  }
}

/**
 * Hand every delivered message to `handle` on `queue`, never holding more than `max` waiting. Once
 * `stopping()` is true, messages the iterator still yields (already received) are handed back with a
 * nak at once, so another replica gets them without waiting for ack_wait.
 */
async function runWorkLoop(messages: ConsumerMessages, queue: PQueue, max: number, stopping: () => boolean, handle: (m: JsMsg) => Promise<void>): Promise<void> {
  for await (const m of messages) {
    if (stopping()) {
      m.nak();
      continue;
    }
    void queue.add(() => handle(m));
    if (queue.size > max) await queue.onSizeLessThan(max);
  }
}
