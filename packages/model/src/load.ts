/** Loading a manifest's text: YAML or JSON into a plain value with a source map for line:column in errors. */
import { isMap, isNode, isScalar, LineCounter, parseAllDocuments, parseDocument, type Document } from 'yaml';
import { isObject, type JsonObject } from './decode.js';
import { ROLLOUT_POLICY_TYPE } from './rollout.js';

export type Failed = { ok: false; error: string };

export function fail(error: string): Failed {
  return { ok: false, error };
}

// ---------------------------------------------------------------------------------------------------------
// Source positions

export type Path = readonly (string | number)[];

/** ` at line L, column C` (1-based) of an offset. */
function lineCol(lc: LineCounter, offset: number): string {
  const { line, col } = lc.linePos(offset);
  return ` at line ${line}, column ${col}`;
}

function countLines(text: string): LineCounter {
  const lc = new LineCounter();
  lc.addNewLine(0);
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lc.addNewLine(i + 1);
  return lc;
}

/** Node positions of the parsed text (YAML, or JSON read as YAML), when available. */
export class SourceMap {
  constructor(
    private readonly doc: Document.Parsed | undefined,
    private readonly lc: LineCounter,
  ) {}

  private node(path: Path): unknown {
    return this.doc?.getIn(path, true);
  }

  /** ` at line L, column C` of the node at `path` (or of its key `key`), or '' when unknown. */
  at(path: Path, key?: string): string {
    let node = this.node(path);
    if (key !== undefined && isMap(node)) {
      node = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key)?.key ?? node;
    }
    return isNode(node) && node.range ? lineCol(this.lc, node.range[0]) : '';
  }

  /** The literal text of a scalar (`1.10` stays "1.10"), as serde_yaml reads it into a String. */
  scalarText(path: Path): string | undefined {
    const node = this.node(path);
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  }
}

export interface Loaded {
  ok: true;
  value: unknown;
  /** YAML input: scalars in string-only maps become their text. JSON input: strings must be JSON strings. */
  yaml: boolean;
  src: SourceMap;
}

const MAX_REPORTED_SYNTAX_ERRORS = 10;

export function loadYaml(text: string): Loaded | Failed {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (docs.length === 0) return fail('the manifest is empty (EOF while parsing a value)');
  if (docs.length > 1) {
    const second = docs[1]!.range[0];
    return fail(`deserializing from YAML containing more than one document is not supported (second document${lineCol(lc, second)})`);
  }
  const doc = docs[0]!;
  if (doc.errors.length > 0) {
    const shown = doc.errors.slice(0, MAX_REPORTED_SYNTAX_ERRORS).map((e) => `${e.message}${lineCol(lc, e.pos[0])}`);
    const more = doc.errors.length - shown.length;
    return fail(shown.join('; ') + (more > 0 ? `; and ${more} more` : ''));
  }
  if (doc.contents === null) return fail('the manifest is empty (EOF while parsing a value)');
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }), yaml: true, src: new SourceMap(doc, lc) };
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}

export function loadJson(text: string): Loaded | Failed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return fail(msg.replace(/ at position (\d+)/, (_m, pos: string) => lineCol(countLines(text), Number(pos))));
  }
  // Positions only: JSON text is YAML, so the YAML parser gives node ranges for error messages.
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  return { ok: true, value, yaml: false, src: new SourceMap(doc.errors.length === 0 ? doc : undefined, lc) };
}

// ---------------------------------------------------------------------------------------------------------
// YAML scalars in maps that serde reads directly (not buffered): their literal text (docs/wire/manifest.md §1.7)

export function scalarsAsText(root: unknown, src: SourceMap): void {
  if (!isObject(root)) return;
  const fix = (o: JsonObject, key: string, path: Path): void => {
    const v = o[key];
    if (v === undefined || typeof v === 'string' || isObject(v) || Array.isArray(v)) return;
    o[key] = src.scalarText(path) ?? (v === null ? '' : String(v));
  };
  const fixMap = (o: JsonObject, key: string, path: Path): void => {
    if (o[key] === null) o[key] = {}; // `annotations:` with no value reads as an empty map
    const m = o[key];
    if (isObject(m)) for (const k of Object.keys(m)) fix(m, k, [...path, k]);
  };
  fix(root, 'apiVersion', ['apiVersion']);
  fix(root, 'kind', ['kind']);
  const md = root['metadata'];
  if (isObject(md)) {
    fix(md, 'name', ['metadata', 'name']);
    fixMap(md, 'annotations', ['metadata', 'annotations']);
    fixMap(md, 'labels', ['metadata', 'labels']);
  }
  const spec = root['spec'];
  const policies = isObject(spec) ? spec['policies'] : undefined;
  if (!Array.isArray(policies)) return;
  policies.forEach((p, i) => {
    if (!isObject(p)) return;
    fix(p, 'name', ['spec', 'policies', i, 'name']);
    fix(p, 'type', ['spec', 'policies', i, 'type']);
    fixMap(p, 'properties', ['spec', 'policies', i, 'properties']);
  });
}

/**
 * JSON bodies: the rollout policy is wadm-ts's own, so its numbers and booleans (`"maxUnavailable": 1`) are
 * taken as their text, as YAML's are; every other policy keeps the Rust wadm's string-only map.
 */
export function rolloutValuesAsText(root: unknown): void {
  const spec = isObject(root) ? root['spec'] : undefined;
  const policies = isObject(spec) ? spec['policies'] : undefined;
  if (!Array.isArray(policies)) return;
  for (const p of policies) {
    if (!isObject(p) || p['type'] !== ROLLOUT_POLICY_TYPE || !isObject(p['properties'])) continue;
    const props = p['properties'];
    for (const [k, v] of Object.entries(props)) if (typeof v === 'number' || typeof v === 'boolean') props[k] = String(v);
  }
}

