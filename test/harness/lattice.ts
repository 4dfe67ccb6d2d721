import assert from 'node:assert/strict';
/** Comparing wadm's lattice state in KV with the simulator's ground truth, and driving hosts over ctl. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { LatticeRef } from '@wadm-ts/protocol';
import { seededRandom } from '@wadm-ts/dev';
import { readLatticeSnapshot, type LatticeStateStore } from '@wadm-ts/store';
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

/** A small deterministic PRNG (mulberry32) so storms are reproducible (`seededRandom` of @wadm-ts/dev). */
export const rng = seededRandom;

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/**
 * A reproducible random storm of control requests over simulated lattices: component scales, provider
 * starts and stops, links, configs, labels, and clean host replacements. Each request makes the
 * simulated hosts publish 1–2 lattice events.
 */
export class Storm {
  failures = 0;
  private readonly r: () => number;
  private readonly comps = Array.from({ length: 8 }, (_, i) => `comp${i}`);
  private readonly provs = Array.from({ length: 4 }, (_, i) => `prov${i}`);
  private readonly configs = Array.from({ length: 5 }, (_, i) => `config${i}`);

  constructor(
    private readonly nc: NatsConnection,
    private readonly lattices: ReadonlyArray<{ name: string; sim: import('@wadm-ts/simulator').SimulatedLattice }>,
    seed: number,
    private readonly hostChurn = true,
  ) {
    this.r = rng(seed);
  }

  /** Run `parallel` request loops until `done()` says stop. */
  async run(done: () => boolean, parallel = 16): Promise<void> {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (!done()) {
          try {
            await this.op();
          } catch {
            this.failures++; // e.g. a request to a host that was just stopped: no responder
          }
        }
      }),
    );
  }

  private async op(): Promise<void> {
    const { r, nc } = this;
    const { name: lat, sim } = pick(r, this.lattices);
    const host = pick(r, sim.hostIds());
    const x = r();
    if (x < 0.35) {
      const id = pick(r, this.comps);
      await ctl(nc, lat, `component.scale.${host}`, { component_ref: `reg/${id}:${1 + Math.floor(r() * 2)}`, component_id: id, count: Math.floor(r() * 4), host_id: host, annotations: { app: `a${Math.floor(r() * 3)}` } });
    } else if (x < 0.5) {
      const id = pick(r, this.provs);
      await ctl(nc, lat, `provider.start.${host}`, { provider_id: id, provider_ref: `reg/${id}:1`, host_id: host, annotations: { app: 'p' } });
    } else if (x < 0.6) {
      await ctl(nc, lat, `provider.stop.${host}`, { host_id: host, provider_id: pick(r, this.provs) });
    } else if (x < 0.7) {
      await ctl(nc, lat, 'link.put', { source_id: pick(r, this.comps), target: pick(r, this.provs), name: pick(r, ['default', 'b']), wit_namespace: 'wasi', wit_package: pick(r, ['http', 'keyvalue']), interfaces: pick(r, IFACES) });
    } else if (x < 0.76) {
      await ctl(nc, lat, 'link.del', { source_id: pick(r, this.comps), name: pick(r, ['default', 'b']), wit_namespace: 'wasi', wit_package: pick(r, ['http', 'keyvalue']) });
    } else if (x < 0.84) {
      await ctl(nc, lat, `config.put.${pick(r, this.configs)}`, { k: String(r()) });
    } else if (x < 0.88) {
      await ctl(nc, lat, `config.del.${pick(r, this.configs)}`);
    } else if (x < 0.94) {
      await ctl(nc, lat, `label.put.${host}`, { key: pick(r, ['tier', 'rack']), value: String(Math.floor(r() * 3)) });
    } else if (x < 0.98 || !this.hostChurn) {
      await ctl(nc, lat, `label.del.${host}`, { key: pick(r, ['tier', 'rack']) });
    } else {
      await sim.stopHost(host);
      await sim.addHost({ labels: { zone: 'new' } });
    }
  }
}

