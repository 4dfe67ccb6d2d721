/**
 * The planner's vocabulary: the per-key decisions one event (or query answer) makes, and the guards that
 * make them commute. Every decision is guarded by the event's stream sequence (`seq`): an entity last set
 * by a newer event is left alone, so events may be applied out of order, concurrently, or twice
 * (redelivery) and the result is the same as applying them once, in order.
 */
import type { LatticeRef } from '@wadm-ts/protocol';
import type { KeyDecision, StoredValue } from '@wadm-ts/store';
import type { Entity, FailureEntity } from '@wadm-ts/entities';

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
export function upsert<T extends Entity>(key: string, seq: number, build: (cur: T | undefined) => T): Op {
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

export function remove(key: string, seq: number, timeMs: number, placeholder: () => Entity): Op {
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

export function failure(key: string, seq: number, f: Omit<FailureEntity, 'kind' | 'seq'>): Op {
  return upsert<FailureEntity>(key, seq, () => ({ kind: 'failure', seq, ...f }));
}

/** Like upsert, but `build` may answer undefined: already so, nothing to write (a query repeats what state holds). */
export function upsertIfDifferent<T extends Entity>(key: string, seq: number, build: (cur: T | undefined) => T | undefined): Op {
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

/** The sweep decision for one key (see Op 'sweep'). */
export function sweepDecision(cur: StoredValue | undefined, seq: number, timeMs: number, all = false): KeyDecision<StoredValue> {
  if (!isEntity(cur) || cur.deleted) return { skip: true };
  if (all) return { write: tombstone(cur, Math.max(seq, cur.seq + 0.5), timeMs) };
  if (cur.seq >= seq) return { skip: true };
  return { write: tombstone(cur, seq, timeMs) };
}

export function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
