/**
 * Pure planning: what one lattice event does to lattice state, as a list of per-key decisions.
 * Every decision is guarded by the event's stream sequence (`seq`): an entity last set by a newer event
 * is left alone, so events may be applied out of order, concurrently, or twice (redelivery) and the
 * result is the same as applying them once, in order.
 */
import { configDigest, sameLinkDef, type LatticeEvent, type LatticeRef, type LinkDef } from '@wadm-ts/protocol';
import {
  stateKeys,
  type KeyDecision,
  type StoredValue,
} from '@wadm-ts/store';
import type { ComponentEntity, ConfigEntity, Entity, FailureEntity, HostEntity, LinkEntity, ProviderEntity, ProviderHealth } from '@wadm-ts/entities';

export interface EventContext {
  lattice: LatticeRef;
  /** Stream sequence of the event. */
  seq: number;
  /** Server timestamp of the event, ms. */
  timeMs: number;
}

export type Op =
  | { kind: 'update'; key: string; decide: (cur: StoredValue | undefined) => KeyDecision<StoredValue> }
  /**
   * Tombstone every live key matching `filter` that is not in `keep` and was set before `seq`. `final`
   * sweeps (a host that is gone) list keys from the server; the others (heartbeats, which repeat) may
   * use the replica's view.
   */
  | {
      kind: 'sweep';
      filter: string;
      keep: ReadonlySet<string>;
      seq: number;
      timeMs: number;
      final?: boolean;
      /**
       * Tombstone every live match whatever its sequence, half a step past its own (a host judged gone:
       * all it ran goes, and only a later event about an entity brings that entity back).
       */
      all?: boolean;
    };


function isEntity(v: StoredValue | undefined): v is Entity {
  return v !== undefined && v.kind !== 'lattice' && v.kind !== 'inflight' && v.kind !== 'applied';
}

function isNewer(cur: StoredValue | undefined, seq: number): boolean {
  return !isEntity(cur) || cur.seq < seq;
}

/** Write `build(cur)` when the event is newer than what is stored. */
function upsert<T extends Entity>(key: string, seq: number, build: (cur: T | undefined) => T): Op {
  return {
    kind: 'update',
    key,
    decide: (cur) => (isNewer(cur, seq) ? { write: build(cur as T | undefined) } : { skip: true }),
  };
}

/** Mark an entity deleted (a tombstone keeps `seq`, so older events cannot bring it back). */
export function tombstone<T extends Entity>(cur: T, seq: number, timeMs: number): T {
  return { ...cur, seq, deleted: true, deletedAt: timeMs };
}

function remove(key: string, seq: number, timeMs: number, placeholder: () => Entity): Op {
  return {
    kind: 'update',
    key,
    decide: (cur) => {
      if (!isNewer(cur, seq)) return { skip: true };
      const base = isEntity(cur) ? cur : placeholder();
      return { write: tombstone(base, seq, timeMs) };
    },
  };
}

function failure(key: string, seq: number, f: Omit<FailureEntity, 'kind' | 'seq'>): Op {
  return upsert<FailureEntity>(key, seq, () => ({ kind: 'failure', seq, ...f }));
}

/** Labels for a host written at `seq`: a `labels_changed` newer than that event wins. */
function labelsAt(cur: HostEntity | undefined, labels: Record<string, string>, seq: number): Pick<HostEntity, 'labels' | 'labelsSeq'> {
  if (cur && cur.labelsSeq !== undefined && cur.labelsSeq > seq) return { labels: cur.labels, labelsSeq: cur.labelsSeq };
  return { labels, labelsSeq: seq };
}

/** Health of a provider written for the run started at `startSeq`: a health event of that run carries over. */
function healthAt(cur: ProviderEntity | undefined, startSeq: number): Pick<ProviderEntity, 'health'> & { healthSeq?: number; startSeq: number } {
  const h = cur?.healthSeq;
  // From the live entity, or from a placeholder (seq 0: the health event came before anything else).
  if (cur && h !== undefined && h > startSeq && (!cur.deleted || cur.seq === 0)) return { health: cur.health, healthSeq: h, startSeq };
  return { health: 'unknown', startSeq };
}

/** The state key of a link: its identity on the host, (source, namespace, package, name, target). */
export function linkStateKey(l: LatticeRef, sourceId: string, ns: string, pkg: string, name: string, target: string): string {
  return stateKeys.link(l, sourceId, ns, pkg, name, target);
}

function overlaps(a: readonly string[], b: readonly string[]): boolean {
  return a.some((i) => b.includes(i));
}

/**
 * Tombstone the live entry an older wadm-ts kept under the target-less key of (source, namespace,
 * package, name), when the event is newer and shows it stale (`stale` sees the link it holds). Absent or
 * already deleted: nothing is written, so lattices without legacy entries never get such keys.
 */
function retireLegacyLink(l: LatticeRef, sourceId: string, ns: string, pkg: string, name: string, seq: number, timeMs: number, stale: (old: LinkEntity['link']) => boolean): Op {
  return {
    kind: 'update',
    key: stateKeys.legacyLink(l, sourceId, ns, pkg, name),
    decide: (cur) => {
      if (cur?.kind !== 'link' || cur.deleted || cur.seq >= seq || !stale(cur.link)) return { skip: true };
      return { write: tombstone(cur, seq, timeMs) };
    },
  };
}

