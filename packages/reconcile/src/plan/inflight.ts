/**
 * In-flight suppression and failure backoff (the level-triggered replacement of wadm's expected events
 * and BackoffWrapper, wadm-behaviour.md §5.6), and `isSatisfied` for the runtime.
 */
import { keyToken, type FailureState, type LatticeSnapshot } from '@wadm-ts/store';
import type { Command, InFlight } from '../types.js';
import { commandKey, SCALER_KEY, sameCommand } from './ids.js';
import { sameLink } from './observed.js';
import { linkOf } from './commands.js';

export const DEFAULT_BACKOFF_MS = 5000;

/** Whether the observed lattice already shows the command's effect (its in-flight entry can go). */
export function isSatisfied(c: Command, observed: LatticeSnapshot): boolean {
  switch (c.kind) {
    case 'ScaleComponent': {
      const cur = observed.components.find((x) => !x.deleted && x.hostId === c.host_id && x.componentId === c.component_id && x.maxInstances > 0);
      if (c.count === 0) return cur === undefined;
      const scaler = c.annotations[SCALER_KEY];
      return cur !== undefined && cur.maxInstances === c.count && (scaler === undefined || cur.annotations[SCALER_KEY] === scaler);
    }
    case 'StartProvider':
      return observed.providers.some((x) => !x.deleted && x.hostId === c.host_id && x.providerId === c.provider_id);
    case 'StopProvider':
      return !observed.providers.some((x) => !x.deleted && x.hostId === c.host_id && x.providerId === c.provider_id);
    case 'PutLink': {
      const want = linkOf(c);
      return observed.links.some((x) => !x.deleted && sameLink(x.link, want));
    }
    case 'DeleteLink':
      return !observed.links.some(
        (x) =>
          !x.deleted &&
          x.link.source_id === c.source_id &&
          x.link.wit_namespace === c.wit_namespace &&
          x.link.wit_package === c.wit_package &&
          x.link.name === c.link_name,
      );
    case 'PutConfig':
      return observed.configs.some((x) => !x.deleted && x.name === c.config_name);
    case 'DeleteConfig':
      return !observed.configs.some((x) => !x.deleted && x.name === c.config_name);
  }
}

/** Suffix of the lattice-state key a link failure is recorded under (`….link.{source}.{ns}.{pkg}.{name}`). */
function linkFailureSuffix(source: string, ns: string, pkg: string, name: string): string {
  return `.link.${keyToken(source)}.${keyToken(ns)}.${keyToken(pkg)}.${keyToken(name)}`;
}

/** Whether a failure event is about the target of this command. */
export function failureMatches(f: FailureState, c: Command): boolean {
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
      return f.what === 'link' && f.subject.endsWith(linkFailureSuffix(c.source_id, c.wit_namespace, c.wit_package, c.name));
    default:
      return false;
  }
}

export type FilterOutcome = { outcome: 'emit' } | { outcome: 'inflight' } | { outcome: 'backoff'; error: string };

/** Where a failure is filed in `FailureIndex`: the only bucket whose commands it can match. */
function failureBucket(f: FailureState): string | undefined {
  switch (f.what) {
    case 'component':
    case 'provider':
      return f.hostId === undefined ? undefined : `${f.what}\u0000${f.subject}\u0000${f.hostId}`;
    case 'link': {
      // Key tokens hold no dot: the subject ends with the suffix iff its last five dot-separated parts are it.
      let at = f.subject.length;
      for (let dots = 0; dots < 5 && at >= 0; dots++) at = f.subject.lastIndexOf('.', at - 1);
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
      return `link\u0000${linkFailureSuffix(c.source_id, c.wit_namespace, c.wit_package, c.name)}`;
    default:
      return undefined;
  }
}

/** Failures in backoff, filed by target, most recent first within a target. */
class FailureIndex {
  private readonly byBucket = new Map<string, FailureState[]>();

  constructor(active: readonly FailureState[]) {
    for (const f of active) {
      const b = failureBucket(f);
      if (b === undefined) continue;
      const l = this.byBucket.get(b);
      if (l) l.push(f);
      else this.byBucket.set(b, [f]);
    }
  }

  /** The most recent failure about the command's target, as `failures.find(f => failureMatches(f, c))`. */
  match(c: Command): FailureState | undefined {
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

  constructor(inflight: readonly InFlight[], failures: readonly FailureState[], now: number, backoffMs: number) {
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
