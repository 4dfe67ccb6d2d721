/**
 * One reconcile pass as a pure function, the way controller-runtime's Reconciler returns a Result: what
 * the runtime read from its views (stored apps, the observed lattice, in-flight and applied records) in,
 * everything the pass decides out — the commands to send, the records to write or remove, the statuses
 * to publish, and when to come back. The runtime (`runtime/reconciler.ts`) only reads, executes (fenced
 * writes, commands, statuses) and requeues; see docs/architecture.md ("From `model.put` to
 * `component.scale`").
 *
 * No I/O, no clock (`now`), no randomness.
 */
import { undeployedStatus, waitingStatus, type Manifest, type Status } from '@wadm-ts/model';
import type { AppliedEntity, InFlightEntity, Keyed, ObservedLattice, RolloutRecord } from '@wadm-ts/entities';
import type { AppliedRecord, Command, DeployedApp, InFlight, PlanInput, PlanOutput } from '../types.js';
import { sameJson } from './ids.js';
import { DEFAULT_BACKOFF_MS, inflightOf, settleInflight } from './inflight.js';
import { earliestRequeue, planLattice } from './lattice.js';
import { releasedStatus } from './released.js';
import { decideRollout, withRevertNote } from './revert.js';
import type { ScalerMemo } from './scaler-memo.js';

/** One stored app as the manifest view holds it. */
export interface StoredAppRead {
  name: string;
  /** Null: not deployed. */
  deployedVersion: string | null;
  versions: ReadonlyArray<{ version: string; manifest: Manifest }>;
  /** Undeployed non-destructively (the record's marker; see plan/released.ts). */
  released: boolean;
  /** The record's rollout history (healthy versions, the deployed version's start, the last revert). */
  rollout?: RolloutRecord;
  /** The record's revision in the view: rollout writes are compare-and-set on it. */
  revision?: number;
}

/** A write of an app record's rollout history (compare-and-set on `revision`, the deployed version unchanged). */
export interface RolloutWrite {
  app: string;
  revision: number | undefined;
  rollout: RolloutRecord;
  /** History only (the healthy mark of a version without autoRevert): may wait for a quiet lattice. */
  history?: true;
}

/** An automatic revert: deploy `to` instead of `from`; once written, the app shows `status`. */
export interface RevertWrite extends RolloutWrite {
  from: string;
  to: string;
  reason: string;
  status: Status;
}

/** What a pass read from the replica's views. */
export interface ReconcileInput {
  lattice: string;
  /** Now, ms. */
  now: number;
  /** Every app stored for the lattice. */
  stored: readonly StoredAppRead[];
  /** Apps deleted since the owner's last pass whose `undeployed` status is not yet published. */
  gone: readonly string[];
  observed: ObservedLattice;
  inflight: ReadonlyArray<Keyed<InFlightEntity>>;
  applied: ReadonlyArray<Keyed<AppliedEntity>>;
  backoffMs?: number;
  unseenGraceMs?: number;
  /** The owner's cache of converged scaler evaluations (see `PlanInput.memo`). */
  memo?: ScalerMemo;
}

/** What a pass decided: the runtime executes it in this order (records, commands, removals, statuses). */
export interface ReconcileResult {
  /** Every deployed app of the lattice, as planned. */
  apps: DeployedApp[];
  /** Commands to send now, in order (configs before what needs them; links after their configs). */
  commands: Command[];
  records: {
    /** In-flight records whose every entry is done: purged (compare-and-set on their revision) before anything is written. */
    purge: Array<Keyed<InFlightEntity>>;
    /** Applied records that are new or changed, with the entry they replace: written before the commands are sent. */
    write: Array<{ record: AppliedRecord; current?: Keyed<AppliedEntity> }>;
    /** Applied records of apps that own nothing any more: removed after the commands are sent. */
    remove: Array<Keyed<AppliedEntity>>;
  };
  /** Status per stored app: deployed apps as planned, apps not deployed `undeployed`, released apps what they left running. */
  statuses: Record<string, Status>;
  /** Apps deleted since the last pass and not stored again: `undeployed`, published after `statuses`. */
  gone: Record<string, Status>;
  /** Corrections among the commands (logged and counted once they are sent). */
  drift: NonNullable<PlanOutput['drift']>;
  /**
   * Auto-revert and the healthy-version history (plan/revert.ts), each written by compare-and-set on the
   * record's revision: `reverts` before the statuses are published (a reverted app shows its revert
   * status once the write succeeded), `marks` after them (history only: nobody waits for it).
   */
  rollouts: { reverts: RevertWrite[]; marks: RolloutWrite[] };
  /**
   * When the plan can change by time alone (ms from `now`): an in-flight expiry, a backoff or grace
   * ending. Undefined: only a change of the views brings the next pass. If the runtime could not write
   * every record of `records.write`, it holds the commands back and comes back at once instead.
   */
  requeueAfterMs?: number;
  /** No live host and no deployed app. */
  idle: boolean;
}

/** In-flight records finished while commands are issued are purged only past this many (a burst is faster without the extra writes). */
const PURGE_DURING_BURST_OVER = 256;

/** The status of an app that is stored and not deployed, or deleted. */
export const UNDEPLOYED_STATUS: Status = undeployedStatus();

