/**
 * Identities: scaler ids (sha256 as in wadm's `compute_id_sha256`: the parameters' bytes concatenated,
 * lower-case hex), ownership annotations, and the identity of a command's target.
 */
import * as crypto from 'node:crypto';
import { APPSPEC_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, SCALER_KEY, SPREAD_KEY, type LinkDef } from '@wadm-ts/protocol';
import type { Command } from '../types.js';

export const DEFAULT_SPREAD_NAME = 'default';

export const SPREAD_SCALER_KIND = 'SpreadScaler';
export const DAEMON_SCALER_KIND = 'DaemonScaler';
export const LINK_SCALER_KIND = 'LinkScaler';
export type WorkloadScalerKind = typeof SPREAD_SCALER_KIND | typeof DAEMON_SCALER_KIND;
export type ScalerKind = WorkloadScalerKind | typeof LINK_SCALER_KIND;

/** One-shot hashing (Node ≥ 20.12), several times faster than a Hash object for short inputs. */
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

export function sha256Hex(parts: readonly string[]): string {
  // The digest of the parts' bytes concatenated, as successive updates would give.
  if (oneShot) return oneShot('sha256', parts.join(''), 'hex');
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p, 'utf8');
  return h.digest('hex');
}

/** Component or provider spread/daemon scaler: (kind, model, component name, id, image, config names…). */
export function workloadScalerId(
  kind: WorkloadScalerKind,
  app: string,
  componentName: string,
  entityId: string,
  image: string,
  configNames: readonly string[],
): string {
  return sha256Hex([kind, app, componentName, entityId, image, ...configNames]);
}

/** Link scaler: (LinkScaler, model, name, source, target, ns, pkg, interfaces…, source config…, target config…). */
export function linkScalerId(app: string, l: LinkDef): string {
  return sha256Hex([
    LINK_SCALER_KIND,
    app,
    l.name,
    l.source_id,
    l.target,
    l.wit_namespace,
    l.wit_package,
    ...l.interfaces,
    ...l.source_config,
    ...l.target_config,
  ]);
}

/** A status-only placeholder (wadm uses a random UUID; ours is deterministic). */
export function statusScalerId(kind: ScalerKind, app: string, name: string): string {
  return sha256Hex(['StatusScaler', kind, app, name]);
}

/** The two annotations every wadm-issued ScaleComponent/StartProvider carries. */
export function managedAnnotations(app: string): Record<string, string> {
  return { [APPSPEC_KEY]: app, [MANAGED_BY_KEY]: MANAGED_BY_VALUE };
}

/** Full annotation set of a scaler's instance (keys in sorted order, as wadm's BTreeMap). */
export function scalerAnnotations(app: string, scalerId: string, spread: string): Record<string, string> {
  return { [APPSPEC_KEY]: app, [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [SCALER_KEY]: scalerId, [SPREAD_KEY]: spread };
}

/** A link's identity on a host: a `link.put` replaces the link with the same five fields, or appends. */
export function linkIdentity(sourceId: string, ns: string, pkg: string, name: string, target: string): string {
  return `${sourceId}:${ns}:${pkg}:${name}:${target}`;
}

/** What a `link.del` names (no target): it removes the first link matching these four fields. */
export function linkNameKey(sourceId: string, ns: string, pkg: string, name: string): string {
  return `${sourceId}:${ns}:${pkg}:${name}`;
}

/**
 * Identity of what a command acts on. Commands that act on the same thing share a key (scale up and
 * scale to 0, start and stop, put and delete), so a newer decision supersedes an in-flight one.
 */
export function commandKey(c: Command): string {
  switch (c.kind) {
    case 'ScaleComponent':
    case 'UpdateComponent':
      return `component:${c.host_id}:${c.component_id}`;
    case 'StartProvider':
    case 'StopProvider':
      return `provider:${c.host_id}:${c.provider_id}`;
    case 'PutLink':
      return `link:${linkIdentity(c.source_id, c.wit_namespace, c.wit_package, c.name, c.target)}`;
    case 'DeleteLink':
      // A deletion recorded without its target (older wadm-ts) keys as the name it removes.
      return `link:${c.target === undefined ? linkNameKey(c.source_id, c.wit_namespace, c.wit_package, c.link_name) : linkIdentity(c.source_id, c.wit_namespace, c.wit_package, c.link_name, c.target)}`;
    case 'PutConfig':
    case 'DeleteConfig':
      return `config:${c.config_name}`;
  }
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** JSON with object keys sorted: a canonical form for equality and hashing. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    const o = x as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) out[k] = o[k];
    return out;
  });
}

/**
 * Equality of plain JSON data as `canonicalJson(a) === canonicalJson(b)` decides it (object key order
 * ignored, keys holding `undefined` as absent, array order kept), without building the strings.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!hasOwn(x, k) || x[k] === undefined) continue;
    n++;
    if (!hasOwn(y, k) || !sameJson(x[k], y[k])) return false;
  }
  for (const k in y) if (hasOwn(y, k) && y[k] !== undefined) n--;
  return n === 0;
}

/** The same command (same kind, same target, same arguments). */
export function sameCommand(a: Command, b: Command): boolean {
  return sameJson(a, b);
}

/** 32-bit FNV-1a of a string (UTF-16 code units): cheap, and the same in every process. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
