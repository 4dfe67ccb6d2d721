/**
 * Internal decoders for the shapes serde decodes strictly (ConfigProperty, SecretProperty, string maps).
 * Each returns the normalised value, or `undefined` when the input does not have the shape.
 * Shared by trait classification (traits.ts) and parse normalisation (parse.ts).
 */
import type { ConfigProperty, JsonValue, SecretProperty, SecretSourceProperty } from './types.js';

export type JsonObject = { [k: string]: JsonValue };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function hasKey(o: object, k: string): boolean {
  return Object.hasOwn(o, k);
}

/** Set an own enumerable property, even for keys such as `__proto__`. */
export function putKey<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function onlyKeys(o: object, allowed: readonly string[]): boolean {
  return Object.keys(o).every((k) => allowed.includes(k));
}

/** A non-negative safe integer (Rust `usize`). */
export function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function decodeStringMap(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') return undefined;
    putKey(out, k, x);
  }
  return out;
}

/** `undefined`/`null` ⇒ absent; a string ⇒ itself; anything else ⇒ invalid. */
function optionalString(v: unknown): { ok: true; value?: string } | { ok: false } {
  if (v === undefined || v === null) return { ok: true };
  return typeof v === 'string' ? { ok: true, value: v } : { ok: false };
}

export function decodeList<T>(v: unknown, item: (x: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: T[] = [];
  for (const x of v) {
    const d = item(x);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}

/** ConfigProperty: `name` string, optional `properties` string map (null ⇒ absent); unknown keys rejected. */
export function decodeConfig(v: unknown): ConfigProperty | undefined {
  if (!isObject(v) || !onlyKeys(v, ['name', 'properties']) || typeof v['name'] !== 'string') return undefined;
  const raw = v['properties'];
  if (raw === undefined || raw === null) return { name: v['name'] };
  const properties = decodeStringMap(raw);
  return properties ? { name: v['name'], properties } : undefined;
}

/** SecretProperty: `name` + `properties{policy, key, field?, version?}`; unknown keys ignored. */
export function decodeSecret(v: unknown): SecretProperty | undefined {
  if (!isObject(v) || typeof v['name'] !== 'string') return undefined;
  const p = v['properties'];
  if (!isObject(p) || typeof p['policy'] !== 'string' || typeof p['key'] !== 'string') return undefined;
  const field = optionalString(p['field']);
  const version = optionalString(p['version']);
  if (!field.ok || !version.ok) return undefined;
  const properties: SecretSourceProperty = { policy: p['policy'], key: p['key'] };
  if (field.value !== undefined) properties.field = field.value;
  if (version.value !== undefined) properties.version = version.value;
  return { name: v['name'], properties };
}

/** A `config`/`secrets` list that defaults to empty when absent (serde `#[serde(default)]`). */
export function decodeOptionalList<T>(o: JsonObject, key: string, item: (x: unknown) => T | undefined): T[] | undefined {
  return hasKey(o, key) ? decodeList(o[key], item) : [];
}
