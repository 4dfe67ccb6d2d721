/**
 * The lattice events a wasmCloud 1.x host publishes on `wasmbus.evt.{lattice}.{type}`
 * (docs/wire/control-interface.md §4), decoded from untrusted CloudEvents into plain typed data. Anything that does
 * not decode is reported as `undefined` with a reason, never thrown.
 */
import type { CloudEvent } from './cloudevents.js';

export const LATTICE_EVENT_PREFIX = 'com.wasmcloud.lattice.';

export interface LinkDef {
  source_id: string;
  target: string;
  name: string;
  wit_namespace: string;
  wit_package: string;
  interfaces: string[];
  source_config: string[];
  target_config: string[];
}

export interface InventoryComponent {
  id: string;
  imageRef: string;
  maxInstances: number;
  annotations: Record<string, string>;
}

export interface InventoryProvider {
  id: string;
  imageRef: string;
  annotations: Record<string, string>;
}

export type LatticeEvent =
  | { type: 'host_started'; hostId: string; friendlyName: string; labels: Record<string, string>; version: string }
  | { type: 'host_stopped'; hostId: string; labels: Record<string, string> }
  | {
      type: 'host_heartbeat';
      hostId: string;
      friendlyName: string;
      labels: Record<string, string>;
      version: string;
      uptimeSeconds: number;
      components: InventoryComponent[];
      providers: InventoryProvider[];
    }
  | { type: 'component_scaled'; hostId: string; componentId: string; imageRef: string; maxInstances: number; annotations: Record<string, string> }
  | {
      type: 'component_scale_failed';
      hostId: string;
      componentId: string;
      imageRef: string;
      maxInstances: number;
      annotations: Record<string, string>;
      error: string;
    }
  | { type: 'provider_started'; hostId: string; providerId: string; imageRef: string; annotations: Record<string, string> }
  | { type: 'provider_start_failed'; hostId: string; providerId: string; providerRef: string; error: string }
  | { type: 'provider_stopped'; hostId: string; providerId: string; annotations: Record<string, string> }
  | { type: 'health_check_passed' | 'health_check_failed' | 'health_check_status'; hostId: string; providerId: string }
  | { type: 'linkdef_set'; link: LinkDef }
  | { type: 'linkdef_set_failed'; link: LinkDef; error: string }
  /**
   * `link.del` names no target and removes the first link matching (source, namespace, package, name);
   * `target` and `interfaces` are those of the link it removed, absent when nothing was removed (and
   * always absent from hosts older than v1.3).
   */
  | { type: 'linkdef_deleted'; sourceId: string; name: string; namespace: string; package: string; target?: string; interfaces?: string[] }
  | { type: 'config_set' | 'config_deleted'; configName: string }
  | { type: 'labels_changed'; hostId: string; labels: Record<string, string> };

export type LatticeEventType = LatticeEvent['type'];

export const LATTICE_EVENT_TYPES: readonly LatticeEventType[] = [
  'host_started',
  'host_stopped',
  'host_heartbeat',
  'component_scaled',
  'component_scale_failed',
  'provider_started',
  'provider_start_failed',
  'provider_stopped',
  'health_check_passed',
  'health_check_failed',
  'health_check_status',
  'linkdef_set',
  'linkdef_set_failed',
  'linkdef_deleted',
  'config_set',
  'config_deleted',
  'labels_changed',
];

export type Decoded = { ok: true; event: LatticeEvent } | { ok: false; reason: string };

