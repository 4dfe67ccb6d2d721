/**
 * Auto-revert as a pure decision: given an app's stored record (deployed version, stored versions, the
 * rollout history kept beside the record) and the status this pass computed for it, what the owner
 * writes back to the record.
 *
 * - A deployed version that reaches `deployed` is marked healthy once (`healthy_versions`, and
 *   `deployed.healthy_at_ms`), for every app: that is what "the previously deployed version" means for a
 *   revert and for `wadm app rollback`.
 * - A version with `autoRevert: true` that has not reached `deployed` by `deployed.at_ms +
 *   healthyDeadline` is reverted to the most recent other version that reached `deployed` (never to
 *   itself). A version deployed by a revert is never reverted (no loops, no cascades); a version that
 *   reached `deployed` within its deadline is never reverted later (later failures are ordinary
 *   reconciling, not a failed rollout).
 * - The deadline is counted from the stored deploy time, so a new owner derives it from the record; when
 *   the record has none (written by the Rust wadm or an older wadm-ts), the owner stamps "now" first.
 */
import { rolloutPolicyOf, type Manifest, type Status } from '@wadm-ts/model';
import { previousHealthyVersion, rolloutOnHealthy, type RolloutRecord } from '@wadm-ts/entities';

export interface RolloutApp {
  name: string;
  deployedVersion: string | null;
  versions: readonly { version: string; manifest: Manifest }[];
  rollout?: RolloutRecord;
}

export type RevertDecision =
  /** Nothing to write; `deadlineAt` (ms, wall clock) is when the decision can change by time alone. */
  | { kind: 'none'; deadlineAt?: number }
  /**
   * Write this rollout record (healthy mark, or a deploy time stamped), the deployed version unchanged.
   * `history`: the healthy mark of a version without `autoRevert`, which no revert decision reads; it may
   * wait until the lattice is quiet (see runtime/healthy-marks.ts).
   */
  | { kind: 'mark'; rollout: RolloutRecord; history?: true }
  /** Deploy `to` instead of `from`, with this rollout record; `message` is the status note. */
  | { kind: 'revert'; from: string; to: string; reason: string; message: string; rollout: RolloutRecord };

const NONE: RevertDecision = { kind: 'none' };

function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
}

function describe(status: Status | undefined): string {
  if (!status) return 'no status was published';
  const msg = (status.status.message ?? '').trim();
  const text = msg ? msg : `status ${status.status.type}`;
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

export function decideRollout(app: RolloutApp, status: Status | undefined, now: number): RevertDecision {
  const v = app.deployedVersion;
  if (v === null) return NONE;
  const r = app.rollout;
  const d = r?.deployed?.version === v ? r.deployed : undefined;
  const manifest = app.versions.find((x) => x.version === v)?.manifest;
  if (status?.status.type === 'deployed') {
    if (d?.healthyAtMs !== undefined && r?.healthyVersions.at(-1) === v) return NONE;
    const mark: RevertDecision = { kind: 'mark', rollout: rolloutOnHealthy(r, v, now) };
    // A version with autoRevert is never reverted once marked healthy: that mark is written at once.
    return manifest && rolloutPolicyOf(manifest).autoRevert ? mark : { ...mark, history: true };
  }
  if (d?.healthyAtMs !== undefined) return NONE;
  if (!manifest) return NONE;
  const policy = rolloutPolicyOf(manifest);
  if (!policy.autoRevert) return NONE;
  if (r?.reverted?.to === v) return NONE;
  if (!d) {
    const stamped: RolloutRecord = { deployed: { version: v, atMs: now }, healthyVersions: r?.healthyVersions ?? [] };
    if (r?.reverted) stamped.reverted = r.reverted;
    return { kind: 'mark', rollout: stamped };
  }
  const deadlineAt = d.atMs + policy.healthyDeadlineMs;
  if (now < deadlineAt) return { kind: 'none', deadlineAt };
  const to = previousHealthyVersion(r, v, app.versions.map((x) => x.version));
  if (to === undefined) return NONE;
  const reason = `${v} did not become deployed within ${seconds(policy.healthyDeadlineMs)}: ${describe(status)}`;
  return {
    kind: 'revert',
    from: v,
    to,
    reason,
    message: revertNote(v, to, reason),
    rollout: { deployed: { version: to, atMs: now }, healthyVersions: r?.healthyVersions ?? [], reverted: { from: v, to, atMs: now, reason } },
  };
}

export function revertNote(from: string, to: string, reason: string): string {
  return `reverted from ${from} to ${to}: ${reason}`;
}

/**
 * The status to show for an app whose running version came from an automatic revert (until the next
 * deploy): the note alone once `deployed`, otherwise the note before the status's own message.
 */
export function withRevertNote(status: Status, app: RolloutApp): Status {
  const rv = app.rollout?.reverted;
  if (!rv || rv.to !== app.deployedVersion) return status;
  const note = revertNote(rv.from, rv.to, rv.reason);
  const own = (status.status.message ?? '').trim();
  const message = status.status.type === 'deployed' || !own ? note : `${note}; ${own}`;
  return { ...status, status: { ...status.status, message } };
}
