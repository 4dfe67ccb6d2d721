/**
 * The control interface as wadm reads it (docs/wire/control-interface.md §1–§3): the reply envelope and
 * the query answers wadm merges into lattice state (host inventory, links, config values). Its subjects: names/subjects.ts.
 */
import { createHash } from 'node:crypto';
import { decodeLatticeEvent, LATTICE_EVENT_PREFIX, type LatticeEvent, type LinkDef } from './lattice-events.js';

/** What `component.update.{host_id}` takes: replace a running component's image in place. */
export interface UpdateComponentRequest {
  component_id: string;
  /** Annotations of the new instance (the host keeps none of the old ones; absent: an empty map). */
  annotations?: Record<string, string>;
  host_id: string;
  new_component_ref: string;
}

/** The `UpdateComponentCommand` body, fields in the host's struct order: component_id, annotations, host_id, new_component_ref. */
export function updateComponentBody(r: UpdateComponentRequest): string {
  return JSON.stringify({
    component_id: r.component_id,
    ...(r.annotations !== undefined ? { annotations: r.annotations } : {}),
    host_id: r.host_id,
    new_component_ref: r.new_component_ref,
  });
}

export interface CtlReply {
  success: boolean;
  message: string;
  /** Absent when the host sent none. */
  response?: unknown;
}

/** Decode a `CtlResponse<T>` body; throws on anything else. */
export function decodeCtlReply(body: string): CtlReply {
  const v: unknown = JSON.parse(body);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('control reply is not a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o['success'] !== 'boolean') throw new Error('control reply has no boolean `success`');
  return { success: o['success'], message: typeof o['message'] === 'string' ? o['message'] : '', ...('response' in o ? { response: o['response'] } : {}) };
}

export type HeartbeatLike = Extract<LatticeEvent, { type: 'host_heartbeat' }>;

/**
 * A `host.get` inventory (§3.2) read as the heartbeat it is equivalent to (the same fields: a full
 * snapshot of what the host runs), so it is merged into state exactly as a heartbeat is.
 */
export function inventoryAsHeartbeat(response: unknown, hostId: string): HeartbeatLike {
  const d = typeof response === 'object' && response !== null && !Array.isArray(response) ? { ...(response as Record<string, unknown>) } : undefined;
  if (!d) throw new Error('host inventory is not a JSON object');
  if (d['components'] === undefined && Array.isArray(d['actors'])) d['components'] = d['actors'];
  const r = decodeLatticeEvent({ specversion: '1.0', id: 'inventory', source: hostId, type: `${LATTICE_EVENT_PREFIX}host_heartbeat`, time: '', datacontenttype: 'application/json', data: d });
  if (!r.ok) throw new Error(`host inventory: ${r.reason}`);
  return r.event as HeartbeatLike;
}

/** A `link.get` answer (§3.9): every link the answering host knows. */
export function decodeLinkList(response: unknown): LinkDef[] {
  if (response === undefined) return [];
  if (!Array.isArray(response)) throw new Error('link list is not a JSON array');
  return response.map((l, i) => {
    const r = decodeLatticeEvent({ specversion: '1.0', id: 'links', source: 'query', type: `${LATTICE_EVENT_PREFIX}linkdef_set`, time: '', datacontenttype: 'application/json', data: l });
    if (!r.ok || r.event.type !== 'linkdef_set') throw new Error(`link ${i}: ${r.ok ? 'not a link' : r.reason}`);
    return r.event.link;
  });
}

/** A `config.get` answer (§3.10): the values, or undefined when the config does not exist. */
export function decodeConfigValues(reply: CtlReply): Record<string, string> | undefined {
  if (!reply.success) throw new Error(reply.message || 'config.get failed');
  if (reply.response === undefined || reply.response === null) return undefined;
  const v = reply.response;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error('config values are not a JSON object');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw new Error(`config value ${k} is not a string`);
    out[k] = x;
  }
  return out;
}

/** Digest of a config's values, independent of key order (what wadm compares to find drift). */
export function configDigest(values: Readonly<Record<string, string>>): string {
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(values).sort()) sorted[k] = values[k]!;
  return createHash('sha256').update(JSON.stringify(sorted), 'utf8').digest('hex');
}
