/**
 * The reconcile signal: "lattice L needs reconciling". Ingest (and the API, on deploy and undeploy) mark
 * lattices dirty; a flush loop publishes at most one signal per dirty lattice per interval to
 * `wadm.reconcile.{account|_}.{lattice}` on stream `wadm_reconcile` — so a storm of heartbeats becomes a
 * handful of signals. The reconciler coalesces further: of a burst of pending signals it acts on the last.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { RetentionPolicy } from '@nats-io/jetstream';
import { ensureStream, type JetStreamContext } from './streams.js';
import { keyToken } from '@wadm-ts/entities';
import type { LatticeRef } from './lattice-state.js';
import type { Logger, Metrics } from '@wadm-ts/obs';

export const RECONCILE_STREAM = 'wadm_reconcile';
export const RECONCILE_SUBJECTS = 'wadm.reconcile.*.*';

export function reconcileSubject(l: LatticeRef): string {
  return `wadm.reconcile.${l.account ? keyToken(l.account) : '_'}.${keyToken(l.lattice)}`;
}

export interface ReconcileSignal {
  lattice: string;
  account?: string;
  reasons: string[];
  at: string;
}

export async function ensureReconcileStream(ctx: JetStreamContext): Promise<void> {
  await ensureStream(ctx, {
    name: RECONCILE_STREAM,
    subjects: [RECONCILE_SUBJECTS],
    retention: RetentionPolicy.Limits,
    max_age: 3600 * 1_000_000_000,
    // Only the latest signal of a lattice matters: the stream holds at most one per lattice (also on a
    // stream created by an older version).
    max_msgs_per_subject: 1,
    duplicate_window: 60 * 1_000_000_000,
  }, { reconcile: ['max_msgs_per_subject'] });
}

export class ReconcileSignaler {
  private readonly dirty = new Map<string, { ref: LatticeRef; reasons: Set<string> }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly published;

  constructor(
    private readonly js: JetStreamClient,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly intervalMs = 100,
  ) {
    this.published = metrics.counter('wadm_reconcile_signals_total', 'reconcile signals published, by reason', ['reason']);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
  }

  mark(ref: LatticeRef, reason: string): void {
    const k = reconcileSubject(ref);
    const e = this.dirty.get(k) ?? { ref, reasons: new Set<string>() };
    e.reasons.add(reason);
    this.dirty.set(k, e);
  }

  /** Publish one signal per dirty lattice. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = [...this.dirty.entries()];
      this.dirty.clear();
      await Promise.all(
        batch.map(async ([subject, { ref, reasons }]) => {
          const body: ReconcileSignal = { lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), reasons: [...reasons].sort(), at: new Date().toISOString() };
          try {
            await this.js.publish(subject, JSON.stringify(body));
            for (const r of reasons) this.published.inc({ reason: r });
          } catch (err) {
            this.log.warn({ err, lattice: ref.lattice }, 'publishing reconcile signal failed; will retry');
            for (const r of reasons) this.mark(ref, r);
          }
        }),
      );
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
