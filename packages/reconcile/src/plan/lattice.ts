/**
 * The pure planner: deployed manifests × observed lattice → commands, status per app, applied records.
 * No I/O, no clock (input.now), no randomness: the same input always gives the same output.
 *
 * Order of the returned commands (`issuer.ts`): PutConfig; component/provider commands of the current
 * scalers; PutLink; removal of stale instances; DeleteLink; DeleteConfig. A command that needs a config is
 * only produced once that config is observed, so configs are always written before what uses them.
 *
 * Apps are planned in name order; new instances go to the least-loaded eligible hosts, counting every
 * instance on a host and what earlier apps of the same pass placed (see placement.ts).
 *
 * Phases: configs and scalers (`lattice-put.ts`), removals and cleanup (`lattice-cleanup.ts`), then the
 * statuses and applied records (here). A pass (`reconcile.ts`): `settleInflight` (drop the entries that
 * are done) → `planLattice` → the runtime issues the commands → requeue the lattice at `earliestRequeue`
 * (if defined) so in-flight expiry and backoff ends are seen.
 */
import type { ScalerStatus, Status } from '@wadm-ts/model';
import type { ScalerMemo } from './scaler-memo.js';
import type { AppliedRecord, InFlight, PlanInput, PlanOutput } from '../types.js';
import { desiredOf, type AppDesired } from './desired.js';
import { CommandFilter, DEFAULT_BACKOFF_MS, settleInflight } from './inflight.js';
import { Issuer } from './issuer.js';
import { planCleanup, planRemovals } from './lattice-cleanup.js';
import { planConfigs, planScalers, type Drift } from './lattice-put.js';
import type { AppliedLink } from './links.js';
import { LatticeLoad } from './placement.js';
import { indexObserved, isStale, type Instance } from './observed.js';
import { releasedInstance } from './released.js';
import { StalledUpdates } from './stalled.js';
import { appStatus, cleanupInfo } from './status.js';

/** Default of `PlanInput.unseenGraceMs`: longer than an ingest redelivery after a worker died holding an event. */
export const DEFAULT_UNSEEN_GRACE_MS = 60_000;

const compareBy =
  <T>(key: (x: T) => string) =>
  (a: T, b: T): number => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };

export function planLattice(input: PlanInput): PlanOutput {
  const apps = [...input.apps].sort(compareBy((a) => a.name));
  const appsByName = new Map(apps.map((a) => [a.name, a]));
  const desired: AppDesired[] = apps.map((a) => desiredOf(a, appsByName));
  const desiredByApp = new Map(desired.map((d) => [d.app, d]));
  const current = new Map(desired.map((d) => [d.app, new Set(d.scalers.filter((s) => s.type === 'workload').map((s) => s.id))]));
  const observed = indexObserved(input.observed);
  // Apps undeployed non-destructively: what they run is left alone (released.ts).
  const released: ReadonlySet<string> = new Set((input.released ?? []).filter((n) => !appsByName.has(n)));
  const stale = (i: Instance): boolean => isStale(i, current) && !releasedInstance(i, released);
  const issuer = new Issuer(new CommandFilter(input.inflight, input.observed.failures, input.now, input.backoffMs ?? DEFAULT_BACKOFF_MS));
  // Host load over the whole lattice, updated as the scalers (apps in name order) place their instances.
  const liveInflight = input.inflight.filter((f) => f.expiresAt > input.now);
  const load = new LatticeLoad(observed.hosts, observed.all, liveInflight);
  const inflightByKey = new Map<string, InFlight[]>();
  for (const f of liveInflight) {
    const l = inflightByKey.get(f.key);
    if (l) l.push(f);
    else inflightByKey.set(f.key, [f]);
  }
  const stalled = new StalledUpdates(input.applied, input.expired ?? []);
  const prevApplied = new Map(input.applied.map((r) => [r.app, r]));
  const cleanupCount = new Map<string, number>();
  const countCleanup = (app: string, n: number): void => void cleanupCount.set(app, (cleanupCount.get(app) ?? 0) + n);

  const drift: Drift = [];
  const { beingPut, appliedConfigs } = planConfigs(desired, observed, prevApplied, issuer, drift);
  input.memo?.begin(observed.hosts);
  const scalers = planScalers(desired, { observed, stale, beingPut, load, inflight: inflightByKey, stalled, prevApplied, ...(input.memo ? { memo: input.memo } : {}) }, issuer, drift);
  input.memo?.end();
  const { appliedLinks, held } = scalers;
  planRemovals(observed, (i) => stale(i) && !held.has(i), issuer, countCleanup);
  const graceMs = input.unseenGraceMs ?? DEFAULT_UNSEEN_GRACE_MS;
  const applied = [...input.applied].sort(compareBy((r) => r.app));
  const cleanup = { now: input.now, graceMs, applied, inflight: input.inflight, desired, desiredByApp, released, observed, linksWantedByApp: scalers.linksWantedByApp };
  const { unseenMarks, unseenEnd } = planCleanup(cleanup, issuer, countCleanup, appliedLinks, appliedConfigs);

  const statuses = appStatuses(desired, scalers.scalerStatuses, cleanupCount, input.memo);
  const records = appliedRecords(appliedLinks, appliedConfigs, unseenMarks, stalled);
  const out: PlanOutput = { commands: issuer.commands(), statuses, applied: records, ...(drift.length > 0 ? { drift } : {}) };
  const backoff = issuer.filter.earliestBackoffEnd();
  backoffEnds.set(out, { end: backoff === undefined ? unseenEnd : unseenEnd === undefined ? backoff : Math.min(backoff, unseenEnd) });
  return out;
}

