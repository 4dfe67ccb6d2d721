/**
 * Byte-exact JSON writer for what a wasmCloud host (Rust, serde_json) puts on the wire.
 *
 * - A `Map` is a Rust `BTreeMap`: its keys are written in code-point order (Rust `String` order).
 * - A plain object is a Rust struct: its keys are written in insertion order (struct declaration
 *   order); `undefined` members are omitted (`skip_serializing_if = "Option::is_none"`).
 * - With `sortAll`, every object is written key-sorted (a `serde_json::Value` built without
 *   `preserve_order`, which is how the host builds CloudEvent `data`).
 * - Output is compact, no trailing newline; strings are escaped like serde_json.
 */
export type WireValue =
  | null
  | boolean
  | number
  | string
  | readonly WireValue[]
  | ReadonlyMap<string, WireValue>
  | { readonly [key: string]: WireValue | undefined };

/** Compares two strings by Unicode code point (= UTF-8 byte order = Rust `str` order). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF, which sort after 0xE000-0xFFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function writeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`cannot encode non-finite number ${n}`);
  return String(n);
}

function write(value: WireValue | undefined, sortAll: boolean, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      out.push(writeNumber(value));
      return;
    case 'string':
      out.push(JSON.stringify(value));
      return;
    default:
      break;
  }
  if (Array.isArray(value)) {
    out.push('[');
    (value as readonly WireValue[]).forEach((v, i) => {
      if (i > 0) out.push(',');
      write(v, sortAll, out);
    });
    out.push(']');
    return;
  }
  let entries: [string, WireValue | undefined][];
  if (value instanceof Map) {
    entries = [...(value as ReadonlyMap<string, WireValue>).entries()];
    entries.sort((a, b) => compareCodePoints(a[0], b[0]));
  } else {
    entries = Object.entries(value as { readonly [key: string]: WireValue | undefined });
    if (sortAll) entries.sort((a, b) => compareCodePoints(a[0], b[0]));
  }
  out.push('{');
  let first = true;
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(k), ':');
    write(v, sortAll, out);
  }
  out.push('}');
}

/** Encodes a reply body: structs in declaration order, maps sorted. */
export function encodeWire(value: WireValue): string {
  const out: string[] = [];
  write(value, false, out);
  return out.join('');
}

/** Encodes with every object key-sorted (CloudEvent `data`). */
export function encodeSorted(value: WireValue): string {
  const out: string[] = [];
  write(value, true, out);
  return out.join('');
}
