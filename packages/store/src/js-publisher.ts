/**
 * JetStream publishes with their acknowledgements on one subscription: `JsPublisher`, and
 * `withLeanWrites`, which sends a KV bucket's writes through it.
 *
 * The client's `js.publish` is a request: per publish it creates a request object, a reply token in its
 * inbox multiplexer, a timer, a deferred and header objects, and the KV client adds a key encoding and a
 * `TextEncoder` per write. A replica writes several thousand values per second in a burst (state, app
 * records, statuses, in-flight records), and that was a tenth of its CPU. Here a publish is one
 * `nc.publish` with a reply subject in this publisher's own inbox; acknowledgements arrive on one
 * wildcard subscription, and one sweep per quarter second times out what is overdue.
 *
 * What callers see is what `js.publish` gives them: a `PubAck`, or `JetStreamApiError` with the server's
 * `err_code` (a lost compare-and-set is 10071), `NoRespondersError` when no stream captures the subject,
 * `TimeoutError`, `ClosedConnectionError`.
 */
import { ClosedConnectionError, createInbox, headers, NoRespondersError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';

export interface LeanPublishOptions {
  /** `Nats-Expected-Last-Subject-Sequence`: the compare-and-set of a KV write (0: the subject has no message). */
  expectLastSubjectSequence?: number;
  /** `Nats-Msg-Id`, for the stream's duplicate window. */
  msgID?: string;
  /** Further headers (the expectation and message id are set on them). */
  headers?: MsgHdrs;
  /** Default: the publisher's. */
  timeoutMs?: number;
}

interface Pending {
  subject: string;
  deadline: number;
  resolve(ack: PubAck): void;
  reject(err: unknown): void;
}

const SWEEP_MS = 250;
const decoder = new TextDecoder();

export class JsPublisher {
  private readonly inbox: string;
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private sub: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {
    this.inbox = createInbox();
    void nc.closed().then(() => {
      this.closed = true;
      this.failAll(new ClosedConnectionError());
    });
  }

  /** Acknowledgements awaited now. */
  get inFlight(): number {
    return this.pending.size;
  }

  publish(subject: string, data: string | Uint8Array, o: LeanPublishOptions = {}): Promise<PubAck> {
    if (this.closed) return Promise.reject(new ClosedConnectionError());
    this.sub ??= this.nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => this.answer(err, m) });
    let h = o.headers;
    if (o.expectLastSubjectSequence !== undefined || o.msgID !== undefined) {
      h ??= headers();
      if (o.expectLastSubjectSequence !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(o.expectLastSubjectSequence));
      if (o.msgID !== undefined) h.set('Nats-Msg-Id', o.msgID);
    }
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { subject, deadline: Date.now() + (o.timeoutMs ?? this.timeoutMs), resolve, reject });
      try {
        this.nc.publish(subject, data, h ? { reply: `${this.inbox}.${token}`, headers: h } : { reply: `${this.inbox}.${token}` });
      } catch (err) {
        this.pending.delete(token);
        reject(err);
        return;
      }
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    });
  }

  private answer(err: Error | null, m: Msg): void {
    if (err) {
      // The subscription itself failed (a permissions violation): nothing more will be answered on it.
      this.sub = undefined;
      this.failAll(err);
      return;
    }
    const token = m.subject.slice(this.inbox.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // timed out already
    this.pending.delete(token);
    if (m.headers?.code === 503 || (m.data.length === 0 && m.headers?.hasError)) {
      p.reject(new NoRespondersError(p.subject));
      return;
    }
    let v: { stream?: string; seq?: number; duplicate?: boolean; domain?: string; error?: { code: number; err_code: number; description: string } };
    try {
      v = JSON.parse(decoder.decode(m.data)) as typeof v;
    } catch {
      p.reject(new Error(`invalid JetStream acknowledgement for ${p.subject}`));
      return;
    }
    if (v.error) p.reject(new JetStreamApiError(v.error));
    else if (!v.stream || typeof v.seq !== 'number') p.reject(new Error(`invalid JetStream acknowledgement for ${p.subject}`));
    else p.resolve({ stream: v.stream, seq: v.seq, duplicate: v.duplicate === true, domain: v.domain ?? '' });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(token);
        p.reject(new TimeoutError());
      }
    }
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private failAll(err: unknown): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

interface BucketInternals {
  _put(k: string, data: string | Uint8Array, opts?: { previousSeq?: number; timeout?: number }, markerTTL?: unknown): Promise<number>;
  subjectForKey(k: string, edit?: boolean): string;
  encodeKey(k: string): string;
  validateKey(k: string): void;
  [LEAN]?: true;
}

const LEAN = Symbol.for('wadm-ts.lean-kv-writes');

/**
 * Send a bucket's writes (`put`, `update`, `create`: they all go through the client's `_put`) through
 * `publisher`, on the subject the client would use. Only for a bucket whose keys are not encoded (no key
 * codec); writes with a marker TTL keep the client's path. Returns whether the bucket was changed.
 */
export function withLeanWrites(kv: KV, publisher: JsPublisher): boolean {
  const b = kv as unknown as BucketInternals;
  if (b[LEAN]) return true;
  const original = b._put;
  if (typeof original !== 'function' || typeof b.subjectForKey !== 'function' || typeof b.encodeKey !== 'function' || typeof b.validateKey !== 'function') return false;
  if (b.encodeKey('a.b_=c') !== 'a.b_=c') return false;
  const probe = b.subjectForKey('k', true);
  if (!probe.endsWith('.k')) return false;
  const prefix = probe.slice(0, -1);
  b._put = function (this: BucketInternals, k, data, opts = {}, markerTTL) {
    if (markerTTL) return original.call(this, k, data, opts, markerTTL);
    try {
      this.validateKey(k);
    } catch (err) {
      return Promise.reject(err);
    }
    const o: LeanPublishOptions = {};
    if (opts.previousSeq !== undefined) o.expectLastSubjectSequence = opts.previousSeq;
    if (opts.timeout !== undefined) o.timeoutMs = opts.timeout;
    return publisher.publish(`${prefix}${k}`, data, o).then((ack) => ack.seq);
  };
  b[LEAN] = true;
  return true;
}
