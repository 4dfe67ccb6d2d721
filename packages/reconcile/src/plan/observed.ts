/** Indexes over the observed lattice, and who owns what (docs/wire/behaviour.md §4 annotations). */
import { APPSPEC_KEY, type LinkDef, MANAGED_BY_KEY, MANAGED_BY_VALUE, sameLinkDef, SCALER_KEY } from '@wadm-ts/protocol';

import { linkIdentity, linkNameKey } from './ids.js';
import type { Workload } from './desired.js';
import type { ComponentEntity, HostEntity, LatticeEntities, ProviderEntity, ProviderHealth } from '@wadm-ts/entities';

/** A component or provider running on one host. */
export interface Instance {
  workload: Workload;
  hostId: string;
  id: string;
  imageRef: string;
  /** max_instances for a component, 1 for a provider. */
  count: number;
  annotations: Record<string, string>;
  health?: ProviderHealth;
}

export interface ObservedIndex {
  /** Live hosts, sorted by id. */
  hosts: HostEntity[];
  hostById: Map<string, HostEntity>;
  /** workload → entity id → host id → instance (instances on unknown hosts are left out). */
  instances: Record<Workload, Map<string, Map<string, Instance>>>;
  /** Every instance, sorted by host, workload, id. */
  all: Instance[];
  /** Live links by their host identity (`linkIdentity`: source, namespace, package, name, target). */
  links: Map<string, LinkDef>;
  /** The same links by what a `link.del` names (`linkNameKey`), in state order. */
  linksNamed: Map<string, LinkDef[]>;
  configs: Set<string>;
  /** Digest of a config's values when a query read them (absent: unknown since its last `config_set`). */
  configDigests: Map<string, string>;
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Instances per state value: a value the view did not replace gives the very same instance (see scaler-memo.ts). */
const instanceMemo = new WeakMap<ComponentEntity | ProviderEntity, Instance>();

/** The instance a component or provider state value describes (treated as immutable, as the view's values are). */
export function instanceOf(e: ComponentEntity | ProviderEntity): Instance {
  let i = instanceMemo.get(e);
  if (i) return i;
  i =
    'componentId' in e
      ? { workload: 'component', hostId: e.hostId, id: e.componentId, imageRef: e.imageRef, count: e.maxInstances, annotations: e.annotations }
      : { workload: 'provider', hostId: e.hostId, id: e.providerId, imageRef: e.imageRef, count: 1, annotations: e.annotations, health: e.health };
  instanceMemo.set(e, i);
  return i;
}

export function indexObserved(o: LatticeEntities): ObservedIndex {
  const hosts = o.hosts.filter((h) => !h.deleted).sort((a, b) => byId(a.id, b.id));
  const hostById = new Map(hosts.map((h) => [h.id, h]));
  const known = hostById;
  const all: Instance[] = [];
  for (const c of o.components) {
    if (c.deleted || !known.has(c.hostId) || c.maxInstances <= 0) continue;
    all.push(instanceOf(c));
  }
  for (const p of o.providers) {
    if (p.deleted || !known.has(p.hostId)) continue;
    all.push(instanceOf(p));
  }
  all.sort((a, b) => byId(a.hostId, b.hostId) || byId(a.workload, b.workload) || byId(a.id, b.id));
  const instances: ObservedIndex['instances'] = { component: new Map(), provider: new Map() };
  for (const i of all) {
    const m = instances[i.workload];
    const perHost = m.get(i.id) ?? new Map<string, Instance>();
    perHost.set(i.hostId, i);
    m.set(i.id, perHost);
  }
  // One entry per identity: a legacy (target-less) state entry and a current one of the same link → the newer.
  const newest = new Map<string, { link: LinkDef; seq: number }>();
  for (const l of o.links) {
    if (l.deleted) continue;
    const k = linkIdentity(l.link.source_id, l.link.wit_namespace, l.link.wit_package, l.link.name, l.link.target);
    const cur = newest.get(k);
    if (!cur || l.seq > cur.seq) newest.set(k, { link: l.link, seq: l.seq });
  }
  const links = new Map<string, LinkDef>();
  const linksNamed = new Map<string, LinkDef[]>();
  for (const [k, { link }] of newest) {
    links.set(k, link);
    const n = linkNameKey(link.source_id, link.wit_namespace, link.wit_package, link.name);
    const named = linksNamed.get(n);
    if (named) named.push(link);
    else linksNamed.set(n, [link]);
  }
  const configs = new Set<string>();
  const configDigests = new Map<string, string>();
  for (const c of o.configs) {
    if (c.deleted) continue;
    configs.add(c.name);
    if (c.digest !== undefined) configDigests.set(c.name, c.digest);
  }
  return { hosts, hostById, instances, all, links, linksNamed, configs, configDigests };
}

/** The app a wadm-managed instance belongs to, or undefined when wadm does not manage it. */
export function managedApp(i: Instance): string | undefined {
  return i.annotations[MANAGED_BY_KEY] === MANAGED_BY_VALUE ? i.annotations[APPSPEC_KEY] : undefined;
}

/**
 * A wadm-managed instance that no current scaler owns: its app is not deployed, or its scaler id is not
 * among that app's scalers any more (an upgrade removed or changed it).
 */
export function isStale(i: Instance, currentScalers: ReadonlyMap<string, ReadonlySet<string>>): boolean {
  const app = managedApp(i);
  if (app === undefined) return false;
  const ids = currentScalers.get(app);
  return !ids || !ids.has(i.annotations[SCALER_KEY] ?? '');
}

/** Whether two links are the same on a host (see `sameLinkDef`). */
export const sameLink = sameLinkDef;
