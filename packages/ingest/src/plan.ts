/**
 * Pure planning, the entry: what one lattice event does to lattice state, as a list of per-key decisions
 * guarded by the event's stream sequence (`plan-ops.ts`). One planner per event family: hosts and
 * heartbeats (`plan-hosts.ts`), components and providers (`plan-workloads.ts`), health (`plan-health.ts`),
 * links and configs (`plan-links.ts`); query answers are planned there too, as snapshots.
 */
import type { LatticeEvent } from '@wadm-ts/protocol';
import type { EventContext, Op } from './plan-ops.js';
import { planHostEvent } from './plan-hosts.js';
import { planWorkloadEvent } from './plan-workloads.js';
import { planHealthEvent } from './plan-health.js';
import { planLinkConfigEvent } from './plan-links.js';

export function planEvent(ev: LatticeEvent, ctx: EventContext): Op[] {
  switch (ev.type) {
    case 'host_started':
    case 'host_heartbeat':
    case 'host_stopped':
    case 'labels_changed':
      return planHostEvent(ev, ctx);
    case 'component_scaled':
    case 'component_scale_failed':
    case 'provider_started':
    case 'provider_stopped':
    case 'provider_start_failed':
      return planWorkloadEvent(ev, ctx);
    case 'health_check_passed':
    case 'health_check_failed':
    case 'health_check_status':
      return planHealthEvent(ev, ctx);
    case 'linkdef_set':
    case 'linkdef_set_failed':
    case 'linkdef_deleted':
    case 'config_set':
    case 'config_deleted':
      return planLinkConfigEvent(ev, ctx);
  }
}

export { sweepDecision, tombstone, type EventContext, type Op } from './plan-ops.js';
export { planInventory } from './plan-hosts.js';
export { linkStateKey, planConfigSnapshot, planLinkSnapshot } from './plan-links.js';
/** Whether a write changed what the reconciler cares about (lives in the store, beside the entity types). */
export { semanticallyChanged } from '@wadm-ts/store';