/** 5. Status per deployed app (the last pass's object for an app whose scaler statuses are the last pass's, see scaler-memo.ts). */
function appStatuses(desired: readonly AppDesired[], scalerStatuses: ReadonlyMap<string, ScalerStatus[]>, cleanupCount: ReadonlyMap<string, number>, memo: ScalerMemo | undefined): PlanOutput['statuses'] {
  const statuses: PlanOutput['statuses'] = {};
  for (const d of desired) {
    const n = cleanupCount.get(d.app) ?? 0;
    const list = scalerStatuses.get(d.app) ?? [];
    const make = (): Status => appStatus(list, n > 0 ? [cleanupInfo(n)] : []);
    statuses[d.app] = memo ? memo.appStatus(d.app, list, n, make) : make();
  }
  return statuses;
}

/** 6. Applied records (empty ones omitted), by app name, their maps in key order. */
function appliedRecords(
  appliedLinks: ReadonlyMap<string, AppliedLink[]>,
  appliedConfigs: ReadonlyMap<string, Record<string, string>>,
  unseenMarks: ReadonlyMap<string, Record<string, number>>,
  stalled: StalledUpdates,
): AppliedRecord[] {
  const applied: AppliedRecord[] = [];
  for (const app of [...new Set([...appliedLinks.keys(), ...appliedConfigs.keys(), ...stalled.keptApps()])].sort()) {
    const links = appliedLinks.get(app) ?? [];
    const configs = appliedConfigs.get(app) ?? {};
    const stalledMarks = stalled.kept(app);
    if (links.length === 0 && Object.keys(configs).length === 0 && !stalledMarks) continue;
    const sortedConfigs: Record<string, string> = {};
    for (const k of Object.keys(configs).sort()) sortedConfigs[k] = configs[k]!;
    const marks = unseenMarks.get(app);
    const unseen: Record<string, number> = {};
    if (marks) for (const k of Object.keys(marks).sort()) unseen[k] = marks[k]!;
    applied.push({ app, links, configs: sortedConfigs, ...(marks ? { unseen } : {}), ...(stalledMarks ? { stalled: stalledMarks } : {}) });
  }
  return applied;
}

/** Per plan output: the earliest end of a backoff that suppressed one of the commands the plan wanted, or of an unseen entry's grace. */
const backoffEnds = new WeakMap<PlanOutput, { end: number | undefined }>();

/**
 * The earliest time (ms, > input.now) at which planning the same input again can give another result by
 * the passing of time alone: the nearest expiry of a live in-flight entry (see `settleInflight`), or the
 * end of a failure backoff (failure.at + backoffMs) that suppresses a command now. Undefined: nothing
 * changes with time. `out` is `planLattice(input)`; when it is not the very object `planLattice`
 * returned (e.g. a copy), the input is planned again to find the backoffs.
 */
export function earliestRequeue(input: PlanInput, out: PlanOutput): number | undefined {
  const recorded = backoffEnds.get(out) ?? backoffEnds.get(planLattice(input));
  let at = recorded?.end;
  for (const f of settleInflight(input.inflight, input.observed, input.now).live) if (at === undefined || f.expiresAt < at) at = f.expiresAt;
  return at;
}
