/**
 * The pure planner: deployed manifests × observed lattice → commands, status per app, applied records.
 * No I/O, no clock (input.now), no randomness: the same input always gives the same output.
 *
 * Order of the returned commands: PutConfig; component/provider commands of the current scalers; PutLink;
 * removal of stale instances; DeleteLink; DeleteConfig. A command that needs a config is only produced
 * once that config is observed, so configs are always written before what uses them.
 *
 * Apps are planned in name order; new instances go to the least-loaded eligible hosts, counting every
 * instance on a host and what earlier apps of the same pass placed (see placement.ts).
 *
 * A pass (`reconcile.ts`): `settleInflight` (drop the entries that are done) → `planLattice` → the runtime
 * issues the commands → requeue the lattice at `earliestRequeue` (if defined) so in-flight expiry and
 * backoff ends are seen.
 */
import type { ScalerStatus, StatusInfo } from '@wadm-ts/model';
import type { AppliedRecord, Command, DeployedApp, InFlight, PlanInput, PlanOutput } from '../types.js';
import { configCleanup, staleInstanceRemovals } from './cleanup.js';
import { putConfig } from './commands.js';
import { configHash } from './configs.js';
import { desiredOf, type AppDesired, type ScalerSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import { CommandFilter, DEFAULT_BACKOFF_MS, settleInflight } from './inflight.js';
import { appliedLinkKey, appliedLinkOf, evalLink, linkCleanup, type AppliedLink } from './links.js';
import { linkIdentity, linkNameKey } from './ids.js';
import { LatticeLoad } from './placement.js';
import { indexObserved, isStale, type Instance, type ObservedIndex } from './observed.js';
import { appStatus, cleanupInfo, scalerStatus, toScalerStatus } from './status.js';
import { evalWorkload } from './workloads.js';
import { releasedInstance } from './released.js';

export { commandKey, sameCommand, sha256Hex, workloadScalerId, linkScalerId, scalerAnnotations, managedAnnotations } from './ids.js';
export {
  SPREAD_SCALER_KIND,
  DAEMON_SCALER_KIND,
  LINK_SCALER_KIND,
} from './ids.js';
export { isSatisfied, settleInflight, failureMatches, DEFAULT_BACKOFF_MS } from './inflight.js';
export { computeSpread, daemonSpreads, distribute, isEligible, place, type SpreadTarget, type HostSlot, type Placement, type PlacementRequest } from './spread.js';
export { desiredOf, sharedComponentId, linkStatusName, type AppDesired, type ScalerSpec, type WorkloadSpec, type LinkSpec, type StatusSpec } from './desired.js';
export { configRefs, configHash, secretConfigValues, type ConfigRef } from './configs.js';
export { sameLink } from './observed.js';
export { releasedCounts, releasedMessage, releasedStatus, type ReleasedCounts } from './released.js';
export { chooseMoves, orderCandidates, rolloutMessage, type RolloutCandidate, type RolloutInput, type RolloutDecision } from './rollout.js';
export { decideRollout, withRevertNote, revertNote, type RolloutApp, type RevertDecision } from './revert.js';

type Bucket = 'configs' | 'workloads' | 'links' | 'removals' | 'deleteLinks' | 'deleteConfigs';
const BUCKETS: readonly Bucket[] = ['configs', 'workloads', 'links', 'removals', 'deleteLinks', 'deleteConfigs'];

/** Collects the commands to issue, filtered by in-flight entries and failure backoff. */
class Issuer {
  readonly out = new Map<Bucket, Command[]>(BUCKETS.map((b) => [b, []]));
  constructor(readonly filter: CommandFilter) {}

  /** Returns the backoff error when the command's target is backing off, else undefined (issued or in flight). */
  issue(c: Command, bucket: Bucket): string | undefined {
    const r = this.filter.check(c);
    if (r.outcome === 'backoff') return r.error;
    if (r.outcome === 'emit') this.out.get(bucket)!.push(c);
    return undefined;
  }

  /** Whether `c` is the last command emitted to `bucket` (it was issued now, not held back). */
  emitted(c: Command, bucket: Bucket): boolean {
    return this.out.get(bucket)!.at(-1) === c;
  }

  commands(): Command[] {
    return BUCKETS.flatMap((b) => this.out.get(b)!);
  }
}

function evaluate(
  s: ScalerSpec,
  observed: ObservedIndex,
  stale: (i: Instance) => boolean,
  beingPut: ReadonlySet<string>,
  load: LatticeLoad,
  inflight: ReadonlyMap<string, readonly InFlight[]>,
  stalled: StalledUpdates,
): ScalerEval {
  if (s.type === 'workload') return evalWorkload(s, { observed, isStale: stale, beingPut, load, inflight, stalled: stalled.has, keepStalled: stalled.keep });
  if (s.type === 'link') return evalLink(s, observed, beingPut);
  return { id: s.id, kind: s.kind, name: s.name, app: s.app, commands: [], failures: [], waiting: [], unhealthy: 0, busy: () => '', fixed: s.status };
}

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
  // Previous versions' instances a scaler is rolling out over (cleanup leaves them to it).
  const held = new Set<Instance>();
  const prevApplied = new Map(input.applied.map((r) => [r.app, r]));
  const appliedLinks = new Map<string, AppliedLink[]>();
  const appliedConfigs = new Map<string, Record<string, string>>();
  const cleanupCount = new Map<string, number>();
  const countCleanup = (app: string, n: number): void => void cleanupCount.set(app, (cleanupCount.get(app) ?? 0) + n);

  // 1. wadm-managed configs: written when absent, when their values changed since last applied, or when
  //    the hosts hold other values than were put (drift).
  const drift: NonNullable<PlanOutput['drift']> = [];
  const beingPut = new Map<string, Set<string>>();
  for (const d of desired) {
    const put = new Set<string>();
    const configs: Record<string, string> = {};
    for (const [name, values] of d.managedConfigs) {
      const hash = configHash(values);
      configs[name] = hash;
      const applied = prevApplied.get(d.app)?.configs[name] === hash;
      const present = observed.configs.has(name);
      const seen = observed.configDigests.get(name);
      // Values the hosts hold, when a query read them; otherwise what was last put.
      const differs = seen !== undefined ? seen !== hash : !applied;
      // Drift: what was put is gone, or the hosts hold other values.
      const drifted = applied && (!present || (seen !== undefined && seen !== hash));
      if (!present || differs) {
        const c = putConfig(d.app, name, values);
        issuer.issue(c, 'configs');
        put.add(name);
        if (drifted && issuer.emitted(c, 'configs')) drift.push({ kind: 'config', app: d.app, name });
      }
    }
    beingPut.set(d.app, put);
    appliedConfigs.set(d.app, configs);
  }

  // 2. The scalers of every deployed app.
  const scalerStatuses = new Map<string, ScalerStatus[]>();
  const linksWantedByApp = new Map<string, ReadonlySet<string>>();
  for (const d of desired) {
    const list: ScalerStatus[] = [];
    const links: AppliedLink[] = [];
    const linkKeys = new Set<string>();
    // Link scalers of one app with the same host identity share one merged link (desired.ts): the first
    // one issues its put, the others report the same outcome.
    const linkOutcomes = new Map<string, { pending: number; backoff: string[] }>();
    for (const s of d.scalers) {
      const e = evaluate(s, observed, stale, beingPut.get(d.app)!, load, inflightByKey, stalled);
      for (const i of e.held ?? []) held.add(i);
      const k = s.type === 'link' ? appliedLinkKey(appliedLinkOf(s)) : undefined;
      const shared = k === undefined ? undefined : linkOutcomes.get(k);
      if (shared) {
        list.push(toScalerStatus(e, scalerStatus(e, shared.pending, shared.backoff)));
        continue;
      }
      let pending = 0;
      const backoff: string[] = [];
      for (const c of e.commands) {
        const bucket = c.kind === 'PutLink' ? 'links' : 'workloads';
        const err = issuer.issue(c, bucket);
        if (err === undefined) pending++;
        else backoff.push(err);
        // A link put again although it was applied before: it went missing or changed (drift).
        if (c.kind === 'PutLink' && issuer.emitted(c, bucket) && (prevApplied.get(d.app)?.links ?? []).some((l) => appliedLinkKey(l) === linkIdentity(c.source_id, c.wit_namespace, c.wit_package, c.name, c.target))) {
          drift.push({ kind: 'link', app: d.app, name: `${c.source_id} ${c.wit_namespace}:${c.wit_package} ${c.name}` });
        }
      }
      list.push(toScalerStatus(e, scalerStatus(e, pending, backoff)));
      if (s.type === 'link' && k !== undefined) {
        linkOutcomes.set(k, { pending, backoff });
        linkKeys.add(k);
        links.push(appliedLinkOf(s));
      }
    }
    scalerStatuses.set(d.app, list);
    appliedLinks.set(d.app, links);
    linksWantedByApp.set(d.app, linkKeys);
  }

  // 3. Instances wadm manages that no current scaler owns.
  for (const r of staleInstanceRemovals(observed, (i) => stale(i) && !held.has(i))) {
    issuer.issue(r.command, 'removals');
    countCleanup(r.app, 1);
  }

  // 4. Links and managed configs applied earlier and no longer wanted.
  const NONE: ReadonlySet<string> = new Set();
  const linksWantedByAny = new Set<string>();
  for (const keys of linksWantedByApp.values()) for (const k of keys) linksWantedByAny.add(k);
  const configsWantedByAny = new Set<string>();
  for (const d of desired) for (const k of d.managedConfigs.keys()) configsWantedByAny.add(k);
  // Puts still in flight (not expired) may land after this pass: what they create stays on record.
  const linksInFlight = new Map<string, Set<string>>();
  const linkNamesInFlight = new Map<string, Set<string>>();
  const configsInFlight = new Map<string, Set<string>>();
  const addTo = (m: Map<string, Set<string>>, app: string, k: string): void => {
    const set = m.get(app);
    if (set) set.add(k);
    else m.set(app, new Set([k]));
  };
  for (const f of input.inflight) {
    if (f.expiresAt <= input.now) continue;
    const c = f.command;
    if (c.kind === 'PutLink') {
      addTo(linksInFlight, c.model_name, linkIdentity(c.source_id, c.wit_namespace, c.wit_package, c.name, c.target));
      addTo(linkNamesInFlight, c.model_name, linkNameKey(c.source_id, c.wit_namespace, c.wit_package, c.name));
    } else if (c.kind === 'PutConfig') addTo(configsInFlight, c.model_name, c.config_name);
  }
  const graceMs = input.unseenGraceMs ?? DEFAULT_UNSEEN_GRACE_MS;
  const unseenMarks = new Map<string, Record<string, number>>();
  let unseenEnd: number | undefined;
  for (const rec of [...input.applied].sort(compareBy((r) => r.app))) {
    if (released.has(rec.app)) {
      // Kept as it is: nothing is deleted, and no grace runs out.
      appliedLinks.set(rec.app, rec.links);
      appliedConfigs.set(rec.app, rec.configs);
      if (rec.unseen && Object.keys(rec.unseen).length > 0) unseenMarks.set(rec.app, rec.unseen);
      continue;
    }
    const d = desiredByApp.get(rec.app);
    const ctx = (beingPut: ReadonlySet<string> | undefined) => ({ now: input.now, graceMs, beingPut: beingPut ?? NONE });
    const lc = linkCleanup(rec, linksWantedByApp.get(rec.app) ?? NONE, linksWantedByAny, observed, {
      ...ctx(linksInFlight.get(rec.app)),
      beingPutNamed: linkNamesInFlight.get(rec.app) ?? NONE,
    });
    const cc = configCleanup(rec, d ? new Set(d.managedConfigs.keys()) : NONE, configsWantedByAny, observed, ctx(configsInFlight.get(rec.app)));
    for (const c of lc.commands) issuer.issue(c, 'deleteLinks');
    for (const c of cc.commands) issuer.issue(c, 'deleteConfigs');
    countCleanup(rec.app, lc.commands.length + cc.commands.length);
    const links = appliedLinks.get(rec.app) ?? [];
    const known = new Set(links.map(appliedLinkKey));
    appliedLinks.set(rec.app, [...links, ...lc.keep.filter((l) => !known.has(appliedLinkKey(l)))]);
    appliedConfigs.set(rec.app, { ...cc.keep, ...(appliedConfigs.get(rec.app) ?? {}) });
    const marks = { ...lc.unseen, ...cc.unseen };
    if (Object.keys(marks).length > 0) unseenMarks.set(rec.app, marks);
    for (const since of Object.values(marks)) if (unseenEnd === undefined || since + graceMs < unseenEnd) unseenEnd = since + graceMs;
  }

  // 5. Status per deployed app.
  const statuses: PlanOutput['statuses'] = {};
  for (const d of desired) {
    const n = cleanupCount.get(d.app) ?? 0;
    const extra: StatusInfo[] = n > 0 ? [cleanupInfo(n)] : [];
    statuses[d.app] = appStatus(scalerStatuses.get(d.app) ?? [], extra);
  }

  // 6. Applied records (empty ones omitted).
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

  const out: PlanOutput = { commands: issuer.commands(), statuses, applied, ...(drift.length > 0 ? { drift } : {}) };
  const backoff = issuer.filter.earliestBackoffEnd();
  backoffEnds.set(out, { end: backoff === undefined ? unseenEnd : unseenEnd === undefined ? backoff : Math.min(backoff, unseenEnd) });
  return out;
}

