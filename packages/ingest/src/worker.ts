/**
 * Stateless event ingest. A JetStream stream captures `wasmbus.evt.*.>` (multitenant `*.wasmbus.evt.*.>`);
 * one durable pull consumer is shared by every replica; each replica applies events with bounded
 * concurrency (p-queue) to per-entity lattice state, compare-and-set, guarded by stream sequence.
 *
 * - Events are acknowledged only after their writes, so a replica killed mid-event loses nothing: the
 *   event is redelivered (after ack_wait) to whichever replica pulls next, and re-applying is a no-op.
 * - Garbage (not JSON, not a CloudEvent, unknown type, malformed data) is acknowledged and counted.
 * - An event whose processing keeps failing is parked on `wadm.dlq.ingest.{lattice}` (stream
 *   `wadm_dead_letters`) with the error in headers after `maxAttempts`, then terminated — never dropped.
 *   A transient JetStream failure (timeouts, no responders during a leader election) is retried without
 *   counting towards `maxAttempts`.
 * - The consumer is supervised (ConsumerLoop): after a server restart, a reconnect, missed heartbeats or
 *   a lost stream/consumer (memory storage) it consumes again, re-creating the streams and the consumer
 *   with ensureIngestResources when they are gone.
 */
import { headers } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, RetentionPolicy, type JsMsg } from '@nats-io/jetstream';
import PQueue from 'p-queue';
import {
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECTS,
  decodeCloudEvent,
  decodeLatticeEvent,
  HOST_EVENTS_STREAM,
  HOST_EVENTS_STREAM_BESIDE,
  hostEventSubjects,
  INGEST_CONSUMER,
  ingestDeadLetterSubject,
  parseEventSubject,
  type LatticeEvent,
  type LatticeRef,
} from '@wadm-ts/protocol';
import { ConsumerLoop, ensureStream, isConsumerExists, isTransientJetStreamError, stateKeys, streamName, type JetStreamContext, type LatticeMeta, type LatticeStateStore} from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { applyOps } from './apply.js';
import { planEvent } from './plan.js';
import { type HostEntity } from '@wadm-ts/entities';

/**
 * Where ingest says a lattice changed: the reconcile signaler (`@wadm-ts/reconcile`, which owns the
 * signal stream and its consumer), handed in by the replica so that ingest never imports the reconciler.
 */
export interface LatticeMarker {
  mark(ref: LatticeRef, reason: string): void;
}

export interface IngestOptions {
  ctx: JetStreamContext;
  store: LatticeStateStore;
  signaler: LatticeMarker;
  logger: Logger;
  metrics: Metrics;
  multitenant: boolean;
  /** Concurrent events handled by this replica. */
  concurrency?: number;
  /** Redelivery after this long without an ack (ms, default 30 s). */
  ackWaitMs?: number;
  /** Deliveries before an event is parked (default 5). */
  maxAttempts?: number;
  /** How long the stream keeps events (ms, default 1 h). */
  streamMaxAgeMs?: number;
  /**
   * Host `lastSeen` is written at most this often per host (ms, default 1000; `wadm serve` uses a tenth of
   * the host cleanup interval). Only host expiry reads it, and heartbeats refresh the host anyway.
   */
  touchIntervalMs?: number;
}

const NS = 1_000_000;

/** The event stream, the dead-letter stream and the ingest consumer; resolves to the name of the event stream in use. */
export async function ensureIngestResources(ctx: JetStreamContext, multitenant: boolean, opts: { ackWaitMs?: number; streamMaxAgeMs?: number } = {}): Promise<string> {
  const { name: stream } = await ensureStream(
    ctx,
    {
      name: HOST_EVENTS_STREAM,
      subjects: [hostEventSubjects(multitenant)],
      retention: RetentionPolicy.Limits,
      max_age: (opts.streamMaxAgeMs ?? 3_600_000) * NS,
    },
    { fallback: HOST_EVENTS_STREAM_BESIDE },
  );
  await ensureStream(ctx, {
    name: DEAD_LETTER_STREAM,
    subjects: [DEAD_LETTER_SUBJECTS],
    retention: RetentionPolicy.Limits,
    max_age: 7 * 24 * 3_600_000 * NS,
  });
  const config = {
    durable_name: INGEST_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: (opts.ackWaitMs ?? 30_000) * NS,
    max_deliver: -1,
    max_ack_pending: 10_000,
  };
  try {
    await ctx.jsm.consumers.add(stream, config);
  } catch (err) {
    // Exists with another config (e.g. another ack_wait): keep it as it is.
    if (!isConsumerExists(err)) throw err;
  }
  return stream;
}

