/**
 * What an app's record key in the manifest bucket holds, read from KV and told from its bytes
 * (manifest-keys.ts): nothing, the app's record, a lattice index, or another app's record — and the
 * `ManifestKeyCollisionError` a write meeting an index or another app's record is refused with.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { StorageError } from './errors.js';
import { decodeStoredApp, type StoredApp } from './stored-app.js';
import {
  ManifestKeyCollisionError,
  foreignRecordMessage,
  indexAtRecordKeyMessage,
  isIndexValue,
  recordAtIndexKeyMessage,
  recordBelongs,
  recordOwner,
  type RecordOwner,
} from './manifest-keys.js';

export interface LoadedApp {
  app: StoredApp;
  revision: number;
}

/** What an app's record key holds: nothing, the app's record, a lattice index, or another app's record. */
export type Slot =
  | { kind: 'absent' }
  | { kind: 'app'; app: StoredApp; revision: number }
  | { kind: 'index'; revision: number }
  | { kind: 'foreign'; owner: RecordOwner; revision: number };

/** The entry when it holds a value (not a delete or purge marker). */
export function live(e: KvEntry | null): KvEntry | null {
  return e && e.operation === 'PUT' ? e : null;
}

/** Read what app `name`'s record key in scope key `sk` holds. */
export async function readSlot(kv: KV, bucket: string, sk: string, name: string): Promise<Slot> {
  const key = `${sk}-${name}`;
  let e: KvEntry | null;
  try {
    e = live(await kv.get(key));
  } catch (err) {
    throw new StorageError('reading an app record failed', { bucket, key, op: 'get' }, { cause: err });
  }
  if (!e) return { kind: 'absent' };
  if (isIndexValue(e.value)) return { kind: 'index', revision: e.revision };
  let app: StoredApp;
  try {
    app = decodeStoredApp(name, e.value);
  } catch (err) {
    throw new StorageError(`decoding the app record failed: ${(err as Error).message}`, { bucket, key, op: 'decode' }, { cause: err });
  }
  if (!recordBelongs(key, name, app)) return { kind: 'foreign', owner: recordOwner(key, app)!, revision: e.revision };
  return { kind: 'app', app, revision: e.revision };
}

/** The refusal of a record write whose key holds an index or another app's record; undefined for other slots. */
export function writeCollision(bucket: string, sk: string, name: string, slot: Slot, mt: boolean): ManifestKeyCollisionError | undefined {
  const key = `${sk}-${name}`;
  if (slot.kind === 'index') {
    return new ManifestKeyCollisionError(indexAtRecordKeyMessage(bucket, sk, name, mt), { bucket, key, holds: 'index', op: 'put' });
  }
  if (slot.kind === 'foreign') {
    return new ManifestKeyCollisionError(foreignRecordMessage(bucket, sk, name, slot.owner, mt), { bucket, key, holds: 'app', op: 'put' });
  }
  return undefined;
}

/** The refusal of indexing an app of `sk` whose index key holds an app record (entry `e`). */
export function recordAtIndexKey(bucket: string, sk: string, name: string, e: KvEntry, mt: boolean): ManifestKeyCollisionError {
  let owner: RecordOwner | undefined;
  try {
    owner = recordOwner(sk, decodeStoredApp(sk, e.value));
  } catch {
    owner = undefined;
  }
  return new ManifestKeyCollisionError(recordAtIndexKeyMessage(bucket, sk, name, owner, mt), { bucket, key: sk, holds: 'app', op: 'index' });
}
