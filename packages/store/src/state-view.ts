/**
 * The replica's in-memory view of lattice state (bucket `wadm_state`), fed by one KV watch (`KvMirror`)
 * and indexed per lattice. Reconcile passes, host expiry and command workers read it, never KV.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '@wadm-ts/obs';
import type { LatticeRef } from '@wadm-ts/protocol';
import type {
  AppliedEntity,
  ComponentEntity,
  ConfigEntity,
  FailureEntity,
  HostEntity,
  InFlightEntity,
  Keyed,
  LatticeEntities,
  LinkEntity,
  ProviderEntity,
} from '@wadm-ts/entities';
import { KvMirror, type MirrorEntry } from './kv-mirror.js';
import { latticePrefix, type LatticeMeta, type StoredValue } from './lattice-state.js';
import { prefixOf, refOfPrefix, subjectMatches } from './state-view-keys.js';

const decoder = new TextDecoder();
/** Lattice refs kept parsed (a bound: lattices come and go, and GC forgets them). */
const MAX_CACHED_REFS = 10_000;

/** A key without its last token (the index of `keysMatching` for `parent.*` filters). */
const parentOf = (key: string): string => key.slice(0, key.lastIndexOf('.'));

/** Lattice state (bucket `wadm_state`), indexed per lattice. */
export class StateView {
  readonly mirror: KvMirror<StoredValue>;
  private readonly byLattice = new Map<string, Map<string, MirrorEntry<StoredValue>>>();
  /** key without its last token → keys (e.g. `lat._.l.comp.{host}` → that host's component keys). */
  private readonly children = new Map<string, Set<string>>();
  private readonly listeners: Array<(ref: LatticeRef, key: string, previous: StoredValue | undefined, next: StoredValue | undefined) => void> = [];

  constructor(o: { name: string; open: () => Promise<KV>; jsm: JetStreamManager; logger: Logger; removalMemoryMs?: number }) {
    this.mirror = new KvMirror<StoredValue>({ ...o, decode: (_k, d) => JSON.parse(decoder.decode(d)) as StoredValue });
    this.mirror.onChange((key, previous, next) => {
      const p = prefixOf(key);
      if (!p) return;
      const e = this.mirror.get(key);
      let m = this.byLattice.get(p);
      if (e) {
        if (!m) this.byLattice.set(p, (m = new Map()));
        const known = m.has(key);
        m.set(key, e);
        // A key already indexed (most changes: a value rewritten) is among its parent's children.
        if (!known) {
          const parent = parentOf(key);
          let c = this.children.get(parent);
          if (!c) this.children.set(parent, (c = new Set()));
          c.add(key);
        }
      } else if (m) {
        m.delete(key);
        if (m.size === 0) this.byLattice.delete(p);
        const parent = parentOf(key);
        const c = this.children.get(parent);
        if (c) {
          c.delete(key);
          if (c.size === 0) this.children.delete(parent);
        }
      }
      if (this.listeners.length === 0) return;
      const ref = this.refOf(p);
      for (const l of this.listeners) l(ref, key, previous, next);
    });
  }

  /** The lattice of a key prefix, parsed once per prefix (every change of the view names one). */
  private refOf(prefix: string): LatticeRef {
    let r = this.refs.get(prefix);
    if (r === undefined) {
      if (this.refs.size >= MAX_CACHED_REFS) this.refs.clear();
      this.refs.set(prefix, (r = Object.freeze(refOfPrefix(prefix))));
    }
    return r;
  }

  private readonly refs = new Map<string, LatticeRef>();

  start(): Promise<void> {
    return this.mirror.start();
  }

  stop(): Promise<void> {
    return this.mirror.stop();
  }

  get ready(): boolean {
    return this.mirror.ready;
  }

  /** Called for every change of a lattice's state key (after the view applied it). */
  onChange(l: (ref: LatticeRef, key: string, previous: StoredValue | undefined, next: StoredValue | undefined) => void): void {
    this.listeners.push(l);
  }

  /** Every lattice with at least one state key. */
  lattices(): LatticeRef[] {
    return [...this.byLattice.keys()].map((p) => this.refOf(p));
  }

  entries(ref: LatticeRef): Array<Keyed<StoredValue>> {
    const m = this.byLattice.get(latticePrefix(ref));
    return m ? [...m].map(([key, e]) => ({ key, ...e })) : [];
  }

  get<T extends StoredValue>(key: string): MirrorEntry<T> | undefined {
    return this.mirror.get(key) as MirrorEntry<T> | undefined;
  }

  applyLocal(key: string, value: StoredValue | undefined, revision: number): void {
    this.mirror.applyLocal(key, value, revision);
  }

  revisionOf(key: string): number {
    return this.mirror.revisionOf(key);
  }

  newerThan(key: string, after: number, timeoutMs: number): Promise<boolean> {
    return this.mirror.newerThan(key, after, timeoutMs);
  }

  /** Keys of one lattice matching a subject filter (`*` one token, `>` the rest); undefined for other filters. */
  keysMatching(filter: string): string[] | undefined {
    const p = prefixOf(filter);
    if (!p || p.includes('*') || p.includes('>')) return undefined;
    if (filter.endsWith('.*')) {
      const parent = filter.slice(0, -2);
      if (!parent.includes('*') && !parent.includes('>')) return [...(this.children.get(parent) ?? [])];
    }
    const m = this.byLattice.get(p);
    if (!m) return [];
    const pat = filter.split('.');
    const out: string[] = [];
    for (const key of m.keys()) if (subjectMatches(pat, key.split('.'))) out.push(key);
    return out;
  }

  meta(ref: LatticeRef): LatticeMeta | undefined {
    const v = this.mirror.get(`${latticePrefix(ref)}.meta`)?.value;
    return v?.kind === 'lattice' ? v : undefined;
  }

  /** Live entities of one lattice as plain data, plus failures, in-flight and applied records. */
  read(ref: LatticeRef): {
    snapshot: LatticeEntities;
    failures: FailureEntity[];
    inflight: Array<Keyed<InFlightEntity>>;
    applied: Array<Keyed<AppliedEntity>>;
    /** Hosts including tombstones (stopped or expired), by id. */
    allHosts: Map<string, HostEntity>;
  } {
    const snapshot: LatticeEntities = { hosts: [], components: [], providers: [], links: [], configs: [] };
    const failures: FailureEntity[] = [];
    const inflight: Array<Keyed<InFlightEntity>> = [];
    const applied: Array<Keyed<AppliedEntity>> = [];
    const allHosts = new Map<string, HostEntity>();
    const m = this.byLattice.get(latticePrefix(ref));
    if (m) {
      for (const [key, e] of m) {
        const v = e.value;
        switch (v.kind) {
          case 'host':
            allHosts.set(v.id, v);
            if (!v.deleted) snapshot.hosts.push(v);
            break;
          case 'component':
            if (!v.deleted) snapshot.components.push(v as ComponentEntity);
            break;
          case 'provider':
            if (!v.deleted) snapshot.providers.push(v as ProviderEntity);
            break;
          case 'link':
            if (!v.deleted) snapshot.links.push(v as LinkEntity);
            break;
          case 'config':
            if (!v.deleted) snapshot.configs.push(v as ConfigEntity);
            break;
          case 'failure':
            if (!v.deleted) failures.push(v);
            break;
          case 'inflight':
            inflight.push({ key, value: v, revision: e.revision });
            break;
          case 'applied':
            applied.push({ key, value: v, revision: e.revision });
            break;
          default:
            break;
        }
      }
    }
    return { snapshot, failures, inflight, applied, allHosts };
  }
}
