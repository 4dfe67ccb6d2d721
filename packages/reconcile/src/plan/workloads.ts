/**
 * Component and provider spread/daemon scalers (wadm-behaviour.md §5.1–5.4 with README rule 3): one
 * generic evaluation; `WorkloadOps` supplies what differs (ScaleComponent vs Start/StopProvider).
 */
import type { HostState } from '@wadm-ts/store';
import type { Command } from '../types.js';
import { opsFor } from './commands.js';
import { configGate } from './configs.js';
import type { WorkloadSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import { SCALER_KEY, SPREAD_KEY } from './ids.js';
import type { Instance, ObservedIndex } from './observed.js';
import type { LatticeLoad, PendingPlacement } from './placement.js';
import { place, type HostSlot, type Placement } from './spread.js';

export interface WorkloadContext {
  observed: ObservedIndex;
  isStale: (i: Instance) => boolean;
  /** Managed configs being written by this plan (or in flight). */
  beingPut: ReadonlySet<string>;
  /** The pass's host load (read to place, updated with what this scaler places) and in-flight placements. */
  load: LatticeLoad;
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
const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function evalWorkload(spec: WorkloadSpec, ctx: WorkloadContext): ScalerEval {
  const ops = opsFor(spec.workload);
  const byHost = ctx.observed.instances[spec.workload].get(spec.name) ?? NO_INSTANCES;
  const pending = ctx.load.pendingOf(spec.workload, spec.name);
  const slot = (h: string): HostSlot => slotOf(spec, byHost.get(h), ctx.isStale, pending?.get(h));
  // Only hosts holding the entity (or with a placement of it in flight) can be anything but free.
  const marked: HostState[] = [];
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
  const gate = configGate(spec.configs, ctx.observed.configs, ctx.beingPut);
  const commands: Command[] = [];
  let deferred = 0;
  let unhealthy = 0;
  // The hosts where something may change, in id order (as the commands are issued).
  const touched = marked.map((h) => h.id);
  for (const h of placement.assignments.keys()) if (!byHost.has(h) && !pending?.has(h)) touched.push(h);
  touched.sort(byId);
  for (const h of touched) {
    const want = placement.assignments.get(h);
    const s = slot(h);
    const inst = byHost.get(h);
    // What this scaler has on the host now (as the load counts it) → what it will have.
    const before = s.kind === 'own' ? s.count : s.kind === 'free' && s.pending ? s.pending.count : 0;
    ctx.load.add(h, (want?.count ?? 0) - before);
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
  return {
    id: spec.id,
    kind: spec.kind,
    name: spec.name,
    app: spec.app,
    commands,
    failures: [...gate.failures, ...spreadFailures(spec, placement, ops.counted)],
    waiting,
    unhealthy,
    busy: (n) => `Scaling ${ops.noun} on ${n} host(s)`,
  };
}
