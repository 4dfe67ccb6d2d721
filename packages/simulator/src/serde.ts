/**
 * Request-body decoding with serde semantics: required fields must be present, `#[serde(default)]`
 * fields may be omitted (but not `null`), `Option` fields may be omitted or `null`, unknown fields are
 * ignored, types are checked. Any failure is a {@link DecodeError}; the host then replies with the
 * handler's context message only (never the serde detail).
 */
export class DecodeError extends Error {}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses a request payload as JSON (UTF-8 strictly, like `serde_json::from_slice`). */
export function parseJson(payload: Uint8Array): unknown {
  let text: string;
  try {
    text = decoder.decode(payload);
  } catch {
    throw new DecodeError('invalid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new DecodeError(e instanceof Error ? e.message : 'invalid JSON');
  }
}

export type JsonObject = { readonly [key: string]: unknown };

export function asObject(v: unknown): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DecodeError('expected a JSON object');
  return v as JsonObject;
}

function has(o: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

function str(v: unknown, key: string): string {
  if (typeof v !== 'string') throw new DecodeError(`${key}: expected a string`);
  return v;
}

/** A `String` field without default. */
export function reqString(o: JsonObject, key: string): string {
  if (!has(o, key)) throw new DecodeError(`missing field \`${key}\``);
  return str(o[key], key);
}

/** A `#[serde(default)] String` field. */
export function dfltString(o: JsonObject, key: string, dflt = ''): string {
  return has(o, key) ? str(o[key], key) : dflt;
}

/** A `#[serde(default)] bool` field. */
export function dfltBool(o: JsonObject, key: string): boolean {
  if (!has(o, key)) return false;
  const v = o[key];
  if (typeof v !== 'boolean') throw new DecodeError(`${key}: expected a boolean`);
  return v;
}

function unsigned(v: unknown, key: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new DecodeError(`${key}: expected an unsigned integer`);
  }
  return v;
}

/** A `#[serde(default)] u32` field. */
export function dfltU32(o: JsonObject, key: string): number {
  return has(o, key) ? unsigned(o[key], key, 0xffff_ffff) : 0;
}

/** An `Option<u64>` field. */
export function optU64(o: JsonObject, key: string): number | undefined {
  if (!has(o, key) || o[key] === null) return undefined;
  return unsigned(o[key], key, Number.MAX_SAFE_INTEGER);
}

/** Decodes a JSON object of string values into a map (`HashMap<String, String>` / `BTreeMap`). */
export function toStringMap(v: unknown, key: string): Map<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DecodeError(`${key}: expected a map`);
  const out = new Map<string, string>();
  for (const [k, val] of Object.entries(v as JsonObject)) out.set(k, str(val, `${key}.${k}`));
  return out;
}

/** A required map field. */
export function reqStringMap(o: JsonObject, key: string): Map<string, string> {
  if (!has(o, key)) throw new DecodeError(`missing field \`${key}\``);
  return toStringMap(o[key], key);
}

/** An `Option<map>` field. */
export function optStringMap(o: JsonObject, key: string): Map<string, string> | undefined {
  if (!has(o, key) || o[key] === null) return undefined;
  return toStringMap(o[key], key);
}

function strArray(v: unknown, key: string): string[] {
  if (!Array.isArray(v)) throw new DecodeError(`${key}: expected a sequence`);
  return v.map((x, i) => str(x, `${key}[${i}]`));
}

/** A required `Vec<String>` field. */
export function reqStringArray(o: JsonObject, key: string): string[] {
  if (!has(o, key)) throw new DecodeError(`missing field \`${key}\``);
  return strArray(o[key], key);
}

/** A `#[serde(default)] Vec<String>` field. */
export function dfltStringArray(o: JsonObject, key: string): string[] {
  return has(o, key) ? strArray(o[key], key) : [];
}

/** True when the key is present (for alias / duplicate-field checks). */
export function present(o: JsonObject, key: string): boolean {
  return has(o, key);
}
