/** CloudEvents v1.0 JSON envelopes, as wadm and wasmCloud hosts publish them. */
import { randomUUID } from 'node:crypto';

export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  datacontenttype: 'application/json';
  data: T;
}

export function cloudEvent<T>(source: string, type: string, data: T, now: Date = new Date()): CloudEvent<T> {
  return { specversion: '1.0', id: randomUUID(), source, type, time: now.toISOString(), datacontenttype: 'application/json', data };
}

export const MANIFEST_PUBLISHED = 'com.wadm.manifest_published';
export const MANIFEST_UNPUBLISHED = 'com.wadm.manifest_unpublished';

/** New in wadm-ts: an owner deployed the previous version again because the new one missed its healthy deadline. */
export const ROLLOUT_REVERTED = 'com.wadm.rollout_reverted';

/** The `data` of a `com.wadm.rollout_reverted` event. */
export interface RolloutRevertedData {
  name: string;
  from: string;
  to: string;
  reason: string;
}

/**
 * `wadm.evt.{lattice}.{manifest_published|manifest_unpublished|rollout_reverted}`; with an account,
 * `{account}.wadm.evt.…` (as statuses are announced in multitenant mode).
 */
export function wadmEventSubject(lattice: string, kind: 'manifest_published' | 'manifest_unpublished' | 'rollout_reverted', account?: string): string {
  return `${account ? `${account}.` : ''}wadm.evt.${lattice}.${kind}`;
}

/**
 * `wadm.status.{lattice}.{name}`; in multitenant mode `{account}.wadm.status.{lattice}.{name}` (a
 * departure from the Rust wadm, which drops the account there, so tenants with the same lattice id and
 * app name would share one status).
 */
export function statusSubject(lattice: string, name: string, account?: string): string {
  return `${account ? `${account}.` : ''}wadm.status.${lattice}.${name}`;
}

/** Parse an untrusted payload into a CloudEvent envelope, or undefined when it is not one. */
export function decodeCloudEvent(bytes: Uint8Array): CloudEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o['type'] !== 'string' || typeof o['id'] !== 'string') return undefined;
  return {
    specversion: '1.0',
    id: o['id'],
    source: typeof o['source'] === 'string' ? o['source'] : '',
    type: o['type'],
    time: typeof o['time'] === 'string' ? o['time'] : '',
    datacontenttype: 'application/json',
    data: o['data'],
  };
}
