/**
 * Host events (`host_started`, `host_heartbeat`, `host_stopped`, `labels_changed`) and the `host.get`
 * answer: a heartbeat or inventory is a full snapshot of its host (guards: `plan-ops.ts`).
 */
import type { LatticeEvent } from '@wadm-ts/protocol';
import { stateKeys } from '@wadm-ts/store';
import type { ComponentEntity, Entity, HostEntity, ProviderEntity } from '@wadm-ts/entities';
import { remove, sameRecord, upsert, upsertIfDifferent, type EventContext, type Op } from './plan-ops.js';
import { healthAt } from './plan-health.js';

export type HostEvent = Extract<LatticeEvent, { type: 'host_started' | 'host_heartbeat' | 'host_stopped' | 'labels_changed' }>;

export function planHostEvent(ev: HostEvent, ctx: EventContext): Op[] {
  const { lattice: l, seq, timeMs } = ctx;
  switch (ev.type) {
    case 'host_started':
    case 'host_heartbeat':
      // A heartbeat is a full snapshot of the host (and a fresh host runs nothing).
      return hostSnapshot(ev, ctx, false);
    case 'host_stopped':
      return [
        remove(stateKeys.host(l, ev.hostId), seq, timeMs, () => ({ kind: 'host', id: ev.hostId, friendlyName: '', labels: ev.labels, version: '', uptimeSeconds: 0, lastSeen: timeMs, seq })),
        { kind: 'sweep', filter: stateKeys.componentsOf(l, ev.hostId), keep: new Set(), seq, timeMs, final: true },
        { kind: 'sweep', filter: stateKeys.providersOf(l, ev.hostId), keep: new Set(), seq, timeMs, final: true },
      ];
    case 'labels_changed':
      // Labels have their own order (labelsSeq), so this commutes with heartbeats of either age.
      return [
        {
          kind: 'update',
          key: stateKeys.host(l, ev.hostId),
          decide: (cur) => {
            const h = cur?.kind === 'host' ? cur : undefined;
            if (h && ((h.labelsSeq ?? h.seq) >= seq || (h.deleted && h.seq > seq))) return { skip: true };
            if (h) return { write: { ...h, labels: ev.labels, labelsSeq: seq } };
            if (cur !== undefined) return { skip: true };
            // Before the host is known: a placeholder that only remembers the labels.
            const placeholder: HostEntity = { kind: 'host', id: ev.hostId, friendlyName: '', labels: ev.labels, labelsSeq: seq, version: '', uptimeSeconds: 0, lastSeen: 0, seq: 0, deleted: true, deletedAt: timeMs };
            return { write: placeholder };
          },
        },
      ];
  }
}

/** Labels for a host written at `seq`: a `labels_changed` newer than that event wins. */
function labelsAt(cur: HostEntity | undefined, labels: Record<string, string>, seq: number): Pick<HostEntity, 'labels' | 'labelsSeq'> {
  if (cur && cur.labelsSeq !== undefined && cur.labelsSeq > seq) return { labels: cur.labels, labelsSeq: cur.labelsSeq };
  return { labels, labelsSeq: seq };
}
/**
 * Query answers (`host.get`, `link.get`, `config.get`) merged into state as snapshots taken at stream
 * sequence `ctx.seq` (the events stream's last sequence just before the query was sent): an event
 * newer than that wins over the answer, the answer wins over anything older — the same guards events use.
 */
export function planInventory(inv: Extract<LatticeEvent, { type: 'host_heartbeat' }>, ctx: EventContext): Op[] {
  // An inventory is the same full snapshot of a host that a heartbeat is; but heartbeats already keep
  // unchanged entities fresh, so an answer writes only what differs from state (queries at rest are cheap).
  return hostSnapshot(inv, ctx, true);
}

/**
 * A full snapshot of a host (a heartbeat, `host_started`, or a `host.get` answer): its entry, what it
 * runs, and sweeps of what it no longer runs. `onlyChanges`: entities equal to state are not written
 * (a query answer); a heartbeat always writes, refreshing sequences and liveness.
 */
function hostSnapshot(ev: Extract<LatticeEvent, { type: 'host_started' | 'host_heartbeat' }>, ctx: EventContext, onlyChanges: boolean): Op[] {
  const { lattice: l, seq, timeMs } = ctx;
  const hb = ev.type === 'host_heartbeat' ? ev : undefined;
  const put = <T extends Entity>(key: string, same: (cur: T) => boolean, build: (cur: T | undefined) => T): Op =>
    onlyChanges ? upsertIfDifferent<T>(key, seq, (cur) => (cur && !cur.deleted && same(cur) ? undefined : build(cur))) : upsert<T>(key, seq, build);
  const ops: Op[] = [
    put<HostEntity>(
      stateKeys.host(l, ev.hostId),
      (cur) => sameRecord(cur.labels, ev.labels) && cur.friendlyName === ev.friendlyName && cur.version === ev.version,
      (cur) => ({ kind: 'host', id: ev.hostId, friendlyName: ev.friendlyName, ...labelsAt(cur, ev.labels, seq), version: ev.version, uptimeSeconds: hb?.uptimeSeconds ?? 0, lastSeen: timeMs, seq }),
    ),
  ];
  const comps = hb?.components.filter((c) => c.maxInstances > 0) ?? [];
  const provs = hb?.providers ?? [];
  for (const c of comps) {
    ops.push(
      put<ComponentEntity>(
        stateKeys.component(l, ev.hostId, c.id),
        (cur) => cur.imageRef === c.imageRef && cur.maxInstances === c.maxInstances && sameRecord(cur.annotations, c.annotations),
        () => ({ kind: 'component', hostId: ev.hostId, componentId: c.id, imageRef: c.imageRef, maxInstances: c.maxInstances, annotations: c.annotations, seq }),
      ),
    );
  }
  for (const p of provs) {
    ops.push(
      put<ProviderEntity>(
        stateKeys.provider(l, ev.hostId, p.id),
        (cur) => cur.imageRef === p.imageRef && sameRecord(cur.annotations, p.annotations),
        // Seen running: the run it belongs to and its health carry over.
        (cur) => ({ kind: 'provider', hostId: ev.hostId, providerId: p.id, imageRef: p.imageRef, annotations: p.annotations, ...healthAt(cur, cur?.deleted && cur.seq > 0 ? cur.seq : (cur?.startSeq ?? 0)), seq }),
      ),
    );
  }
  ops.push({ kind: 'sweep', filter: stateKeys.componentsOf(l, ev.hostId), keep: new Set(comps.map((c) => stateKeys.component(l, ev.hostId, c.id))), seq, timeMs });
  ops.push({ kind: 'sweep', filter: stateKeys.providersOf(l, ev.hostId), keep: new Set(provs.map((p) => stateKeys.provider(l, ev.hostId, p.id))), seq, timeMs });
  return ops;
}

