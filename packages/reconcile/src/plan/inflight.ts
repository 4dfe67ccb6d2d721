/**
 * In-flight suppression and failure backoff (the level-triggered replacement of wadm's expected events
 * and BackoffWrapper, docs/wire/behaviour.md §5.6), and for the runtime which in-flight entries are done
 * (`isSatisfied`, `settleInflight`).
 */
import { keyToken, SCALER_KEY, type LinkDef } from '@wadm-ts/protocol';

import { type ComponentEntity, type FailureEntity, type InFlightEntity, type LatticeEntities } from '@wadm-ts/entities';
import type { Command, InFlight, ObservedLattice } from '../types.js';
import { commandKey, linkNameKey, sameCommand } from './ids.js';
import { sameLink } from './observed.js';
import { linkOf } from './commands.js';

export const DEFAULT_BACKOFF_MS = 5000;

/** The entries of an in-flight record: a batch, or the one command an older writer recorded. */
export function inflightOf(v: InFlightEntity): InFlight[] {
  const list = v.entries ?? (v.command !== undefined ? [{ key: v.key, command: v.command, issuedAt: v.issuedAt, expiresAt: v.expiresAt }] : []);
  return list.map((e) => ({ key: e.key, command: e.command as Command, issuedAt: e.issuedAt, expiresAt: e.expiresAt }));
}

/** What `satisfiedBy` asks of the observed lattice (tombstones never count). */
interface EffectLookup {
  /** The first live component entry on the host with max_instances > 0. */
  component(hostId: string, componentId: string): ComponentEntity | undefined;
  hasProvider(hostId: string, providerId: string): boolean;
  /** Live links with this source, namespace, package and name (any target). */
  links(sourceId: string, ns: string, pkg: string, name: string): readonly LinkDef[];
  hasConfig(name: string): boolean;
}

function satisfiedBy(c: Command, q: EffectLookup): boolean {
  switch (c.kind) {
    case 'ScaleComponent': {
      const cur = q.component(c.host_id, c.component_id);
      if (c.count === 0) return cur === undefined;
      const scaler = c.annotations[SCALER_KEY];
      return cur !== undefined && cur.maxInstances === c.count && (scaler === undefined || cur.annotations[SCALER_KEY] === scaler);
    }
    case 'UpdateComponent': {
      // Done once the instance runs the new image for the scaler the update named.
      const cur = q.component(c.host_id, c.component_id);
      return cur !== undefined && cur.imageRef === c.new_component_ref && cur.annotations[SCALER_KEY] === c.annotations[SCALER_KEY];
    }
    case 'StartProvider':
      return q.hasProvider(c.host_id, c.provider_id);
    case 'StopProvider':
      return !q.hasProvider(c.host_id, c.provider_id);
    case 'PutLink': {
      const want = linkOf(c);
      return q.links(c.source_id, c.wit_namespace, c.wit_package, c.name).some((l) => sameLink(l, want));
    }
    case 'DeleteLink': {
      // Done once the link meant is gone (a deletion recorded without its target: every link of that name).
      const target = c.target;
      return !q.links(c.source_id, c.wit_namespace, c.wit_package, c.link_name).some((l) => target === undefined || l.target === target);
    }
    case 'PutConfig':
      return q.hasConfig(c.config_name);
    case 'DeleteConfig':
      return !q.hasConfig(c.config_name);
  }
}

/** One question, one scan: for a single command. */
function scanLookup(o: LatticeEntities): EffectLookup {
  return {
    component: (h, id) => o.components.find((x) => !x.deleted && x.hostId === h && x.componentId === id && x.maxInstances > 0),
    hasProvider: (h, id) => o.providers.some((x) => !x.deleted && x.hostId === h && x.providerId === id),
    links: (src, ns, pkg, name) =>
      o.links.filter((x) => !x.deleted && x.link.source_id === src && x.link.wit_namespace === ns && x.link.wit_package === pkg && x.link.name === name).map((x) => x.link),
    hasConfig: (name) => o.configs.some((x) => !x.deleted && x.name === name),
  };
}

const hostKey = (h: string, id: string): string => `${h}\u0000${id}`;

