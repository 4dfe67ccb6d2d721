/**
 * Lattice work arriving through one durable pull consumer shared by every replica: `wadm_lattice_work`
 * on stream `wadm_reconcile` (one retained signal per lattice). Whichever replica pulls a signal makes
 * sure the lattice has a lease (taking it when that is fair), and, when it holds the lease, asks for a
 * pass. A stalled replica stops pulling, and a signal it had pulled is redelivered after `ackWaitMs`; a
 * signal never waits on a lattice's owner, because the owner learns of changes from its own views.
 *
 * The consumer count does not grow with lattices: one consumer for all of them.
 */
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { RECONCILE_STREAM, fromKeyToken, type JetStreamContext, type LatticeRef } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import type { Leases } from './leases.js';
import type { Owners } from './owners.js';

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
    if (!/already (in use|exists)/i.test(String((err as Error).message))) throw err;
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
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly handled;

  constructor(private readonly o: LatticeWorkOptions) {
    this.handled = o.metrics.counter('wadm_reconcile_signals_handled_total', 'reconcile signals handled, by outcome', ['outcome']);
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let delay = 250;
    let first = true;
    while (!this.stopping) {
      try {
        if (!first) await this.o.ensure();
        first = false;
        const consumer = await this.o.ctx.js.consumers.get(RECONCILE_STREAM, WORK_CONSUMER);
        // Small pulls that expire soon: a stalled replica holds few signals, and only for ack_wait.
        const messages = await consumer.consume({ max_messages: 8, expires: 1000 });
        this.messages = messages;
        delay = 250;
        for await (const m of messages) {
          if (this.stopping) {
            m.nak();
            continue;
          }
          await this.handle(m);
        }
      } catch (err) {
        if (this.stopping) break;
        this.o.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'lattice work consumer failed; restarting');
      }
      if (this.stopping) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await this.loop;
  }

  private async handle(m: JsMsg): Promise<void> {
    const ref = refOfSignalSubject(m.subject);
    if (!ref) {
      this.handled.inc({ outcome: 'invalid' });
      m.term();
      return;
    }
    try {
      await this.o.leases.offer(ref);
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