/**
 * Interfaces of storm links: one name can hold links to several targets (disjoint interfaces), a put
 * to another target on a shared interface fails, and one to the same target replaces (§3.9).
 */
const IFACES: readonly string[][] = [['x'], ['y'], ['x', 'y']];

/** Count lattice events published for the given lattices. */
export function countEvents(nc: NatsConnection, lattices: readonly string[]): { count(): number; stop(): void } {
  let n = 0;
  const sub = nc.subscribe('wasmbus.evt.*.>', {
    callback: (_e, m) => {
      if (lattices.includes(m.subject.split('.')[2]!)) n++;
    },
  });
  return { count: () => n, stop: () => sub.unsubscribe() };
}

/**
 * A simulated lattice for tests: quiet logs, fast fetches and health checks. `servers` is a URL or a
 * connection (e.g. one authenticated as a tenant); `hostLabels` gives each host its labels (`() => ({})`:
 * none); `timing` overrides the fetch delay and health-check timing.
 */
export async function simLattice(
  servers: string | NatsConnection,
  name: string,
  hosts: number,
  heartbeatIntervalMs = 500,
  hostLabels: (i: number) => Record<string, string> = (i) => ({ zone: i % 2 ? 'east' : 'west' }),
  timing: Partial<Pick<import('@wadm-ts/simulator').SimulatedLatticeOptions, 'fetchDelayMs' | 'healthCheckDelayMs' | 'healthCheckIntervalMs'>> = {},
): Promise<import('@wadm-ts/simulator').SimulatedLattice> {
  const { SimulatedLattice } = await import('@wadm-ts/simulator');
  const { createLogger } = await import('@wadm-ts/obs');
  const { silent } = await import('./replicas.js');
  const sim = new SimulatedLattice({
    servers,
    lattice: name,
    heartbeatIntervalMs,
    healthCheckDelayMs: 100,
    healthCheckIntervalMs: 1000,
    fetchDelayMs: 1,
    ...timing,
    logger: createLogger({ replica: 'simulator', level: 'silent', destination: silent }),
  });
  await sim.ready();
  for (let i = 0; i < hosts; i++) await sim.addHost({ labels: hostLabels(i) });
  return sim;
}

/** Wait until KV equals the simulator's ground truth; on timeout fail with the difference. */
export async function waitConverged(store: LatticeStateStore, sim: import('@wadm-ts/simulator').SimulatedLattice, lattice: string, timeoutMs = 30_000, account?: string): Promise<void> {
  const { waitFor } = await import('./nats.js');
  let last: { kv: View; truth: View } | undefined;
  try {
    await waitFor(
      async () => {
        last = { kv: await kvView(store, account ? { lattice, account } : { lattice }), truth: truthView(sim.snapshot()) };
        return JSON.stringify(last.kv) === JSON.stringify(last.truth);
      },
      timeoutMs,
      `KV to equal the simulator's ground truth in ${lattice}`,
    );
  } catch (err) {
    assert.deepEqual(last?.kv, last?.truth, (err as Error).message);
    throw err;
  }
}

type LinkFields = import('@wadm-ts/simulator').Link;

/** A link as the hosts hold it; `name` defaults to `default`. */
export function link(source_id: string, target: string, ns: string, pkg: string, interfaces: string[], source_config: string[] = [], target_config: string[] = [], name = 'default'): LinkFields {
  return { source_id, target, name, wit_namespace: ns, wit_package: pkg, interfaces, source_config, target_config };
}

const linkKey = (l: LinkFields): string => JSON.stringify([l.source_id, l.wit_namespace, l.wit_package, l.name, l.target]);

/** Links reduced to their wire fields, in a stable order, for deep comparison. */
export function sortLinks(ls: readonly LinkFields[]): LinkFields[] {
  return ls.map((l) => link(l.source_id, l.target, l.wit_namespace, l.wit_package, l.interfaces, l.source_config, l.target_config, l.name)).sort((a, b) => (linkKey(a) < linkKey(b) ? -1 : 1));
}
