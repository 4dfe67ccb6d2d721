/**
 * The owner's side of auto-revert: the pure pass decides (`plan/reconcile.ts` with `plan/revert.ts`);
 * this writes what it decided back to the app records and announces reverts.
 *
 * Every write is a compare-and-set on the revision of the record the decision was made on (the view's
 * copy), after a lease check: a user's deploy (or any other write) racing it wins, and the next pass
 * decides again on what is there then; a stale owner either fails the lease check or, if it gets past it,
 * writes exactly what the new owner would (the decision is a function of the stored record and the
 * status), and only one of them can win the compare-and-set.
 */
import type { Status } from '@wadm-ts/model';
import { cloudEvent, ROLLOUT_REVERTED, wadmEventSubject, type LatticeRef, type RolloutRevertedData } from '@wadm-ts/protocol';
import type { JetStreamContext, LoadedApp, ManifestStore, ManifestView } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import type { ReconcileResult, RevertWrite, RolloutWrite } from '../plan/reconcile.js';
import type { Held } from './lease-records.js';
import { mapLimit } from './map-limit.js';

export interface RolloutWriterOptions {
  ctx: JetStreamContext;
  store: ManifestStore;
  manifests: ManifestView;
  metrics: Metrics;
}

const WRITES_AT_ONCE = 64;

export class RolloutWriter {
  private readonly reverted;
  constructor(private readonly o: RolloutWriterOptions) {
    this.reverted = o.metrics.counter('wadm_rollouts_reverted_total', 'deployed versions reverted to the previous one for missing their healthy deadline', ['lattice']);
  }

  /**
   * Write what the pass decided (`ReconcileResult.rollouts`, plan/revert.ts): the reverts now, each by
   * compare-and-set on the revision the decision was made on (a record that moved on since is left to the
   * next pass), setting the reverted app's status in `statuses` once its write succeeded; and `marks`, the
   * history-only writes, for the caller to run once the statuses are published.
   */
  async apply(
    h: Held,
    rollouts: ReconcileResult['rollouts'],
    statuses: Record<string, Status>,
    check: () => void,
    log: Logger,
  ): Promise<{ marks: () => Promise<void> }> {
    const ref = h.ref;
    /** The view's record, if it is still the one the pass decided on. */
    const current = (w: RolloutWrite): LoadedApp | undefined => {
      const cur = this.o.manifests.peek(ref, w.app);
      return cur && w.revision !== undefined && cur.revision === w.revision ? cur : undefined;
    };
    const revert = async (w: RevertWrite): Promise<void> => {
      const cur = current(w);
      check();
      const rev = cur ? await this.o.store.replaceAt(ref, w.app, { ...cur.app, deployedVersion: w.to, rollout: w.rollout }, cur.revision) : undefined;
      if (rev === undefined) {
        log.info({ app: w.app, from: w.from, to: w.to }, 'revert skipped: the app record changed meanwhile');
        return;
      }
      this.reverted.inc({ lattice: ref.lattice });
      log.warn({ app: w.app, from: w.from, to: w.to, reason: w.reason, epoch: h.epoch }, 'rollout reverted');
      statuses[w.app] = w.status;
      await this.announce(ref, { name: w.app, from: w.from, to: w.to, reason: w.reason }, rev, log);
    };
    // Bounded: many apps of a lattice reverting in one pass are written concurrently.
    await mapLimit(rollouts.reverts, WRITES_AT_ONCE, revert);
    const marks = async (): Promise<void> => {
      await mapLimit(rollouts.marks, WRITES_AT_ONCE, async (w) => {
        const cur = current(w);
        if (!cur) return;
        check();
        await this.o.store.replaceAt(ref, w.app, { ...cur.app, rollout: w.rollout }, cur.revision);
      });
    };
    return { marks };
  }

  /** `com.wadm.rollout_reverted` on `wadm.evt.{lattice}.rollout_reverted` (stream `wadm_events`; message id per revert). */
  private async announce(ref: LatticeRef, data: RolloutRevertedData, revision: number, log: Logger): Promise<void> {
    const subject = wadmEventSubject(ref.lattice, 'rollout_reverted', ref.account);
    const body = JSON.stringify(cloudEvent('wadm', ROLLOUT_REVERTED, data));
    try {
      if (ref.account) this.o.ctx.nc.publish(subject, body);
      else await this.o.ctx.js.publish(subject, body, { msgID: `rollout_reverted-${ref.lattice}-${data.name}-${revision}` });
    } catch (err) {
      log.warn({ app: data.name, err: (err as Error).message }, 'publishing rollout_reverted failed');
    }
  }
}
