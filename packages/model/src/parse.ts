/**
 * Manifest parsing: the serde layer of wadm (docs/wire/manifest.md §1, §2.4; content types of docs/wire/api.md §2.1).
 *
 * text → YAML/JSON value → (YAML only) scalars in string-only maps read as their literal text → structural
 * check against schema/oam.schema.json (all errors, with paths and line:column) → normalised Manifest,
 * seed-era (wadm 0.x) constructs translated with warnings.
 */
import { fail, loadJson, loadYaml, type Failed, type Loaded } from './load.js';
import { buildManifest, type ParseResult } from './normalise.js';


export interface ParseOptions {
  /** The request's Content-Type header, exactly as received; absent ⇒ YAML (which also reads JSON), then JSON. */
  contentType?: string;
}

export type { ParseResult } from './normalise.js';

export const JSON_CONTENT_TYPE = 'application/json';
export const YAML_CONTENT_TYPE = 'application/yaml';

export function parseManifest(text: string | Uint8Array, opts: ParseOptions = {}): ParseResult {
  let src: string;
  try {
    src = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    return fail('manifest is not valid UTF-8');
  }
  if (src.startsWith('\uFEFF')) src = src.slice(1);
  const ct = opts.contentType;
  let loaded: Loaded | Failed;
  if (ct === undefined) {
    loaded = loadYaml(src);
    if (!loaded.ok) {
      const asJson = loadJson(src);
      loaded = asJson.ok ? asJson : fail(`${loaded.error}; as JSON: ${asJson.error}`);
    }
  } else if (ct === JSON_CONTENT_TYPE) {
    loaded = loadJson(src);
  } else if (ct === YAML_CONTENT_TYPE) {
    loaded = loadYaml(src);
  } else {
    return fail(`Unsupported content type ${ct} given. Wadm supports YAML and JSON`);
  }
  if (!loaded.ok) return loaded;
  try {
    return buildManifest(loaded);
  } catch (e) {
    // A mismatch between the schema and the normaliser is a bug; report it rather than crash the caller.
    return fail(`internal error while reading the manifest: ${e instanceof Error ? e.message : String(e)}`);
  }
}
