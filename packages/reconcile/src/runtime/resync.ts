/**
 * Periodic resync: a timer-driven signal for every known lattice, so drift and lost signals are caught
 * even when nothing else happens. Every replica runs it; the signal carries
 * `Nats-Msg-Id: resync:{lattice}:{period}`, so the stream's duplicate window keeps one per lattice and
 * period however many replicas there are.
 */
import { headers } from '@nats-io/transport-node';
import { reconcileSubject, type JetStreamContext, type LatticeStateStore } from '@wadm-ts/store';
import type { Logger } from '@wadm-ts/obs';

export class Resync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: JetStreamContext,
    private readonly state: LatticeStateStore,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.running = this.running.then(() => this.tick()).catch((err: unknown) => this.logger.warn({ err }, 'resync pass failed'));
    }, Math.max(100, Math.floor(this.intervalMs / 2)));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async tick(now = Date.now()): Promise<void> {
    const period = Math.floor(now / this.intervalMs);
    for (const meta of await this.state.lattices()) {
      const ref = meta.account ? { lattice: meta.lattice, account: meta.account } : { lattice: meta.lattice };
      const h = headers();
      h.set('Nats-Msg-Id', `resync:${meta.account ?? '_'}:${meta.lattice}:${period}`);
      await this.ctx.js.publish(reconcileSubject(ref), JSON.stringify({ ...ref, reasons: ['resync'], at: new Date(now).toISOString() }), { headers: h });
    }
  }
}
