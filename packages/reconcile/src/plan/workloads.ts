/**
 * Component and provider spread/daemon scalers (wadm-behaviour.md §5.1–5.4 with README rule 3): one
 * generic evaluation; `WorkloadOps` supplies what differs (ScaleComponent vs Start/StopProvider).
 */
import type { Command } from '../types.js';
import { opsFor } from './commands.js';
import { configGate } from './configs.js';
import type { WorkloadSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import { SCALER_KEY, SPREAD_KEY } from './ids.js';
import type { Instance, ObservedIndex } from './observed.js';
import { place, type HostSlot, type Placement } from './spread.js';

export interface WorkloadContext {
  observed: ObservedIndex;
  isStale: (i: Instance) => boolean;
  /** Managed configs being written by this plan (or in flight). */
  beingPut: ReadonlySet<string>;
}

/** What a host holds of this scaler's entity, from its point of view. */
export function slotOf(spec: WorkloadSpec, i: Instance | undefined, isStale: (i: Instance) => boolean): HostSlot {
  if (!i) return { kind: 'free' };
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

export function evalWorkload(spec: WorkloadSpec, ctx: WorkloadContext): ScalerEval {
  const ops = opsFor(spec.workload);
  const byHost = ctx.observed.instances[spec.workload].get(spec.name) ?? new Map<string, Instance>();
  const slot = (h: string): HostSlot => slotOf(spec, byHost.get(h), ctx.isStale);
  const placement = place({
    mode: spec.mode,
    perHostCap: ops.counted ? Number.POSITIVE_INFINITY : 1,
    spreads: spec.spreads,
    hosts: ctx.observed.hosts.map((h) => ({ id: h.id, labels: h.labels })),
    slot,
  });
  const gate = configGate(spec.configs, ctx.observed.configs, ctx.beingPut);
  const commands: Command[] = [];
  let deferred = 0;
  let unhealthy = 0;
  for (const h of ctx.observed.hosts) {
    const want = placement.assignments.get(h.id);
    const s = slot(h.id);
    const inst = byHost.get(h.id);
    if (s.kind === 'own' && inst) {
      if (!want || want.spread !== s.spread) {
        // Not wanted here (ineligible host, excess, or another spread's host now): ours, so we remove it.
        commands.push(ops.remove(inst, spec.app));
      } else if (ops.counted && want.count !== s.count) {
        if (gate.ready) commands.push(ops.place(spec, h.id, want.spread, want.count));
      } else if (inst.health === 'unhealthy') {
        unhealthy++;
      }
    } else if (want && s.kind === 'free') {
      if (gate.ready) commands.push(ops.place(spec, h.id, want.spread, want.count));
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