/** Indexes built once over the lattice, for many commands. */
function indexedLookup(o: LatticeEntities): EffectLookup {
  const components = new Map<string, ComponentEntity>();
  for (const x of o.components) {
    if (x.deleted || x.maxInstances <= 0) continue;
    const k = hostKey(x.hostId, x.componentId);
    if (!components.has(k)) components.set(k, x);
  }
  const providers = new Set<string>();
  for (const x of o.providers) if (!x.deleted) providers.add(hostKey(x.hostId, x.providerId));
  const links = new Map<string, LinkDef[]>();
  for (const x of o.links) {
    if (x.deleted) continue;
    const k = linkNameKey(x.link.source_id, x.link.wit_namespace, x.link.wit_package, x.link.name);
    const l = links.get(k);
    if (l) l.push(x.link);
    else links.set(k, [x.link]);
  }
  const configs = new Set<string>();
  for (const x of o.configs) if (!x.deleted) configs.add(x.name);
  return {
    component: (h, id) => components.get(hostKey(h, id)),
    hasProvider: (h, id) => providers.has(hostKey(h, id)),
    links: (src, ns, pkg, name) => links.get(linkNameKey(src, ns, pkg, name)) ?? [],
    hasConfig: (name) => configs.has(name),
  };
}

/** Whether the observed lattice already shows the command's effect (its in-flight entry can go). */
export function isSatisfied(c: Command, observed: LatticeEntities): boolean {
  return satisfiedBy(c, scanLookup(observed));
}

/**
 * Splits in-flight entries into those still under way (`live`) and those that can go (`done`): their
 * effect is observed (as `isSatisfied` decides) or they expired (`expiresAt <= now`). Both keep the
 * input order. One pass over the lattice and one over the entries.
 */
export function settleInflight(
  inflight: readonly InFlight[],
  observed: LatticeEntities | ObservedLattice,
  now: number,
): { live: InFlight[]; done: InFlight[]; expired: InFlight[] } {
  const live: InFlight[] = [];
  const done: InFlight[] = [];
  const expired: InFlight[] = [];
  if (inflight.length === 0) return { live, done, expired };
  const q = indexedLookup(observed);
  for (const f of inflight) {
    if (satisfiedBy(f.command, q)) done.push(f);
    else if (f.expiresAt <= now) {
      done.push(f);
      expired.push(f);
    } else live.push(f);
  }
  return { live, done, expired };
}

/**
 * Suffix of the lattice-state key a link failure is recorded under (`….link.{source}.{ns}.{pkg}.{name}.{target}`,
 * the link's host identity; see `@wadm-ts/store` stateKeys.link).
 */
function linkFailureSuffix(source: string, ns: string, pkg: string, name: string, target: string): string {
  return `.link.${keyToken(source)}.${keyToken(ns)}.${keyToken(pkg)}.${keyToken(name)}.${keyToken(target)}`;
}

/** Dot-separated parts of a link failure suffix (`.link` and the five identity tokens). */
const LINK_SUFFIX_PARTS = 6;

/** Whether a failure event is about the target of this command. */
export function failureMatches(f: FailureEntity, c: Command): boolean {
  switch (c.kind) {
    case 'ScaleComponent': {
      if (f.what !== 'component' || f.subject !== c.component_id || f.hostId !== c.host_id) return false;
      const theirs = f.annotations?.[SCALER_KEY];
      const ours = c.annotations[SCALER_KEY];
      return theirs === undefined || ours === undefined || theirs === ours;
    }
    case 'StartProvider':
      return f.what === 'provider' && f.subject === c.provider_id && f.hostId === c.host_id && (!f.imageRef || f.imageRef === c.reference);
    case 'PutLink':
      return f.what === 'link' && f.subject.endsWith(linkFailureSuffix(c.source_id, c.wit_namespace, c.wit_package, c.name, c.target));
    default:
      return false;
  }
}

export type FilterOutcome = { outcome: 'emit' } | { outcome: 'inflight' } | { outcome: 'backoff'; error: string };

