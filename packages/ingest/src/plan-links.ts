/**
 * Link and config events (`linkdef_set`, `linkdef_set_failed`, `linkdef_deleted`, `config_set`,
 * `config_deleted`) and the `link.get` / `config.get` answers (guards: `plan-ops.ts`).
 */
import { configDigest, sameLinkDef, type LatticeEvent, type LatticeRef, type LinkDef } from '@wadm-ts/protocol';
import { stateKeys } from '@wadm-ts/store';
import type { ConfigEntity, LinkEntity } from '@wadm-ts/entities';
import { failure, remove, tombstone, upsert, upsertIfDifferent, type EventContext, type Op } from './plan-ops.js';

export type LinkConfigEvent = Extract<
  LatticeEvent,
  { type: 'linkdef_set' | 'linkdef_set_failed' | 'linkdef_deleted' | 'config_set' | 'config_deleted' }
>;

export function planLinkConfigEvent(ev: LinkConfigEvent, ctx: EventContext): Op[] {
  const { lattice: l, seq, timeMs } = ctx;
  switch (ev.type) {
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

