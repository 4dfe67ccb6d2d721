/**
 * The owner's side of auto-revert (the decision is `plan/revert.ts`): after a pass has computed the
 * statuses, write what the decisions say back to the app records and announce reverts.
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
import { decideRollout, withRevertNote, type RevertDecision } from '../plan/revert.js';
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
   * Apply the rollout decisions of one pass. `statuses` (app → status of its deployed version as planned,
   * for the version in `planned`) is updated in place: revert notes added, reverted apps `reconciling`.
   * Returns the earliest deadline still running (ms, wall clock), if any, and `marks`: the writes that
   * only record history (a version that became healthy, a deploy's start), for the caller to run once the
   * statuses are published — they change no status, so nobody waits for them.
   */
  async apply(
    h: Held,
    planned: ReadonlyMap<string, string>,
    statuses: Record<string, Status>,
    now: number,
    check: () => void,
    log: Logger,
  ): Promise<{ earliest: number | undefined; marks: () => Promise<void> }> {
    const ref = h.ref;
    let earliest: number | undefined;
    const marks: Array<() => Promise<unknown>> = [];
    const reverts: Array<{ name: string; d: Extract<RevertDecision, { kind: 'revert' }>; cur: LoadedApp }> = [];
    // Decided synchronously for every app (a pass at rest decides 'none' for all of them); only reverts
    // and marks write.
    for (const [name, version] of planned) {
      const cur = this.o.manifests.peek(ref, name);
      // The record moved on since the plan (a deploy, a revert): the next pass decides on it.
      if (!cur || cur.app.deployedVersion !== version) continue;
      const status = statuses[name];
      const d = decideRollout(cur.app, status, now);
      if (d.kind === 'revert') {
        reverts.push({ name, d, cur });
        continue;
      }
      if (d.kind === 'none') {
        if (d.deadlineAt !== undefined) earliest = earliest === undefined ? d.deadlineAt : Math.min(earliest, d.deadlineAt);
      } else {
        marks.push(() => {
          check();
          return this.o.store.replaceAt(ref, name, { ...cur.app, rollout: d.rollout }, cur.revision);
        });
      }
      if (status) statuses[name] = withRevertNote(status, cur.app);
    }
    const revert = async ({ name, d, cur }: (typeof reverts)[number]): Promise<void> => {
      check();
      const next = { ...cur.app, deployedVersion: d.to, rollout: d.rollout };
      const rev = await this.o.store.replaceAt(ref, name, next, cur.revision);
      if (rev === undefined) {
        log.info({ app: name, from: d.from, to: d.to }, 'revert skipped: the app record changed meanwhile');
        return;
      }
      this.reverted.inc({ lattice: ref.lattice });
      log.warn({ app: name, from: d.from, to: d.to, reason: d.reason, epoch: h.epoch }, 'rollout reverted');
      statuses[name] = { status: { type: 'reconciling', message: d.message }, version: '', components: [] };
      await this.announce(ref, { name, from: d.from, to: d.to, reason: d.reason }, rev, log);
    };
    // Bounded: many apps of a lattice reverting in one pass are written concurrently.
    await mapLimit(reverts, WRITES_AT_ONCE, revert);
    const writeMarks = async (): Promise<void> => {
      await mapLimit(marks, WRITES_AT_ONCE, (m) => m());
    };
    return { earliest, marks: writeMarks };
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
