/** Comparing wadm's lattice state in KV with the simulator's ground truth, and driving hosts over ctl. */
import type { NatsConnection } from '@nats-io/transport-node';
import { readLatticeSnapshot, type LatticeRef, type LatticeStateStore } from '@wadm-ts/store';
import type { LatticeSnapshot as SimSnapshot } from '@wadm-ts/simulator';

export interface View {
  hosts: string[];
  components: string[];
  providers: string[];
  links: string[];
  configs: string[];
}

const sortKeys = (o: Record<string, string>): string => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));

export function truthView(s: SimSnapshot): View {
  return {
    hosts: s.hosts.map((h) => `${h.id} ${sortKeys(h.labels)}`).sort(),
    components: s.hosts.flatMap((h) => h.components.map((c) => `${h.id} ${c.id} ${c.imageRef} ${c.count} ${sortKeys(c.annotations)}`)).sort(),
    providers: s.hosts.flatMap((h) => h.providers.map((p) => `${h.id} ${p.id} ${p.imageRef} ${sortKeys(p.annotations)}`)).sort(),
    links: s.links.map((l) => JSON.stringify([l.source_id, l.target, l.name, l.wit_namespace, l.wit_package, l.interfaces, l.source_config, l.target_config])).sort(),
    configs: Object.keys(s.configs).sort(),
  };
}

export async function kvView(store: LatticeStateStore, l: LatticeRef): Promise<View> {
  const s = await readLatticeSnapshot(store, l);
  return {
    hosts: s.hosts.map((h) => `${h.id} ${sortKeys(h.labels)}`).sort(),
    components: s.components.map((c) => `${c.hostId} ${c.componentId} ${c.imageRef} ${c.maxInstances} ${sortKeys(c.annotations)}`).sort(),
    providers: s.providers.map((p) => `${p.hostId} ${p.providerId} ${p.imageRef} ${sortKeys(p.annotations)}`).sort(),
    links: s.links.map(({ link: l2 }) => JSON.stringify([l2.source_id, l2.target, l2.name, l2.wit_namespace, l2.wit_package, l2.interfaces, l2.source_config, l2.target_config])).sort(),
    configs: s.configs.map((c) => c.name).sort(),
  };
}

/** Send one control request and return the parsed CtlResponse. */
export async function ctl(nc: NatsConnection, lattice: string, suffix: string, body: unknown = ''): Promise<{ success: boolean; message: string; response?: unknown }> {
  const m = await nc.request(`wasmbus.ctl.v1.${lattice}.${suffix}`, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 10_000 });
  return JSON.parse(m.string()) as { success: boolean; message: string; response?: unknown };
}

/** A small deterministic PRNG (mulberry32) so storms are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}
