/** CloudEvents v1.0 JSON envelopes, as wadm and wasmCloud hosts publish them. */
import { randomUUID } from 'node:crypto';

/** One decoder for every payload (a decoder per call was an allocation per event / record). */
const utf8Decoder = new TextDecoder();

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

/**
 * `JSON.stringify(cloudEvent(source, type, data, now))` for `data` already encoded (`dataJson`): the same
 * bytes, in the same key order, without encoding the data again.
 */
export function cloudEventJson(source: string, type: string, dataJson: string, now: Date = new Date()): string {
  return `{"specversion":"1.0","id":${JSON.stringify(randomUUID())},"source":${JSON.stringify(source)},"type":${JSON.stringify(type)},"time":${JSON.stringify(now.toISOString())},"datacontenttype":"application/json","data":${dataJson}}`;
}

/** The `data` of a `com.wadm.rollout_reverted` event. */
export interface RolloutRevertedData {
  name: string;
  from: string;
  to: string;
  reason: string;
}

/** Parse an untrusted payload into a CloudEvent envelope, or undefined when it is not one. */
export function decodeCloudEvent(bytes: Uint8Array): CloudEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(utf8Decoder.decode(bytes));
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