export class IngestWorker {
  private readonly queue: PQueue;
  private loop: ConsumerLoop | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly touched = new Map<string, number>();
  private readonly events;
  private readonly lag;
  private readonly latticeActivity = new Map<string, number>();

  constructor(private readonly o: IngestOptions) {
    this.queue = new PQueue({ concurrency: o.concurrency ?? 64 });
    this.events = o.metrics.counter('wadm_ingest_events_total', 'lattice events ingested, by type and result', ['type', 'result']);
    this.lag = o.metrics.gauge('wadm_ingest_consumer_lag', 'events not yet delivered or not yet acknowledged on the ingest consumer', ['state']);
  }

  async start(): Promise<void> {
    const max = Math.max(16, (this.o.concurrency ?? 64) * 2);
    const { ctx } = this.o;
    const resources = { ...(this.o.ackWaitMs !== undefined ? { ackWaitMs: this.o.ackWaitMs } : {}), ...(this.o.streamMaxAgeMs !== undefined ? { streamMaxAgeMs: this.o.streamMaxAgeMs } : {}) };
    this.loop = new ConsumerLoop({
      nc: ctx.nc,
      js: ctx.js,
      stream: () => streamName(ctx, HOST_EVENTS_STREAM),
      consumer: INGEST_CONSUMER,
      logger: this.o.logger,
      ensure: async () => void (await ensureIngestResources(ctx, this.o.multitenant, resources)),
      handle: (m) => this.handle(m),
      queue: this.queue,
      maxMessages: max,
    });
    await this.loop.start();
    this.lagTimer = setInterval(() => {
      const consumer = this.loop?.consumer;
      if (consumer) void this.updateLag(consumer);
    }, 2000);
    this.lagTimer.unref();
    this.o.logger.info({ stream: streamName(ctx, HOST_EVENTS_STREAM), consumer: INGEST_CONSUMER }, 'ingest started');
  }

  private async updateLag(consumer: { info(cached?: boolean): Promise<{ num_pending: number; num_ack_pending: number }> }): Promise<void> {
    try {
      const i = await consumer.info();
      this.lag.set({ state: 'pending' }, i.num_pending);
      this.lag.set({ state: 'unacked' }, i.num_ack_pending);
    } catch {
      // transient; next tick
    }
  }

  async stop(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.loop?.stop();
    await this.queue.onIdle();
  }

  private latticeOf(subject: string): (LatticeRef & { type: string }) | undefined {
    const p = parseEventSubject(subject);
    if (!p) return undefined;
    if (this.o.multitenant !== (p.account !== undefined)) return undefined;
    return p.account === undefined ? { lattice: p.lattice, type: p.type } : { lattice: p.lattice, account: p.account, type: p.type };
  }

  async handle(m: JsMsg): Promise<void> {
    const where = this.latticeOf(m.subject);
    const ce = decodeCloudEvent(m.data);
    const decoded = ce ? decodeLatticeEvent(ce) : undefined;
    if (!where || !ce || !decoded?.ok) {
      const type = where?.type && /^[a-z_]{1,40}$/.test(where.type) ? where.type : 'unknown';
      this.events.inc({ type, result: 'ignored' });
      this.o.logger.debug({ subject: m.subject, reason: decoded && !decoded.ok ? decoded.reason : 'not a CloudEvent' }, 'ignoring lattice event');
      m.ack();
      return;
    }
    const ref: LatticeRef = where.account === undefined ? { lattice: where.lattice } : { lattice: where.lattice, account: where.account };
    const ev = decoded.event;
    const timeMs = Math.floor(Number(m.info.timestampNanos) / 1e6);
    try {
      const changed = await applyOps(this.o.store, planEvent(ev, { lattice: ref, seq: m.seq, timeMs }));
      await this.touchHost(ref, ce.source, ev, timeMs);
      await this.touchLattice(ref, timeMs);
      if (changed) this.o.signaler.mark(ref, ev.type);
      this.events.inc({ type: ev.type, result: changed ? 'changed' : 'unchanged' });
      m.ack();
    } catch (err) {
      await this.failed(m, ref, ev, err);
    }
  }