/**
 * In-place updates that stalled (`AppliedRecord.stalled`): those on record, plus the `UpdateComponent`
 * entries that expired without effect in this pass. A mark stays on record while a scaler relies on it
 * (the host still runs the previous image and the scaler still wants that update); then it goes.
 */
class StalledUpdates {
  private readonly marks = new Map<string, Map<string, string>>();
  private readonly used = new Map<string, Map<string, string>>();

  constructor(applied: readonly AppliedRecord[], expired: readonly InFlight[]) {
    for (const r of applied) if (r.stalled) this.marks.set(r.app, new Map(Object.entries(r.stalled)));
    for (const f of expired) {
      const c = f.command;
      if (c.kind !== 'UpdateComponent') continue;
      let m = this.marks.get(c.model_name);
      if (!m) this.marks.set(c.model_name, (m = new Map()));
      m.set(`${c.host_id}/${c.component_id}`, c.new_component_ref);
    }
  }

  readonly has = (app: string, host: string, componentId: string, image: string): boolean => this.marks.get(app)?.get(`${host}/${componentId}`) === image;

  readonly keep = (app: string, host: string, componentId: string, image: string): void => {
    let m = this.used.get(app);
    if (!m) this.used.set(app, (m = new Map()));
    m.set(`${host}/${componentId}`, image);
  };

  keptApps(): string[] {
    return [...this.used.keys()];
  }

  kept(app: string): Record<string, string> | undefined {
    const m = this.used.get(app);
    if (!m || m.size === 0) return undefined;
    const out: Record<string, string> = {};
    for (const k of [...m.keys()].sort()) out[k] = m.get(k)!;
    return out;
  }
}

/** Default of `PlanInput.unseenGraceMs`: longer than an ingest redelivery after a worker died holding an event. */
export const DEFAULT_UNSEEN_GRACE_MS = 60_000;

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

/** Every config name the deployed apps use (managed, external, secrets): what an owner asks the hosts about. */
export function referencedConfigs(apps: readonly DeployedApp[]): string[] {
  const byName = new Map(apps.map((a) => [a.name, a]));
  const names = new Set<string>();
  for (const a of apps) {
    const d = desiredOf(a, byName);
    for (const n of d.managedConfigs.keys()) names.add(n);
    for (const s of d.scalers) if ('configs' in s) for (const r of s.configs) if (r.error === undefined) names.add(r.name);
  }
  return [...names].sort();
}
