/**
 * Provider health (`health_check_passed`, `health_check_failed`, `health_check_status`): health has its own
 * order (`healthSeq`) and belongs to one run of the provider (`startSeq`), so health events commute with
 * heartbeats and with each other.
 */
import type { LatticeEvent } from '@wadm-ts/protocol';
import { stateKeys } from '@wadm-ts/store';
import type { ProviderEntity, ProviderHealth } from '@wadm-ts/entities';
import type { EventContext, Op } from './plan-ops.js';

export type HealthEvent = Extract<LatticeEvent, { type: 'health_check_passed' | 'health_check_failed' | 'health_check_status' }>;

export function planHealthEvent(ev: HealthEvent, ctx: EventContext): Op[] {
  const { lattice: l, seq, timeMs } = ctx;
  switch (ev.type) {
    case 'health_check_passed':
    case 'health_check_failed': {
      // Health has its own order (healthSeq) and belongs to one run of the provider (startSeq), so
      // health events commute with heartbeats and with each other.
      const health: ProviderHealth = ev.type === 'health_check_passed' ? 'healthy' : 'unhealthy';
      return [
        {
          kind: 'update',
          key: stateKeys.provider(l, ev.hostId, ev.providerId),
          decide: (cur) => {
            const p = cur?.kind === 'provider' ? cur : undefined;
            if (p && ((p.healthSeq ?? -1) >= seq || (p.startSeq ?? 0) > seq || (p.deleted && p.seq > seq))) return { skip: true };
            if (p) return { write: { ...p, health, healthSeq: seq } };
            if (cur !== undefined) return { skip: true };
            // Before the provider is known: a placeholder that only remembers the health.
            const placeholder: ProviderEntity = { kind: 'provider', hostId: ev.hostId, providerId: ev.providerId, imageRef: '', annotations: {}, health, healthSeq: seq, seq: 0, deleted: true, deletedAt: timeMs };
            return { write: placeholder };
          },
        },
      ];
    }
    case 'health_check_status':
      // A successful probe with no transition: healthy stays healthy; it says nothing new otherwise.
      return [];
  }
}

/** Health of a provider written for the run started at `startSeq`: a health event of that run carries over. */
export function healthAt(cur: ProviderEntity | undefined, startSeq: number): Pick<ProviderEntity, 'health'> & { healthSeq?: number; startSeq: number } {
  const h = cur?.healthSeq;
  // From the live entity, or from a placeholder (seq 0: the health event came before anything else).
  if (cur && h !== undefined && h > startSeq && (!cur.deleted || cur.seq === 0)) return { health: cur.health, healthSeq: h, startSeq };
  return { health: 'unknown', startSeq };
}