  private async failed(m: JsMsg, ref: LatticeRef, ev: LatticeEvent, err: unknown): Promise<void> {
    const log = this.o.logger.child({ lattice: ref.lattice });
    const attempts = m.info.deliveryCount;
    // A transient JetStream failure (a stream leader election, a restarting server) is not the event's
    // fault: it is retried for as long as it lasts, never parked.
    const transient = isTransientJetStreamError(err);
    if (attempts < (this.o.maxAttempts ?? 5) || transient) {
      this.events.inc({ type: ev.type, result: 'retried' });
      log.warn({ err, seq: m.seq, attempts, transient }, 'applying lattice event failed; will retry');
      m.nak(Math.min(100 * 2 ** attempts, 10_000));
      return;
    }
    try {
      const h = headers();
      h.set('Wadm-Original-Subject', m.subject);
      h.set('Wadm-Original-Sequence', String(m.seq));
      h.set('Wadm-Deliveries', String(attempts));
      h.set('Wadm-Error', String((err as Error)?.message ?? err).slice(0, 1024));
      await this.o.ctx.js.publish(ingestDeadLetterSubject(ref.lattice), m.data, { headers: h });
      m.term(); // no reason text: nats-server 2.9 does not parse '+TERM <reason>'
      this.events.inc({ type: ev.type, result: 'parked' });
      log.error({ err, seq: m.seq, attempts }, 'lattice event parked on wadm.dlq.ingest after repeated failures');
    } catch (parkErr) {
      log.error({ err: parkErr, seq: m.seq }, 'parking a failed lattice event failed; will retry');
      m.nak(10_000);
    }
  }

  /** Any event from a known host proves it alive: refresh `lastSeen` (at most once per touch interval). */
  private async touchHost(ref: LatticeRef, source: string, ev: LatticeEvent, timeMs: number): Promise<void> {
    const hostId = 'hostId' in ev ? ev.hostId : source;
    if (!hostId || ev.type === 'host_stopped' || ev.type === 'host_heartbeat' || ev.type === 'host_started') return;
    const key = stateKeys.host(ref, hostId);
    const every = this.o.touchIntervalMs ?? 1000;
    if ((this.touched.get(key) ?? 0) > timeMs - every) return;
    this.touched.set(key, timeMs);
    await this.o.store.update<HostEntity>(key, (cur) =>
      cur && !cur.deleted && cur.lastSeen < timeMs - every ? { write: { ...cur, lastSeen: timeMs } } : { skip: true },
    );
  }

  /** The lattice is known from its first event; its last activity is kept (coalesced to once a second). */
  private async touchLattice(ref: LatticeRef, timeMs: number): Promise<void> {
    const key = stateKeys.meta(ref);
    if ((this.latticeActivity.get(key) ?? 0) > timeMs - 1000) return;
    this.latticeActivity.set(key, timeMs);
    await this.o.store.update<LatticeMeta>(key, (cur) => {
      if (cur && cur.lastActivity >= timeMs - 1000) return { skip: true };
      return {
        write: {
          kind: 'lattice',
          lattice: ref.lattice,
          ...(ref.account ? { account: ref.account } : {}),
          firstSeen: cur?.firstSeen ?? timeMs,
          lastActivity: Math.max(timeMs, cur?.lastActivity ?? 0),
          ...(cur?.queriedAt !== undefined ? { queriedAt: cur.queriedAt } : {}),
        },
      };
    });
  }
}
