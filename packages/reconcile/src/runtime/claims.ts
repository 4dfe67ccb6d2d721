/**
 * Per-lattice work claiming. Every lattice has a durable push consumer on `wadm_reconcile` filtered to its
 * signal subject, delivered to the queue group `wadm_reconcilers` of which every replica is a member,
 * with `max_ack_pending: 1`. So a lattice's signals reach one replica at a time (its owner while the
 * message is unacknowledged), different lattices land on different replicas, and when the owner dies
 * the unacknowledged signal is redelivered to another member after `ack_wait` (the takeover bound,
 * default 5 s). The owner extends its claim with `working()` while a reconcile runs.
 *
 * Coalescing: a delivered signal with more signals pending behind it is acknowledged without work —
 * only the last pending signal of a burst triggers a reconcile.
 */
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { createHash } from 'node:crypto';
import { RECONCILE_STREAM, fromKeyToken, type JetStreamContext, type LatticeRef } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';

export const RECONCILER_GROUP = 'wadm_reconcilers';
const NS = 1_000_000;

export interface ClaimsOptions {
  ctx: JetStreamContext;
  logger: Logger;
  metrics: Metrics;
  replicaId: string;
  /** Redelivery to another replica when the owner stops answering (ms, default 5000). */
  takeoverMs?: number;
  /** How often new lattices are looked for (ms, default 1000). */
  discoveryMs?: number;
  /** The work: reconcile one lattice. */
  reconcile: (ref: LatticeRef, reasons: string[]) => Promise<void>;
}

function consumerName(subject: string): string {
  return `wadm_rc_${createHash('sha256').update(subject).digest('hex').slice(0, 24)}`;
}

function refOf(subject: string): LatticeRef | undefined {
  const t = subject.split('.');
  if (t.length !== 4) return undefined;
  const lattice = fromKeyToken(t[3]!);
  return t[2] === '_' ? { lattice } : { lattice, account: fromKeyToken(t[2]!) };
}

export class LatticeClaims {
  private readonly subs = new Map<string, ConsumerMessages>();
  private timer: NodeJS.Timeout | undefined;
  private discovering: Promise<void> = Promise.resolve();
  private readonly active = new Set<string>();
  private stopped = false;
  private readonly owned;
  private readonly reconciles;

  constructor(private readonly o: ClaimsOptions) {
    this.owned = o.metrics.gauge('wadm_lattices_owned', 'lattices this replica is reconciling right now');
    this.reconciles = o.metrics.counter('wadm_reconcile_signals_handled_total', 'reconcile signals handled, by outcome', ['outcome']);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.discover();
    this.timer = setInterval(() => {
      this.discovering = this.discovering.then(() => this.discover()).catch((err: unknown) => this.o.logger.warn({ err }, 'lattice discovery failed'));
    }, this.o.discoveryMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.discovering;
    await Promise.all([...this.subs.values()].map((s) => s.close()));
    this.subs.clear();
  }

  /** Lattices with signals in the stream get a consumer and this replica's subscription. */
  async discover(): Promise<void> {
    const info = await this.o.ctx.jsm.streams.info(RECONCILE_STREAM, { subjects_filter: '>' });
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      if (!this.subs.has(subject) && !this.stopped) await this.join(subject);
    }
  }

  private async join(subject: string): Promise<void> {
    const ref = refOf(subject);
    if (!ref) return;
    const name = consumerName(subject);
    try {
      await this.o.ctx.jsm.consumers.add(RECONCILE_STREAM, {
        durable_name: name,
        filter_subject: subject,
        deliver_subject: `_wadm.reconcile.${name}`,
        deliver_group: RECONCILER_GROUP,
        deliver_policy: DeliverPolicy.All,
        ack_policy: AckPolicy.Explicit,
        ack_wait: (this.o.takeoverMs ?? 5000) * NS,
        max_ack_pending: 1,
        max_deliver: -1,
      });
    } catch (err) {
      if (!/already (in use|exists)/i.test(String((err as Error).message))) throw err;
    }
    const consumer = await this.o.ctx.js.consumers.getPushConsumer(RECONCILE_STREAM, name);
    const messages = await consumer.consume();
    this.subs.set(subject, messages);
    void (async () => {
      for await (const m of messages) await this.handle(ref, m);
    })().catch((err: unknown) => this.o.logger.warn({ err, lattice: ref.lattice }, 'reconcile subscription ended'));
  }

  private async handle(ref: LatticeRef, m: JsMsg): Promise<void> {
    if (this.stopped) return; // not acknowledged: redelivered to another replica after ack_wait
    if (m.info.pending > 0) {
      this.reconciles.inc({ outcome: 'coalesced' });
      m.ack();
      return;
    }
    let reasons: string[] = [];
    try {
      reasons = (JSON.parse(m.string()) as { reasons?: string[] }).reasons ?? [];
    } catch {
      // any payload is a signal
    }
    const key = `${ref.account ?? '_'}.${ref.lattice}`;
    this.active.add(key);
    this.owned.set(this.active.size);
    const keepAlive = setInterval(() => m.working(), Math.max(250, (this.o.takeoverMs ?? 5000) / 3));
    try {
      await this.o.reconcile(ref, reasons);
      this.reconciles.inc({ outcome: 'reconciled' });
      m.ack();
    } catch (err) {
      this.reconciles.inc({ outcome: 'failed' });
      this.o.logger.warn({ err, lattice: ref.lattice }, 'reconcile failed; will retry');
      m.nak(1000);
    } finally {
      clearInterval(keepAlive);
      this.active.delete(key);
      this.owned.set(this.active.size);
    }
  }
}
