/**
 * The key layout of the manifest bucket (docs/wire/api.md §4) and its one ambiguity, as pure functions.
 *
 * App records live at `{scope}-{name}`, a lattice's index at `{scope}` (scope = lattice, or
 * `{account}-{lattice}` multitenant). Lattice ids and app names may contain `-`, so one key can mean
 * several things:
 *   - `team-a` is the index of lattice `team-a` *and* the record of app `a` in lattice `team`;
 *   - `team-a-b` is the record of app `a-b` in lattice `team` *and* of app `b` in lattice `team-a`.
 * The layout is kept (a bucket written by the Rust wadm is read as-is, and the Rust wadm can still read
 * ours); what a key holds is told from its bytes instead: an index is a JSON array (first byte `[`), an
 * app record a JSON object whose manifests carry the app's name, which says which `{scope}-{name}` split
 * the record belongs to. A write that would replace something that belongs to another lattice or app is
 * refused with `ManifestKeyCollisionError` (see manifest-store.ts and manifest-index.ts for how that stays race-free).
 */
import type { LatticeRef } from '@wadm-ts/protocol';
import type { StoredApp } from './stored-app.js';

/** Old name of LatticeRef, kept only for packages/api/src/server.ts until its split lands; use LatticeRef. */

export function scopeKey(scope: LatticeRef): string {
  return scope.account ? `${scope.account}-${scope.lattice}` : scope.lattice;
}

export function appKey(scope: LatticeRef, name: string): string {
  return `${scopeKey(scope)}-${name}`;
}

/** Whether a stored value is a lattice index (a JSON array) rather than an app record (a JSON object). */
export function isIndexValue(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x5b; // '['
  }
  return false;
}

const decoder = new TextDecoder();

/** The names a lattice index lists (its string entries), or undefined when the value is no index or unreadable. */
export function decodeIndexNames(bytes: Uint8Array): string[] | undefined {
  if (!isIndexValue(bytes)) return undefined;
  try {
    const v: unknown = JSON.parse(decoder.decode(bytes));
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
  } catch {
    return undefined;
  }
}

/** Which `{scope}-{name}` split of `key` an app record belongs to. */
export interface RecordOwner {
  scopeKey: string;
  name: string;
}

/**
 * The scope key and name a record stored at `key` belongs to, told by its manifests' names (trimmed, as
 * put trims them); undefined when no manifest name fits the key (then nothing is known about it).
 */
export function recordOwner(key: string, app: StoredApp): RecordOwner | undefined {
  for (const v of app.versions) {
    const n = v.manifest.metadata.name.trim();
    if (n.length > 0 && key.length > n.length + 1 && key.endsWith(`-${n}`)) return { scopeKey: key.slice(0, key.length - n.length - 1), name: n };
  }
  return undefined;
}

/**
 * Whether the record stored at `key` is app `name`'s and not another lattice's app with the same key.
 * Lenient for records whose manifests name no split of the key: those are taken as the asked app's
 * (nothing says otherwise).
 */
export function recordBelongs(key: string, name: string, app: StoredApp): boolean {
  if (app.versions.some((v) => v.manifest.metadata.name.trim() === name)) return true;
  return recordOwner(key, app) === undefined;
}

/**
 * A write refused because its key holds another lattice's index or another app's record (the layout's
 * ambiguity above). The message is meant for the API client.
 */
export class ManifestKeyCollisionError extends Error {
  constructor(
    message: string,
    readonly context: { bucket: string; key: string; holds: 'index' | 'app'; op: string },
  ) {
    super(message);
    this.name = 'ManifestKeyCollisionError';
  }
}

/**
 * How a scope key reads for a user: `lattice L`, or `lattice L of account A` when `multitenant` (account
 * ids hold no `-`, so the first `-` ends the account).
 */
export function describeScopeKey(sk: string, multitenant: boolean): string {
  if (!multitenant) return `lattice ${sk}`;
  const i = sk.indexOf('-');
  return i < 0 ? `lattice ${sk}` : `lattice ${sk.slice(i + 1)} of account ${sk.slice(0, i)}`;
}

const WHY = "the manifest bucket keys an application as '{lattice}-{name}' and a lattice's index as '{lattice}', so these collide";

/** Put of app `name` into `sk` refused: its record key holds the index of the lattice whose scope key is that key. */
export function indexAtRecordKeyMessage(bucket: string, sk: string, name: string, multitenant: boolean): string {
  const key = `${sk}-${name}`;
  return (
    `Application ${name} cannot be stored in ${describeScopeKey(sk, multitenant)}: its key '${key}' in bucket ${bucket} holds the application index of ` +
    `${describeScopeKey(key, multitenant)} (${WHY}). Use another application name or another lattice`
  );
}

/** Put of app `name` into `sk` refused: its record key holds another lattice's app. */
export function foreignRecordMessage(bucket: string, sk: string, name: string, owner: RecordOwner, multitenant: boolean): string {
  return (
    `Application ${name} cannot be stored in ${describeScopeKey(sk, multitenant)}: its key '${sk}-${name}' in bucket ${bucket} holds application ` +
    `${owner.name} of ${describeScopeKey(owner.scopeKey, multitenant)} (${WHY}). Use another application name or another lattice`
  );
}

/** An app of `sk` cannot be indexed: the index key `sk` holds an app record of another lattice. */
export function recordAtIndexKeyMessage(bucket: string, sk: string, name: string, owner: RecordOwner | undefined, multitenant: boolean): string {
  const holder = owner ? `application ${owner.name} of ${describeScopeKey(owner.scopeKey, multitenant)}` : 'an application record';
  return (
    `Application ${name} cannot be stored in ${describeScopeKey(sk, multitenant)}: the lattice's index key '${sk}' in bucket ${bucket} holds ${holder} ` +
    `(${WHY}). Delete that application or use another lattice`
  );
}