export function planEvent(ev: LatticeEvent, ctx: EventContext): Op[] {
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
    case 'linkdef_set': {
      const x = ev.link;
      return [
        upsert<LinkEntity>(linkStateKey(l, x.source_id, x.wit_namespace, x.wit_package, x.name, x.target), seq, () => ({ kind: 'link', link: x, seq })),
        // The host now holds this link and no other with these interfaces under this name (a put to an
        // overlapping other target fails): a legacy entry for either is stale.
        retireLegacyLink(l, x.source_id, x.wit_namespace, x.wit_package, x.name, seq, timeMs, (old) => old.target === x.target || overlaps(old.interfaces, x.interfaces)),
      ];
    }
    case 'linkdef_set_failed': {
      const x = ev.link;
      const k = linkStateKey(l, x.source_id, x.wit_namespace, x.wit_package, x.name, x.target);
      return [failure(stateKeys.failure(l, 'link', k), seq, { what: 'link', subject: k, error: ev.error, at: timeMs })];
    }
    case 'linkdef_deleted': {
      if (ev.target === undefined) {
        // Nothing was removed: the host holds no link with this source, namespace, package and name
        // (whatever the target). Entries saying otherwise are older than this event and stale (missed
        // events, a legacy key, or a host older than v1.3, whose events never name the target).
        return [
          { kind: 'sweep', filter: stateKeys.linksNamed(l, ev.sourceId, ev.namespace, ev.package, ev.name), keep: new Set(), seq, timeMs },
          retireLegacyLink(l, ev.sourceId, ev.namespace, ev.package, ev.name, seq, timeMs, () => true),
        ];
      }
      const target = ev.target;
      return [
        remove(linkStateKey(l, ev.sourceId, ev.namespace, ev.package, ev.name, target), seq, timeMs, () => ({
          kind: 'link',
          link: { source_id: ev.sourceId, target, name: ev.name, wit_namespace: ev.namespace, wit_package: ev.package, interfaces: ev.interfaces ?? [], source_config: [], target_config: [] },
          seq,
        })),
        retireLegacyLink(l, ev.sourceId, ev.namespace, ev.package, ev.name, seq, timeMs, (old) => old.target === target),
      ];
    }
    case 'config_set':
      return [upsert<ConfigEntity>(stateKeys.config(l, ev.configName), seq, () => ({ kind: 'config', name: ev.configName, seq }))];
    case 'config_deleted':
      return [remove(stateKeys.config(l, ev.configName), seq, timeMs, () => ({ kind: 'config', name: ev.configName, seq }))];
  }
}

/** The sweep decision for one key (see Op 'sweep'). */
export function sweepDecision(cur: StoredValue | undefined, seq: number, timeMs: number, all = false): KeyDecision<StoredValue> {
  if (!isEntity(cur) || cur.deleted) return { skip: true };
  if (all) return { write: tombstone(cur, Math.max(seq, cur.seq + 0.5), timeMs) };
  if (cur.seq >= seq) return { skip: true };
  return { write: tombstone(cur, seq, timeMs) };
}

/** Whether a write changed what the reconciler cares about (lives in the store, beside the entity types). */
export { semanticallyChanged } from '@wadm-ts/store';

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

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/** Every link the answering host knows: set them, and remove the links state holds that it does not list. */
export function planLinkSnapshot(links: readonly LinkDef[], ctx: EventContext): Op[] {
  const { lattice: l, seq, timeMs } = ctx;
  const keep = new Set<string>();
  const ops: Op[] = [];
  for (const link of links) {
    const k = linkStateKey(l, link.source_id, link.wit_namespace, link.wit_package, link.name, link.target);
    keep.add(k);
    ops.push(upsertIfDifferent<LinkEntity>(k, seq, (cur) => (cur && !cur.deleted && sameLinkDef(cur.link, link) ? undefined : { kind: 'link', link, seq })));
  }
  ops.push({ kind: 'sweep', filter: stateKeys.links(l), keep, seq, timeMs, final: true });
  return ops;
}

/** One config as `config.get` answered: its values' digest, or its absence. */
export function planConfigSnapshot(name: string, values: Readonly<Record<string, string>> | undefined, ctx: EventContext): Op[] {
  const { lattice: l, seq, timeMs } = ctx;
  const key = stateKeys.config(l, name);
  if (values === undefined) return [remove(key, seq, timeMs, () => ({ kind: 'config', name, seq }))];
  const digest = configDigest(values);
  return [upsertIfDifferent<ConfigEntity>(key, seq, (cur) => (cur && !cur.deleted && cur.digest === digest ? undefined : { kind: 'config', name, digest, seq }))];
}

/** Like upsert, but `build` may answer undefined: already so, nothing to write (a query repeats what state holds). */
function upsertIfDifferent<T extends Entity>(key: string, seq: number, build: (cur: T | undefined) => T | undefined): Op {
  return {
    kind: 'update',
    key,
    decide: (cur) => {
      if (!isNewer(cur, seq)) return { skip: true };
      const next = build(cur as T | undefined);
      return next === undefined ? { skip: true } : { write: next };
    },
  };
}
