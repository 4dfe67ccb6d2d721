/**
 * What the validation rules share: the decoded trait entries, the failure constructors, and Rust's `{:?}`
 * and serde_json `Display` formatting that wadm's messages use (docs/wire/manifest.md §2.2).
 */
import type { Component, JsonValue, Trait, TraitShape, ValidationFailure } from './types.js';

/** One trait of one component, decoded once. */
export interface TraitEntry {
  component: Component;
  trait: Trait;
  shape: TraitShape;
}

export const error = (msg: string): ValidationFailure => ({ level: 'error', msg });
export const warning = (msg: string): ValidationFailure => ({ level: 'warning', msg });

/** Rust `Debug` of a `str`: double-quoted, with `\\`, `\"` and control characters escaped. */
export function rustDebugString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\0') out += '\\0';
    else if (cp < 0x20 || cp === 0x7f) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Rust `Debug` of a `Vec<String>`: `["a", "b"]`. */
export function rustDebugList(items: readonly string[]): string {
  return `[${items.map(rustDebugString).join(', ')}]`;
}

/** serde_json `Display` of a `Value` (maps are BTreeMaps, so keys come out sorted). */
export function sortedJson(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(v[k]!)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
