/**
 * Lattice-wide state that real hosts share through JetStream KV (`LATTICEDATA_{lattice}`,
 * `CONFIGDATA_{lattice}`). The simulated hosts of one {@link SimulatedLattice} share one in-memory
 * instance, so whichever host answers a queue-group request sees the same data.
 */
import { cloneLink, type Link } from './wire.js';

/** `COMPONENT_{id}` in `LATTICEDATA_{lattice}`: the image ref and the links whose source is `id`. */
export interface ComponentSpec {
  url: string;
  links: Link[];
}

export class LatticeStore {
  /** Config name → the raw JSON bytes (as text) stored verbatim by `config.put`. */
  private readonly configs = new Map<string, string>();
  /** Component / provider id → spec. Specs are never deleted (a stopped component keeps its links). */
  private readonly specs = new Map<string, ComponentSpec>();

  getConfigRaw(name: string): string | undefined {
    return this.configs.get(name);
  }

  /** The stored config as a map, or undefined when absent. */
  getConfig(name: string): Map<string, string> | undefined {
    const raw = this.configs.get(name);
    if (raw === undefined) return undefined;
    const parsed = JSON.parse(raw) as Record<string, string>;
    return new Map(Object.entries(parsed));
  }

  hasConfig(name: string): boolean {
    return this.configs.has(name);
  }

  putConfig(name: string, raw: string): void {
    this.configs.set(name, raw);
  }

  /** Purge; idempotent. */
  deleteConfig(name: string): void {
    this.configs.delete(name);
  }

  configNames(): string[] {
    return [...this.configs.keys()];
  }

  getSpec(id: string): ComponentSpec | undefined {
    const spec = this.specs.get(id);
    return spec ? { url: spec.url, links: spec.links.map(cloneLink) } : undefined;
  }

  putSpec(id: string, spec: ComponentSpec): void {
    this.specs.set(id, { url: spec.url, links: spec.links.map(cloneLink) });
  }

  /** Every link of every spec (what `link.get` returns). */
  allLinks(): Link[] {
    const out: Link[] = [];
    for (const spec of this.specs.values()) for (const l of spec.links) out.push(cloneLink(l));
    return out;
  }
}
