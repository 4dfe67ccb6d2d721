/**
 * Component and provider events (`component_scaled`, `component_scale_failed`, `provider_started`,
 * `provider_stopped`, `provider_start_failed`): one entity per instance on a host (guards: `plan-ops.ts`).
 */
import type { LatticeEvent } from '@wadm-ts/protocol';
import { stateKeys } from '@wadm-ts/store';
import type { ComponentEntity, ProviderEntity } from '@wadm-ts/entities';
import { failure, remove, upsert, type EventContext, type Op } from './plan-ops.js';
import { healthAt } from './plan-health.js';

export type WorkloadEvent = Extract<
  LatticeEvent,
  { type: 'component_scaled' | 'component_scale_failed' | 'provider_started' | 'provider_stopped' | 'provider_start_failed' }
>;

export function planWorkloadEvent(ev: WorkloadEvent, ctx: EventContext): Op[] {
  const { lattice: l, seq, timeMs } = ctx;
  switch (ev.type) {
    case 'component_scaled': {
      const key = stateKeys.component(l, ev.hostId, ev.componentId);
      if (ev.maxInstances === 0) {
        return [
          remove(key, seq, timeMs, () => ({ kind: 'component', hostId: ev.hostId, componentId: ev.componentId, imageRef: ev.imageRef, maxInstances: 0, annotations: ev.annotations, seq })),
        ];
      }
      return [
        upsert<ComponentEntity>(key, seq, () => ({
          kind: 'component',
          hostId: ev.hostId,
          componentId: ev.componentId,
          imageRef: ev.imageRef,
          maxInstances: ev.maxInstances,
          annotations: ev.annotations,
          seq,
        })),
      ];
    }
    case 'component_scale_failed':
      return [
        failure(stateKeys.failure(l, 'component', ev.componentId, ev.hostId), seq, {
          what: 'component',
          subject: ev.componentId,
          hostId: ev.hostId,
          imageRef: ev.imageRef,
          annotations: ev.annotations,
          error: ev.error,
          at: timeMs,
        }),
      ];
    case 'provider_started':
      return [
        upsert<ProviderEntity>(stateKeys.provider(l, ev.hostId, ev.providerId), seq, (cur) => ({
          kind: 'provider',
          hostId: ev.hostId,
          providerId: ev.providerId,
          imageRef: ev.imageRef,
          annotations: ev.annotations,
          // A new run: only health events after this start count.
          ...healthAt(cur, seq),
          seq,
        })),
      ];
    case 'provider_stopped':
      return [
        remove(stateKeys.provider(l, ev.hostId, ev.providerId), seq, timeMs, () => ({
          kind: 'provider',
          hostId: ev.hostId,
          providerId: ev.providerId,
          imageRef: '',
          annotations: ev.annotations,
          health: 'unknown',
          seq,
        })),
      ];
    case 'provider_start_failed':
      return [
        failure(stateKeys.failure(l, 'provider', ev.providerId, ev.hostId), seq, {
          what: 'provider',
          subject: ev.providerId,
          hostId: ev.hostId,
          imageRef: ev.providerRef,
          error: ev.error,
          at: timeMs,
        }),
      ];
  }
}
