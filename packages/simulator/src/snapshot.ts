/** The ground-truth snapshot of a simulated lattice (`SimulatedLattice.snapshot()`): plain records, sorted by id. */
import type { ControlledHost } from './host-model.js';
import type { LatticeStore } from './stores.js';
import type { Link } from './wire.js';

export interface SnapshotComponent {
  id: string;
  imageRef: string;
  /** max_instances (the `count` of the last scale). */
  count: number;
  annotations: Record<string, string>;
  config: string[];
  limits: Record<string, string> | null;
}

export interface SnapshotProvider {
  id: string;
  imageRef: string;
  annotations: Record<string, string>;
  config: string[];
  /** Result of the last health probe; null before the first probe. */
  healthy: boolean | null;
}

export interface SnapshotHost {
  id: string;
  friendlyName: string;
  version: string;
  labels: Record<string, string>;
  components: SnapshotComponent[];
  providers: SnapshotProvider[];
}

/** Ground truth of what all live hosts run, plus the lattice-wide links and configs. */
export interface LatticeSnapshot {
  lattice: string;
  hosts: SnapshotHost[];
  links: Link[];
  configs: Record<string, Record<string, string>>;
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
export const toRecord = (m: ReadonlyMap<string, string>): Record<string, string> => Object.fromEntries(m);

/** What every live host runs, and the lattice-wide links and configs. */
export function latticeSnapshot(lattice: string, live: Iterable<ControlledHost>, store: LatticeStore): LatticeSnapshot {
  const hosts: SnapshotHost[] = [...live]
    .filter((h) => h.state === 'running' || h.state === 'starting')
    .map((h) => ({
      id: h.id,
      friendlyName: h.friendlyName,
      version: h.env.version,
      labels: toRecord(h.labels),
      components: [...h.components.values()]
        .map((c) => ({
          id: c.id,
          imageRef: c.imageRef,
          count: c.maxInstances,
          annotations: toRecord(c.annotations),
          config: [...c.config],
          limits: c.limits ? toRecord(c.limits) : null,
        }))
        .sort(byId),
      providers: [...h.providers.values()]
        .map((p) => ({
          id: p.id,
          imageRef: p.imageRef,
          annotations: toRecord(p.annotations),
          config: [...p.config],
          healthy: p.lastHealthy ?? null,
        }))
        .sort(byId),
    }))
    .sort(byId);
  const configs: Record<string, Record<string, string>> = {};
  for (const name of store.configNames().sort()) {
    const c = store.getConfig(name);
    if (c) Object.defineProperty(configs, name, { value: toRecord(c), enumerable: true, writable: true, configurable: true });
  }
  return { lattice, hosts, links: store.allLinks(), configs };
}