class Invalid extends Error {}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`${what} is not an object`);
  return v as Obj;
}
function str(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new Invalid(`field ${k} is not a string`);
  return v;
}
function optStr(o: Obj, k: string, dflt = ''): string {
  const v = o[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw new Invalid(`field ${k} is not a string`);
  return v;
}
function uint(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Invalid(`field ${k} is not a non-negative integer`);
  return v;
}
function strMap(o: Obj, k: string): Record<string, string> {
  const v = o[k];
  if (v === undefined || v === null) return {};
  const m = obj(v, `field ${k}`);
  const out: Record<string, string> = {};
  for (const [key, val] of Object.entries(m)) {
    if (typeof val !== 'string') throw new Invalid(`field ${k}.${key} is not a string`);
    out[key] = val;
  }
  return out;
}
function strList(o: Obj, k: string): string[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Invalid(`field ${k} is not a list of strings`);
  return v as string[];
}
function list(o: Obj, k: string): unknown[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Invalid(`field ${k} is not a list`);
  return v;
}

function link(d: Obj): LinkDef {
  return {
    source_id: str(d, 'source_id'),
    target: str(d, 'target'),
    name: optStr(d, 'name', 'default'),
    wit_namespace: str(d, 'wit_namespace'),
    wit_package: str(d, 'wit_package'),
    interfaces: strList(d, 'interfaces'),
    source_config: strList(d, 'source_config'),
    target_config: strList(d, 'target_config'),
  };
}

/**
 * Decode a lattice CloudEvent. `hostId` is the event `source` (wadm overwrites `data.host_id` with it),
 * except for `labels_changed`, whose `host_id` comes from the ctl subject.
 */
export function decodeLatticeEvent(ev: CloudEvent): Decoded {
  if (!ev.type.startsWith(LATTICE_EVENT_PREFIX)) return { ok: false, reason: `not a lattice event type: ${ev.type}` };
  const type = ev.type.slice(LATTICE_EVENT_PREFIX.length) as LatticeEventType;
  if (!LATTICE_EVENT_TYPES.includes(type)) return { ok: false, reason: `unknown lattice event type: ${ev.type}` };
  try {
    const d = obj(ev.data, 'data');
    const source = ev.source;
    const hostId = (): string => {
      if (source) return source;
      return str(d, 'host_id');
    };
    switch (type) {
      case 'host_started':
        return { ok: true, event: { type, hostId: hostId(), friendlyName: optStr(d, 'friendly_name'), labels: strMap(d, 'labels'), version: optStr(d, 'version') } };
      case 'host_stopped':
        return { ok: true, event: { type, hostId: hostId(), labels: strMap(d, 'labels') } };
      case 'host_heartbeat':
        return {
          ok: true,
          event: {
            type,
            hostId: hostId(),
            friendlyName: optStr(d, 'friendly_name'),
            labels: strMap(d, 'labels'),
            version: optStr(d, 'version'),
            uptimeSeconds: typeof d['uptime_seconds'] === 'number' ? d['uptime_seconds'] : 0,
            components: list(d, 'components').map((c) => {
              const o = obj(c, 'component');
              return { id: str(o, 'id'), imageRef: optStr(o, 'image_ref'), maxInstances: uint(o, 'max_instances'), annotations: strMap(o, 'annotations') };
            }),
            providers: list(d, 'providers').map((p) => {
              const o = obj(p, 'provider');
              return { id: str(o, 'id'), imageRef: optStr(o, 'image_ref'), annotations: strMap(o, 'annotations') };
            }),
          },
        };
      case 'component_scaled':
        return {
          ok: true,
          event: { type, hostId: hostId(), componentId: str(d, 'component_id'), imageRef: optStr(d, 'image_ref'), maxInstances: uint(d, 'max_instances'), annotations: strMap(d, 'annotations') },
        };
      case 'component_scale_failed':
        return {
          ok: true,
          event: {
            type,
            hostId: hostId(),
            componentId: str(d, 'component_id'),
            imageRef: optStr(d, 'image_ref'),
            maxInstances: uint(d, 'max_instances'),
            annotations: strMap(d, 'annotations'),
            error: optStr(d, 'error'),
          },
        };
      case 'provider_started':
        return { ok: true, event: { type, hostId: hostId(), providerId: str(d, 'provider_id'), imageRef: optStr(d, 'image_ref'), annotations: strMap(d, 'annotations') } };
      case 'provider_start_failed':
        return { ok: true, event: { type, hostId: hostId(), providerId: str(d, 'provider_id'), providerRef: optStr(d, 'provider_ref'), error: optStr(d, 'error') } };
      case 'provider_stopped':
        return { ok: true, event: { type, hostId: hostId(), providerId: str(d, 'provider_id'), annotations: strMap(d, 'annotations') } };
      case 'health_check_passed':
      case 'health_check_failed':
      case 'health_check_status':
        return { ok: true, event: { type, hostId: hostId(), providerId: str(d, 'provider_id') } };
      case 'linkdef_set':
        return { ok: true, event: { type, link: link(d) } };
      case 'linkdef_set_failed':
        return { ok: true, event: { type, link: link(d), error: optStr(d, 'error') } };
      case 'linkdef_deleted': {
        const removed = d['target'] === undefined || d['target'] === null ? {} : { target: str(d, 'target'), interfaces: strList(d, 'interfaces') };
        return {
          ok: true,
          event: { type, sourceId: str(d, 'source_id'), name: optStr(d, 'name', 'default'), namespace: str(d, 'wit_namespace'), package: str(d, 'wit_package'), ...removed },
        };
      }
      case 'config_set':
      case 'config_deleted':
        return { ok: true, event: { type, configName: str(d, 'config_name') } };
      case 'labels_changed':
        return { ok: true, event: { type, hostId: typeof d['host_id'] === 'string' ? d['host_id'] : hostId(), labels: strMap(d, 'labels') } };
    }
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: `${type}: ${err.message}` };
    throw err;
  }
}

/**
 * Every field of a link matches (docs/wire/README.md rule 3): the identity (source, target, namespace, package, name),
 * interfaces as a set, config lists in order.
 */
export function sameLinkDef(a: LinkDef, b: LinkDef): boolean {
  const setEq = (x: string[], y: string[]): boolean => {
    const sx = [...new Set(x)].sort();
    const sy = [...new Set(y)].sort();
    return sx.length === sy.length && sx.every((v, i) => v === sy[i]);
  };
  const listEq = (x: string[], y: string[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
  return (
    a.source_id === b.source_id &&
    a.target === b.target &&
    a.name === b.name &&
    a.wit_namespace === b.wit_namespace &&
    a.wit_package === b.wit_package &&
    setEq(a.interfaces, b.interfaces) &&
    listEq(a.source_config, b.source_config) &&
    listEq(a.target_config, b.target_config)
  );
}