/** Where a failure is filed in `FailureIndex`: the only bucket whose commands it can match. */
function failureBucket(f: FailureEntity): string | undefined {
  switch (f.what) {
    case 'component':
    case 'provider':
      return f.hostId === undefined ? undefined : `${f.what}\u0000${f.subject}\u0000${f.hostId}`;
    case 'link': {
      // Key tokens hold no dot: the subject ends with the suffix iff its last dot-separated parts are it.
      // (A failure recorded by an older wadm-ts, without the target, matches no bucket: it only ever
      // held back a put for the backoff window.)
      let at = f.subject.length;
      for (let dots = 0; dots < LINK_SUFFIX_PARTS && at >= 0; dots++) at = f.subject.lastIndexOf('.', at - 1);
      if (at < 0) return undefined;
      const tail = f.subject.slice(at);
      return tail.startsWith('.link.') ? `link\u0000${tail}` : undefined;
    }
  }
}

/** The bucket a command's failures are filed under (undefined: no failure can match it). */
function commandBucket(c: Command): string | undefined {
  switch (c.kind) {
    case 'ScaleComponent':
      return `component\u0000${c.component_id}\u0000${c.host_id}`;
    case 'StartProvider':
      return `provider\u0000${c.provider_id}\u0000${c.host_id}`;
    case 'PutLink':
      return `link\u0000${linkFailureSuffix(c.source_id, c.wit_namespace, c.wit_package, c.name, c.target)}`;
    default:
      return undefined;
  }
}

/** Failures in backoff, filed by target, most recent first within a target. */
class FailureIndex {
  private readonly byBucket = new Map<string, FailureEntity[]>();

  constructor(active: readonly FailureEntity[]) {
    for (const f of active) {
      const b = failureBucket(f);
      if (b === undefined) continue;
      const l = this.byBucket.get(b);
      if (l) l.push(f);
      else this.byBucket.set(b, [f]);
    }
  }

  /** The most recent failure about the command's target, as `failures.find(f => failureMatches(f, c))`. */
  match(c: Command): FailureEntity | undefined {
    const b = commandBucket(c);
    if (b === undefined) return undefined;
    const l = this.byBucket.get(b);
    return l === undefined ? undefined : l.find((f) => failureMatches(f, c));
  }
}

/** Decides, per wanted command, whether to issue it now. */
export class CommandFilter {
  private readonly inflight: Map<string, InFlight[]>;
  private readonly failures: FailureIndex;
  private readonly backoffMs: number;
  /** The earliest end of a backoff that suppressed a command so far (failure.at + backoffMs). */
  private backoffEnd: number | undefined;

  constructor(inflight: readonly InFlight[], failures: readonly FailureEntity[], now: number, backoffMs: number) {
    this.inflight = new Map();
    for (const f of inflight) {
      if (f.expiresAt <= now) continue;
      const l = this.inflight.get(f.key);
      if (l) l.push(f);
      else this.inflight.set(f.key, [f]);
    }
    const since = now - backoffMs;
    this.backoffMs = backoffMs;
    // Most recent first; ties broken by text so the outcome does not depend on input order.
    const active = failures.filter((f) => !f.deleted && f.at > since).sort((a, b) => b.at - a.at || (a.error < b.error ? -1 : a.error > b.error ? 1 : 0));
    this.failures = new FailureIndex(active);
  }

  check(c: Command): FilterOutcome {
    const failure = this.failures.match(c);
    if (failure) {
      // The target stays suppressed until its most recent failure leaves the backoff window.
      const end = failure.at + this.backoffMs;
      if (this.backoffEnd === undefined || end < this.backoffEnd) this.backoffEnd = end;
      return { outcome: 'backoff', error: failure.error };
    }
    // Same target and same command under way: wait for it. A different command for the same target supersedes it.
    const pending = this.inflight.get(commandKey(c));
    if (pending !== undefined && pending.some((f) => sameCommand(f.command, c))) return { outcome: 'inflight' };
    return { outcome: 'emit' };
  }

  /** The earliest time a backoff that suppressed a checked command ends. */
  earliestBackoffEnd(): number | undefined {
    return this.backoffEnd;
  }
}