/** In-flight entries of every record (batches, or one command from older writers), each with the record it came from. */
function inflightEntries(records: ReadonlyArray<Keyed<InFlightEntity>>): { entries: InFlight[]; recordOf: Map<InFlight, string> } {
  const recordOf = new Map<InFlight, string>();
  const entries: InFlight[] = [];
  for (const f of records) {
    for (const entry of inflightOf(f.value)) {
      recordOf.set(entry, f.key);
      entries.push(entry);
    }
  }
  return { entries, recordOf };
}

export function reconcile(input: ReconcileInput): ReconcileResult {
  const { now, observed } = input;
  const apps: DeployedApp[] = [];
  for (const a of input.stored) {
    const v = a.deployedVersion === null ? undefined : a.versions.find((x) => x.version === a.deployedVersion);
    if (v) apps.push({ name: a.name, version: v.version, manifest: v.manifest });
  }
  // Undeployed non-destructively: left running, never cleaned up.
  const released = input.stored.filter((a) => a.released).map((a) => a.name);
  const { entries, recordOf } = inflightEntries(input.inflight);
  const { live, expired } = settleInflight(entries, observed, now);
  const applied = input.applied.map((a) => a.value.record as AppliedRecord);
  const planInput: PlanInput = {
    lattice: input.lattice,
    now,
    apps,
    applied,
    observed,
    inflight: live,
    ...(expired.length > 0 ? { expired } : {}),
    ...(released.length > 0 ? { released } : {}),
    backoffMs: input.backoffMs ?? DEFAULT_BACKOFF_MS,
    ...(input.unseenGraceMs !== undefined ? { unseenGraceMs: input.unseenGraceMs } : {}),
    ...(input.memo ? { memo: input.memo } : {}),
  };
  const noHosts = observed.hosts.length === 0;
  // A lattice without hosts: nothing can run and nothing can be sent; every deployed app waits (the
  // status the Rust wadm shows for a lattice it has not observed), and deploys as soon as hosts appear.
  const plan: PlanOutput = noHosts ? { commands: [], applied, statuses: Object.fromEntries(apps.map((a) => [a.name, waitingStatus()])) } : planLattice(planInput);

  // In-flight records whose every entry is done go once the lattice is quiet: a done entry blocks nothing.
  const liveRecords = new Set(live.map((e) => recordOf.get(e)));
  const finished = input.inflight.filter((f) => !liveRecords.has(f.key));
  const purge = plan.commands.length === 0 || finished.length > PURGE_DURING_BURST_OVER ? finished : [];

  const currentApplied = new Map(input.applied.map((a) => [(a.value.record as AppliedRecord).app, a]));
  const write: ReconcileResult['records']['write'] = [];
  for (const record of plan.applied) {
    const current = currentApplied.get(record.app);
    if (current && sameJson(current.value.record, record)) continue;
    write.push(current ? { record, current } : { record });
  }
  const keep = new Set(plan.applied.map((a) => a.app));
  const remove = input.applied.filter((a) => !keep.has((a.value.record as AppliedRecord).app));

  // Apps stored but not deployed are undeployed, and so are apps deleted since the last pass (the API
  // publishes that too, but a pass that read the app before its delete may have published over it).
  // The plan's own object (fresh every pass, held by nothing else), not a copy: at 1,000 apps, copying a
  // map of that many names was a tenth of the pass.
  const statuses: Record<string, Status> = plan.statuses;
  for (const a of input.stored) if (a.deployedVersion === null) statuses[a.name] = UNDEPLOYED_STATUS;
  if (released.length > 0) {
    const records = new Map(plan.applied.map((r) => [r.app, r]));
    for (const name of released) statuses[name] = releasedStatus(name, records.get(name), observed);
  }
  const gone: Record<string, Status> = {};
  for (const name of input.gone) if (!(name in statuses)) gone[name] = UNDEPLOYED_STATUS;

  // Rollouts: a version that reached `deployed` is marked healthy; one with autoRevert past its deadline
  // is reverted; until then its deadline is when the plan changes by time alone.
  const rollouts: ReconcileResult['rollouts'] = { reverts: [], marks: [] };
  let deadline: number | undefined;
  const storedByName = new Map(input.stored.map((a) => [a.name, a]));
  for (const a of apps) {
    const record = storedByName.get(a.name)!;
    const status = statuses[a.name];
    const d = decideRollout(record, status, now);
    if (d.kind === 'revert') {
      rollouts.reverts.push({ app: a.name, revision: record.revision, rollout: d.rollout, from: d.from, to: d.to, reason: d.reason, status: { status: { type: 'reconciling', message: d.message }, version: '', components: [] } });
      continue;
    }
    if (d.kind === 'mark') rollouts.marks.push({ app: a.name, revision: record.revision, rollout: d.rollout, ...(d.history ? { history: true as const } : {}) });
    else if (d.deadlineAt !== undefined) deadline = deadline === undefined ? d.deadlineAt : Math.min(deadline, d.deadlineAt);
    if (status) statuses[a.name] = withRevertNote(status, record);
  }

  const planned = noHosts ? undefined : earliestRequeue(planInput, plan);
  const at = planned === undefined ? deadline : deadline === undefined ? planned : Math.min(planned, deadline);
  return {
    apps,
    commands: plan.commands,
    records: { purge, write, remove },
    statuses,
    gone,
    drift: plan.drift ?? [],
    rollouts,
    ...(at !== undefined ? { requeueAfterMs: Math.max(0, at - now) } : {}),
    idle: apps.length === 0 && noHosts,
  };
}
