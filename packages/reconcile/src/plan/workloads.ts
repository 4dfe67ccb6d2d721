/**
 * Component and provider spread/daemon scalers (docs/wire/behaviour.md §5.1–5.4 with docs/wire/README.md rule 3): one
 * generic evaluation; `WorkloadOps` supplies what differs (ScaleComponent vs Start/StopProvider).
 */
import { SCALER_KEY, SPREAD_KEY } from '@wadm-ts/protocol';
import { minAvailable } from '@wadm-ts/model';
import type { Command, InFlight } from '../types.js';
import { opsFor, updateComponent } from './commands.js';
import { configGate } from './configs.js';
import type { WorkloadSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import { commandKey, sameCommand, workloadScalerId } from './ids.js';
import { managedApp, type Instance, type ObservedIndex } from './observed.js';
import { chooseMoves, rolloutMessage, type RolloutCandidate } from './rollout.js';
import type { LatticeLoad, PendingPlacement } from './placement.js';
import { PLAIN_FREE, place, type HostSlot, type Placement } from './place.js';
import type { HostEntity } from '@wadm-ts/entities';
import type { ScalerMemo } from './scaler-memo.js';

export interface WorkloadContext {
  observed: ObservedIndex;
  isStale: (i: Instance) => boolean;
  /** Managed configs being written by this plan (or in flight). */
  beingPut: ReadonlySet<string>;
  /** The pass's host load (read to place, updated with what this scaler places) and in-flight placements. */
  load: LatticeLoad;
  /** In-flight entries not expired, by `commandKey` (absent: none). */
  inflight?: ReadonlyMap<string, readonly InFlight[]>;
  /**
   * Whether an in-place update of the app's component on the host to `image` stalled (see
   * `AppliedRecord.stalled`); the scaler then replaces that instance by stop and start, and reports the key
   * it relied on with `keepStalled` so that the mark stays on record while it matters.
   */
  stalled?: (app: string, hostId: string, componentId: string, image: string) => boolean;
  keepStalled?: (app: string, hostId: string, componentId: string, image: string) => void;
  /** Converged evaluations kept from the owner's earlier passes (scaler-memo.ts); absent: always evaluated. */
  memo?: ScalerMemo;
}

/**
 * A previous version's instance of the scaler's entity: wadm-managed by the same app, owned by no current
 * scaler (the new version changed the image or the config list, so the scaler id). The scaler replaces
 * these within its rollout budget instead of cleanup removing them all at once.
 */
export function isPredecessor(spec: WorkloadSpec, i: Instance, isStale: (i: Instance) => boolean): boolean {
  return i.annotations[SCALER_KEY] !== spec.id && managedApp(i) === spec.app && isStale(i);
}

/** A previous component instance whose scaler differed from this one only by the image: updated in place. */
export function updatableInPlace(spec: WorkloadSpec, i: Instance): boolean {
  if (spec.workload !== 'component' || i.imageRef === spec.image) return false;
  return i.annotations[SCALER_KEY] === workloadScalerId(spec.kind, spec.app, spec.componentName, spec.name, i.imageRef, spec.configs.map((r) => r.name));
}

/** What a host holds of this scaler's entity, from its point of view. */
export function slotOf(spec: WorkloadSpec, i: Instance | undefined, isStale: (i: Instance) => boolean, pending?: PendingPlacement): HostSlot {
  if (!i) return pending !== undefined && pending.scaler === spec.id ? { kind: 'free', pending: { spread: pending.spread, count: pending.count } } : { kind: 'free' };
  if (i.annotations[SCALER_KEY] === spec.id) return { kind: 'own', spread: i.annotations[SPREAD_KEY] ?? '', count: i.count };
  return isStale(i) ? { kind: 'stale' } : { kind: 'foreign' };
}

function spreadFailures(spec: WorkloadSpec, p: Placement, counted: boolean): string[] {
  const out: string[] = [];
  for (const o of p.outcomes) {
    if (spec.mode === 'spread' && o.placed < o.spread.target) {
      out.push(`Could not satisfy spread ${o.spread.name} for ${spec.image}, ${o.hosts}/${counted ? 1 : o.spread.target} eligible hosts found.`);
    } else if (spec.mode === 'daemon' && o.spread.target > 0 && o.available === 0) {
      out.push(`Could not satisfy daemonscaler ${o.spread.name} for ${spec.image}, 0 eligible hosts found.`);
    }
  }
  return out;
}

const NO_INSTANCES: ReadonlyMap<string, Instance> = new Map();
const NO_HELD: Instance[] = [];

/**
 * A scaler's status message while `n` of its commands are pending. A function of its own (not a closure of
 * `evalWorkload`), so an evaluation kept by the scaler memo holds nothing of the pass that made it.
 */
export function scalingMessage(noun: string): (n: number) => string {
  return (n) => `Scaling ${noun} on ${n} host(s)`;
}
const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function evalWorkload(spec: WorkloadSpec, ctx: WorkloadContext): ScalerEval {
  const ops = opsFor(spec.workload);
  const byHost = ctx.observed.instances[spec.workload].get(spec.name) ?? NO_INSTANCES;
  const pending = ctx.load.pendingOf(spec.workload, spec.name);
  const gate = configGate(spec.configs, ctx.observed.configs, ctx.beingPut);
  // An evaluation kept from an earlier pass (converged or pinned) stands while its inputs are unchanged (scaler-memo.ts).
  const gateClean = gate.ready && gate.failures.length === 0 && gate.waiting.length === 0;
  const kept = ctx.memo?.get(spec, byHost, pending, gateClean);
  if (kept) return kept;
  // The previous version's instances (host → instance), and those of them that are updated in place.
  const previous = new Map<string, Instance>();
  const inPlace = new Set<string>();
  const stalled: string[] = [];
  for (const h of byHost.keys()) {
    const i = byHost.get(h)!;
    if (!isPredecessor(spec, i, ctx.isStale)) continue;
    previous.set(h, i);
    if (!updatableInPlace(spec, i)) continue;
    inPlace.add(h);
    if (ctx.stalled?.(spec.app, h, spec.name, spec.image)) {
      ctx.keepStalled?.(spec.app, h, spec.name, spec.image);
      stalled.push(h);
    }
  }
  // An instance updated in place keeps its host: the placement sees it as the scaler's own. Hosts holding
  // nothing of the entity (most of them) are plain free; the others' slots are made once per evaluation.
  const slots = new Map<string, HostSlot>();
  const slot = (h: string): HostSlot => {
    const i = byHost.get(h);
    const p = pending?.get(h);
    if (i === undefined && p === undefined) return PLAIN_FREE;
    let s = slots.get(h);
    if (s === undefined) {
      s = i && inPlace.has(h) ? { kind: 'own', spread: i.annotations[SPREAD_KEY] ?? '', count: i.count } : slotOf(spec, i, ctx.isStale, p);
      slots.set(h, s);
    }
    return s;
  };
  // Only hosts holding the entity (or with a placement of it in flight) can be anything but free.
  const marked: HostEntity[] = [];
  for (const h of byHost.keys()) marked.push(ctx.observed.hostById.get(h)!); // instances are on known hosts only
  if (pending) {
    for (const h of pending.keys()) {
      const host = ctx.observed.hostById.get(h);
      if (host && !byHost.has(h)) marked.push(host);
    }
  }
  const placement = place({
    mode: spec.mode,
    perHostCap: ops.counted ? Number.POSITIVE_INFINITY : 1,
    spreads: spec.spreads,
    hosts: ctx.observed.hosts,
    slot,
    marked,
    eligible: ctx.load.eligible,
    load: ctx.load.get,
    tiebreak: ctx.load.tiebreak(spec.id),
  });
  // The rollout budget. `running`: instances of the scaler running now (own and previous, moving or not)
  // plus those about to start on free hosts (start before stop); the floor protects the smaller of it and
  // the target (see RolloutInput.running). No room: even with every instance running one move (each
  // previous instance is one candidate move, costing its count) breaks the floor, and (providers) no host is
  // spare to start on first; components are updated in place, never started on a spare host.
  let target = 0;
  for (const a of placement.assignments.values()) target += a.count;
  let running = 0;
  for (const h of byHost.keys()) {
    const i = byHost.get(h)!;
    if (i.annotations[SCALER_KEY] === spec.id || previous.has(h)) running += i.count;
  }
  // Instances about to start: on assigned hosts (marked or not) free of the entity.
  for (const h of placement.assignments.keys()) {
    const want = placement.assignments.get(h)!;
    if (slot(h).kind === 'free' && !byHost.has(h)) running += want.count;
  }
  const base = Math.min(target, running);
  const costs: number[] = [];
  for (const i of previous.values()) costs.push(i.count);
  const eligibleHosts = placement.outcomes.reduce((n, o) => n + o.available, 0);
  const noRoom = costs.length > 0 && base - Math.min(...costs) < minAvailable(base, spec.maxUnavailable) && (ops.counted || eligibleHosts <= target);
  // An update that did not show in time (the host reports a failed update only in its own log) is
  // replaced by stop and start on that host, whose failure the host does report, when the budget has
  // room for it; without room it is updated again (nothing is stopped) and the scaler says it failed.
  const stalledFailures: string[] = [];
  if (stalled.length > 0) {
    if (noRoom) {
      stalledFailures.push(
        `component.update of ${spec.name} to ${spec.image} did not take effect in time on ${stalled.join(', ')} (a host reports a failed update only in its own log); updating again`,
      );
    } else for (const h of stalled) inPlace.delete(h);
  }
  const commands: Command[] = [];
  let deferred = 0;
  let unhealthy = 0;
  // The hosts where something may change, in id order (as the commands are issued).
  const touched = marked.map((h) => h.id);
  for (const h of placement.assignments.keys()) if (!byHost.has(h) && !pending?.has(h)) touched.push(h);
  if (touched.length > 1) touched.sort(byId);
  const candidates: RolloutCandidate[] = [];
  const moving = (c: Command): boolean => ctx.inflight?.get(commandKey(c))?.some((f) => sameCommand(f.command, c)) ?? false;
  const candidate = (h: string, inst: Instance, command: Command, excess: boolean): void =>
    void candidates.push({ host: h, cost: inst.count, command, moving: moving(command), excess });
  let starting = 0;
  for (const h of touched) {
    const want = placement.assignments.get(h);
    const s = slot(h);
    const inst = byHost.get(h);
    // What this scaler has on the host now (as the load counts it) → what it will have.
    const before = s.kind === 'own' ? s.count : s.kind === 'free' && s.pending ? s.pending.count : 0;
    ctx.load.add(h, (want?.count ?? 0) - before);
    const prev = previous.get(h);
    if (prev) {
      // The previous version's instance: updated in place, or stopped (then the new one is placed on
      // the free host), when the rollout budget allows (below).
      if (inPlace.has(h) && want && s.kind === 'own' && want.spread === s.spread) candidate(h, prev, updateComponent(spec, prev, want.spread), false);
      else candidate(h, prev, ops.remove(prev, spec.app), !want);
      continue;
    }
    if (want && s.kind === 'free') starting++;
    if (s.kind === 'own' && inst) {
      if (!want || want.spread !== s.spread) {
        // Not wanted here (ineligible host, excess, or another spread's host now): ours, so we remove it.
        commands.push(ops.remove(inst, spec.app));
      } else if (ops.counted && want.count !== s.count) {
        if (gate.ready) commands.push(ops.place(spec, h, want.spread, want.count));
      } else if (inst.health === 'unhealthy') {
        unhealthy++;
      }
    } else if (want && s.kind === 'free') {
      if (gate.ready) commands.push(ops.place(spec, h, want.spread, want.count));
    } else if (want && s.kind === 'stale') {
      deferred++; // placed once the previous instance is gone
    }
  }
  const waiting = [...gate.waiting];
  if (deferred > 0) waiting.push(`Waiting for previous instances to stop on ${deferred} host(s)`);
  let busy = scalingMessage(ops.noun);
  if (previous.size > 0) {
    const movingHosts = new Set(candidates.filter((c) => c.moving).map((c) => c.host));
    let available = 0;
    let updated = 0;
    for (const h of byHost.keys()) {
      const i = byHost.get(h)!;
      const own = i.annotations[SCALER_KEY] === spec.id;
      if (!own && (!previous.has(h) || movingHosts.has(h))) continue;
      available += i.count;
      if (own) updated += i.count;
    }
    const d = chooseMoves({ candidates, available, target, running, maxUnavailable: spec.maxUnavailable, starting, noRoom });
    // Moves in flight are wanted again (the filter holds them back), so the scaler counts them as pending.
    for (const c of candidates) if (c.moving || d.chosen.includes(c)) commands.push(c.command);
    const message = rolloutMessage(spec.name, updated, target, d.oneAtATime, spec.maxUnavailable, noRoom ? 0 : stalled.length);
    busy = () => message;
    waiting.splice(0, waiting.length, ...gate.waiting, message);
  }
  // Pinned: every instance and in-flight placement of the scaler is where the placement wants it, at the
  // wanted count, and nothing else is wanted: then the placement came from those hosts alone (never from
  // the host load or the tie-break), and this scaler changes no host's load (scaler-memo.ts). Only a memo asks.
  let pinned = ctx.memo !== undefined && previous.size === 0;
  if (pinned) {
    for (const h of placement.assignments.keys()) {
      const a = placement.assignments.get(h)!;
      const s = slot(h);
      const held = s.kind === 'own' ? s : s.kind === 'free' ? s.pending : undefined;
      if (held === undefined || held.spread !== a.spread || held.count !== a.count) pinned = false;
    }
    for (const h of byHost.keys()) if (!placement.assignments.has(h)) pinned = false;
    if (pending) for (const h of pending.keys()) if (pending.get(h)!.scaler === spec.id && !placement.assignments.has(h)) pinned = false;
  }
  const result: ScalerEval = {
    id: spec.id,
    kind: spec.kind,
    name: spec.name,
    app: spec.app,
    commands,
    failures: [...gate.failures, ...spreadFailures(spec, placement, ops.counted), ...stalledFailures],
    waiting,
    unhealthy,
    busy,
    held: previous.size === 0 ? NO_HELD : [...previous.values()],
  };
  ctx.memo?.put(spec, byHost, pending, gateClean, pinned, result);
  return result;
}
