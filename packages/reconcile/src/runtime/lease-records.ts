/**
 * The records of KV bucket `wadm_leases` and their keys (layout: see `leases.ts`):
 *   r.{replicaId}           presence: {replica, incarnation, at};
 *   l.{account|_}.{lattice} the lattice's lease: {owner, incarnation, epoch, idleSince?}.
 * Also what a holder is handed (`Held`) and the error a fenced write throws once the lease is gone.
 */
import { keyToken, refOfTokens, refTokens, type LatticeRef } from '@wadm-ts/protocol';

export interface LeaseValue {
  kind: 'lease';
  lattice: string;
  account?: string;
  /** Replica id, or null when released / not yet taken. */
  owner: string | null;
  incarnation?: string;
  /** Fencing token: raised at every change of owner. */
  epoch: number;
  /** Wall time (ms) when the owner first saw the lattice idle (no live host, no deployed app). */
  idleSince?: number;
}

export interface PresenceValue {
  kind: 'replica';
  replica: string;
  incarnation: string;
  /** Wall time of the renewal (informational; expiry is judged by observation). */
  at: number;
}

export type LeaseRecord = LeaseValue | PresenceValue;

export function leaseKey(ref: LatticeRef): string {
  return `l.${refTokens(ref)}`;
}

export function refOfLeaseKey(key: string): LatticeRef | undefined {
  const t = key.split('.');
  if (t.length !== 3 || t[0] !== 'l') return undefined;
  return refOfTokens(t[1]!, t[2]!);
}

/** The presence key of a replica. */
export function presenceKey(replicaId: string): string {
  return `r.${keyToken(replicaId)}`;
}

/** Whether a key of the bucket is a presence key (else a lease key). */
export function isPresenceKey(key: string): boolean {
  return key.startsWith('r.');
}

const decoder = new TextDecoder();

export function decodeLeaseRecord(data: Uint8Array): LeaseRecord {
  return JSON.parse(decoder.decode(data)) as LeaseRecord;
}

export function encodeLeaseRecord(v: LeaseRecord): string {
  return JSON.stringify(v);
}

export class LeaseLostError extends Error {
  constructor(ref: LatticeRef, epoch: number, why: string) {
    super(`lease of lattice ${ref.lattice} (epoch ${epoch}) lost: ${why}`);
    this.name = 'LeaseLostError';
  }
}

/** What this replica holds. */
export interface Held {
  ref: LatticeRef;
  key: string;
  epoch: number;
}

/** The lattice a lease is for. */
export function refOfLease(v: LeaseValue): LatticeRef {
  return { lattice: v.lattice, ...(v.account ? { account: v.account } : {}) };
}

/** Whether `v` is the lease of `owner` (that incarnation) at `epoch`. */
export function isLeaseOf(v: LeaseRecord | undefined, owner: string, incarnation: string, epoch: number): boolean {
  return v?.kind === 'lease' && v.owner === owner && v.incarnation === incarnation && v.epoch === epoch;
}

/** A lattice made known, unowned (epoch: wall time `now`). */
export function unownedLease(ref: LatticeRef, now: number): LeaseValue {
  return { kind: 'lease', lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), owner: null, epoch: now };
}

/** The lease taken over from `cur` (or new, epoch: wall time `now`): a higher epoch, idleness kept. */
export function claimedLease(ref: LatticeRef, owner: string, incarnation: string, cur: LeaseValue | undefined, now: number): LeaseValue {
  const epoch = cur ? Math.max(cur.epoch + 1, 1) : now;
  const v: LeaseValue = { kind: 'lease', lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), owner, incarnation, epoch };
  if (cur?.idleSince !== undefined) v.idleSince = cur.idleSince;
  return v;
}

/** The lease handed back: no owner, same epoch. */
export function releasedLease(cur: LeaseValue): LeaseValue {
  const v: LeaseValue = { ...cur, owner: null };
  delete v.incarnation;
  return v;
}

/** The lease with `idleSince` set, or cleared when undefined. */
export function withIdleSince(cur: LeaseValue, idleSince: number | undefined): LeaseValue {
  const v: LeaseValue = { ...cur };
  if (idleSince === undefined) delete v.idleSince;
  else v.idleSince = idleSince;
  return v;
}
