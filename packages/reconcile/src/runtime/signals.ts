/**
 * The reconcile signal: "lattice L needs reconciling". Ingest (and the API, on deploy and undeploy) mark
 * lattices dirty; a flush, scheduled by the first mark, publishes at most one signal per dirty lattice per interval to
 * `wadm.reconcile.{account|_}.{lattice}` on stream `wadm_reconcile` — so a storm of heartbeats becomes a
 * handful of signals. The reconciler coalesces further: of a burst of pending signals it acts on the last.
 *
 * It lives here, beside its one consumer (work.ts), because this package owns the work channel end to
 * end: the stream's shape (one signal kept per lattice) is what `wadm_lattice_work` relies on. Its
 * publishers do not import it: the replica hands it to ingest as a `LatticeMarker` (ingest's own
 * interface) and its `mark` to the API as the `signal` callback.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { RetentionPolicy } from '@nats-io/jetstream';
import { RECONCILE_STREAM, RECONCILE_SUBJECTS, reconcileSubject, type LatticeRef } from '@wadm-ts/protocol';
import { ensureStream, type JetStreamContext } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';

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
  private started = false;
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
    this.started = true;
    if (this.dirty.size > 0) this.schedule();
  }

  mark(ref: LatticeRef, reason: string): void {
    const k = reconcileSubject(ref);
    const e = this.dirty.get(k) ?? { ref, reasons: new Set<string>() };
    e.reasons.add(reason);
    this.dirty.set(k, e);
    if (this.started) this.schedule();
  }

  /**
   * One flush `intervalMs` after the first mark since the last flush: at most one signal per lattice per
   * interval, as with a fixed tick, but no timer runs while nothing is dirty (a replica at rest).
   */
  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.intervalMs);
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
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
