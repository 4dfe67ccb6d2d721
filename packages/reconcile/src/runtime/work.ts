/**
 * Lattice work arriving through one durable pull consumer shared by every replica: `wadm_lattice_work`
 * on stream `wadm_reconcile` (one retained signal per lattice). Whichever replica pulls a signal makes
 * sure the lattice has a lease (taking it when that is fair), and, when it holds the lease, asks for a
 * pass. A stalled replica stops pulling, and a signal it had pulled is redelivered after `ackWaitMs`; a
 * signal never waits on a lattice's owner, because the owner learns of changes from its own views.
 *
 * The consumer count does not grow with lattices: one consumer for all of them.
 */
import { AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import PQueue from 'p-queue';
import { ConsumerLoop, RECONCILE_STREAM, isConsumerExists, type JetStreamContext, type LatticeRef } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import type { Leases } from './leases.js';
import type { Owners } from './owners.js';
import { fromKeyToken } from '@wadm-ts/entities';

export const WORK_CONSUMER = 'wadm_lattice_work';
const NS = 1_000_000;

export function refOfSignalSubject(subject: string): LatticeRef | undefined {
  const t = subject.split('.');
  if (t.length !== 4 || t[0] !== 'wadm' || t[1] !== 'reconcile') return undefined;
  const lattice = fromKeyToken(t[3]!);
  return t[2] === '_' ? { lattice } : { lattice, account: fromKeyToken(t[2]!) };
}

export async function ensureWorkConsumer(ctx: JetStreamContext, ackWaitMs: number, logger: Logger): Promise<void> {
  try {
    await ctx.jsm.consumers.add(RECONCILE_STREAM, {
      durable_name: WORK_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: Math.max(1000, ackWaitMs) * NS,
      max_deliver: -1,
      max_ack_pending: 10_000,
    });
  } catch (err) {
    if (!isConsumerExists(err)) throw err;
  }
  // The previous design's per-lattice consumers (`wadm_rc_*`) are gone: remove any left by an older version.
  try {
    for await (const c of ctx.jsm.consumers.list(RECONCILE_STREAM)) {
      if (c.name.startsWith('wadm_rc_')) {
        await ctx.jsm.consumers.delete(RECONCILE_STREAM, c.name).catch(() => undefined);
        logger.info({ consumer: c.name }, 'removed a per-lattice consumer of the previous runtime');
      }
    }
  } catch {
    // listing is best effort
  }
}

export interface LatticeWorkOptions {
  ctx: JetStreamContext;
  leases: Leases;
  owners: Owners;
  logger: Logger;
  metrics: Metrics;
  /** Re-create the stream and consumer (after a server restart lost them). */
  ensure: () => Promise<void>;
}

export class LatticeWork {
  private loop: ConsumerLoop | undefined;
  private readonly queue = new PQueue({ concurrency: 8 });
  private readonly handled;

  constructor(private readonly o: LatticeWorkOptions) {
    this.handled = o.metrics.counter('wadm_reconcile_signals_handled_total', 'reconcile signals handled, by outcome', ['outcome']);
  }

  async start(): Promise<void> {
    // Supervised (survives restarts and lost consumers); small pulls that expire soon, so a stalled
    // replica holds few signals, and only for ack_wait.
    this.loop = new ConsumerLoop({
      nc: this.o.ctx.nc,
      js: this.o.ctx.js,
      stream: RECONCILE_STREAM,
      consumer: WORK_CONSUMER,
      logger: this.o.logger,
      ensure: this.o.ensure,
      handle: (m) => this.handle(m),
      queue: this.queue,
      maxMessages: 8,
      expiresMs: 1000,
    });
    await this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
    await this.queue.onIdle();
  }

  private async handle(m: JsMsg): Promise<void> {
    const ref = refOfSignalSubject(m.subject);
    if (!ref) {
      this.handled.inc({ outcome: 'invalid' });
      m.term();
      return;
    }
    try {
      if (!(await this.o.leases.offer(ref))) {
        this.handled.inc({ outcome: 'deferred' });
        m.nak(250);
        return;
      }
      const held = this.o.leases.heldLattices().some((h) => h.ref.lattice === ref.lattice && h.ref.account === ref.account);
      if (held) this.o.owners.trigger(ref, 'signal');
      this.handled.inc({ outcome: held ? 'owned' : 'elsewhere' });
      m.ack();
    } catch (err) {
      this.handled.inc({ outcome: 'failed' });
      this.o.logger.warn({ err: (err as Error).message, lattice: ref.lattice }, 'handling a reconcile signal failed; will retry');
      m.nak(500);
    }
  }
}
