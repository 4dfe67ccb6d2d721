/**
 * Manifest parsing: the serde layer of wadm (wadm-manifest.md §1, §2.4; content types of wadm-api.md §2.1).
 *
 * text → YAML/JSON value → (YAML only) scalars in string-only maps read as their literal text → structural
 * check against schema/oam.schema.json (all errors, with paths and line:column) → normalised Manifest,
 * seed-era (wadm 0.x) constructs translated with warnings.
 */
import { ROLLOUT_POLICY_TYPE } from './rollout.js';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isNode, isScalar, LineCounter, parseAllDocuments, parseDocument, type Document } from 'yaml';
import {
  decodeConfig,
  decodeOptionalList,
  decodeSecret,
  decodeStringMap,
  hasKey,
  isObject,
  putKey,
  type JsonObject,
} from './decode.js';
import { manifestSchema } from './schema.js';
import { classifyTrait, LINK_TRAIT, linkToJson, traitBodyToJson } from './traits.js';
import type {
  Component,
  ComponentProperties,
  ComponentType,
  JsonValue,
  LinkProperties,
  Manifest,
  Policy,
  Trait,
  ValidationFailure,
} from './types.js';

export interface ParseOptions {
  /** The request's Content-Type header, exactly as received; absent ⇒ YAML (which also reads JSON), then JSON. */
  contentType?: string;
}

export type ParseResult = { ok: true; manifest: Manifest; warnings: ValidationFailure[] } | { ok: false; error: string };

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

type Failed = { ok: false; error: string };

function fail(error: string): Failed {
  return { ok: false, error };
}

// ---------------------------------------------------------------------------------------------------------
// Source positions

type Path = readonly (string | number)[];

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
class SourceMap {
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

interface Loaded {
  ok: true;
  value: unknown;
  /** YAML input: scalars in string-only maps become their text. JSON input: strings must be JSON strings. */
  yaml: boolean;
  src: SourceMap;
}

const MAX_REPORTED_SYNTAX_ERRORS = 10;

function loadYaml(text: string): Loaded | Failed {
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

function loadJson(text: string): Loaded | Failed {
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
// YAML scalars in maps that serde reads directly (not buffered): their literal text (wadm-manifest.md §1.7)

function scalarsAsText(root: unknown, src: SourceMap): void {
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
function rolloutValuesAsText(root: unknown): void {
  const spec = isObject(root) ? root['spec'] : undefined;
  const policies = isObject(spec) ? spec['policies'] : undefined;
  if (!Array.isArray(policies)) return;
  for (const p of policies) {
    if (!isObject(p) || p['type'] !== ROLLOUT_POLICY_TYPE || !isObject(p['properties'])) continue;
    const props = p['properties'];
    for (const [k, v] of Object.entries(props)) if (typeof v === 'number' || typeof v === 'boolean') props[k] = String(v);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Structural check (ajv) and its messages

let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true }).compile(
    manifestSchema as AnySchemaObject,
  );
  return validator;
}

/** `spec.components[1].properties`, `metadata.annotations["app.oam.io/name"]` */
function formatPath(path: Path): string {
  return path
    .map((seg, i) => {
      if (typeof seg === 'number') return `[${seg}]`;
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) return i === 0 ? seg : `.${seg}`;
      return `[${JSON.stringify(seg)}]`;
    })
    .join('');
}

/** JSON pointer → path with numeric segments for array indices. */
function pointerToPath(pointer: string, data: unknown): Path {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      path.push(seg);
      cur = isObject(cur) ? cur[seg] : undefined;
    }
  }
  return path;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a sequence';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``;
  return `${typeof v} \`${String(v)}\``;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  object: 'a map',
  array: 'a sequence',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
};

function describeType(t: unknown): string {
  const types = (Array.isArray(t) ? t : [t]).filter((x) => x !== 'null').map((x) => EXPECTED[String(x)] ?? String(x));
  return types.join(' or ');
}

const tick = (s: unknown): string => `\`${String(s)}\``;

/** Field names a map accepts (deprecated ones, such as seed-era `contract`, are not advertised). */
function acceptedFields(schema: unknown): string[] {
  const props = isObject(schema) && isObject(schema['properties']) ? schema['properties'] : {};
  return Object.entries(props)
    .filter(([, s]) => !(isObject(s) && s['deprecated'] === true))
    .map(([k]) => k);
}

function structuralError(e: ErrorObject, data: unknown, src: SourceMap): string | undefined {
  const path = pointerToPath(e.instancePath, data);
  const params = e.params as Record<string, unknown>;
  let msg: string;
  let where = src.at(path);
  switch (e.keyword) {
    case 'required':
      msg = `missing field ${tick(params['missingProperty'])}`;
      break;
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      msg = `unknown field ${tick(key)}, expected one of ${acceptedFields(e.parentSchema).map(tick).join(', ')}`;
      where = src.at(path, key);
      break;
    }
    case 'type':
      msg = `invalid type: ${describeValue(e.data)}, expected ${describeType(params['type'])}`;
      break;
    case 'enum':
      if (typeof e.data !== 'string') return undefined; // already reported as a type error
      msg = `unknown variant ${tick(e.data)}, expected one of ${(params['allowedValues'] as unknown[]).map(tick).join(', ')}`;
      break;
    default:
      msg = e.message ?? e.keyword;
  }
  const at = formatPath(path);
  return `${at ? `${at}: ` : ''}${msg}${where}`;
}

function structuralErrors(value: unknown, src: SourceMap): string[] {
  const validate = schemaValidator();
  if (validate(value)) return [];
  const msgs = (validate.errors ?? []).map((e) => structuralError(e, value, src)).filter((m): m is string => m !== undefined);
  return [...new Set(msgs)];
}

// ---------------------------------------------------------------------------------------------------------
// Normalisation (after the structural check, so the raw shapes are known to be right)

interface Normaliser {
  src: SourceMap;
  warnings: ValidationFailure[];
  errors: string[];
  /** Seed-era `contract` of each component, by component name (first wins). */
  contracts: Map<string, string>;
  componentNames: Set<string>;
  /** Links translated from seed-era linkdefs that are declared on another component (the provider). */
  extraTraits: Map<string, Trait[]>;
}

function buildManifest(loaded: Loaded): ParseResult {
  const { value, src } = loaded;
  if (loaded.yaml) scalarsAsText(value, src);
  else rolloutValuesAsText(value);
  const structural = structuralErrors(value, src);
  if (structural.length > 0) return fail(structural.join('; '));

  const root = value as JsonObject;
  const metadata = root['metadata'] as JsonObject;
  const spec = root['spec'] as JsonObject;
  const rawComponents = spec['components'] as JsonObject[];
  const n: Normaliser = {
    src,
    warnings: [],
    errors: [],
    contracts: new Map(),
    componentNames: new Set(rawComponents.map((c) => c['name'] as string)),
    extraTraits: new Map(),
  };
  for (const c of rawComponents) {
    const contract = (c['properties'] as JsonObject)['contract'];
    if (typeof contract === 'string' && !n.contracts.has(c['name'] as string)) n.contracts.set(c['name'] as string, contract);
  }

  const components = rawComponents.map((c, i) => normaliseComponent(c, i, n));
  for (const [provider, traits] of n.extraTraits) {
    const target = components.find((c) => c.name === provider)!;
    target.traits = [...(target.traits ?? []), ...traits];
  }
  if (n.errors.length > 0) return fail(n.errors.join('; '));

  const manifest: Manifest = {
    apiVersion: root['apiVersion'] as string,
    kind: root['kind'] as string,
    metadata: { name: metadata['name'] as string, annotations: decodeStringMap(metadata['annotations'])! },
    spec: { components },
  };
  const labels = hasKey(metadata, 'labels') ? decodeStringMap(metadata['labels'])! : {};
  if (Object.keys(labels).length > 0) manifest.metadata.labels = labels;
  const policies = ((spec['policies'] ?? []) as JsonObject[]).map(normalisePolicy);
  if (policies.length > 0) manifest.spec.policies = policies;
  return { ok: true, manifest, warnings: n.warnings };
}

function normalisePolicy(p: JsonObject): Policy {
  return { name: p['name'] as string, type: p['type'] as string, properties: decodeStringMap(p['properties'])! };
}

function normaliseComponent(raw: JsonObject, index: number, n: Normaliser): Component {
  const name = raw['name'] as string;
  let type = raw['type'] as ComponentType | 'actor';
  if (type === 'actor') {
    n.warnings.push({ level: 'warning', msg: `component '${name}': type 'actor' is deprecated, translated to 'component'` });
    type = 'component';
  }
  const properties = normaliseProperties(raw['properties'] as JsonObject, name, n);
  const component: Component = { name, type, properties };
  const traits = raw['traits'];
  if (Array.isArray(traits)) {
    const path = ['spec', 'components', index, 'traits'];
    component.traits = traits.flatMap((t, j) => normaliseTrait(t as JsonObject, name, [...path, j], n));
  }
  return component;
}

function normaliseProperties(p: JsonObject, component: string, n: Normaliser): ComponentProperties {
  const out: ComponentProperties = {};
  if (typeof p['image'] === 'string') out.image = p['image'];
  const app = p['application'];
  if (isObject(app)) out.application = { name: app['name'] as string, component: app['component'] as string };
  if (typeof p['id'] === 'string') out.id = p['id'];
  const config = decodeOptionalList(p, 'config', decodeConfig)!;
  if (config.length > 0) out.config = config;
  const secrets = decodeOptionalList(p, 'secrets', decodeSecret)!;
  if (secrets.length > 0) out.secrets = secrets;
  if (typeof p['contract'] === 'string') {
    n.warnings.push({
      level: 'warning',
      msg: `component '${component}': property 'contract' (${p['contract']}) is deprecated and was dropped`,
    });
  }
  return out;
}

function normaliseTrait(raw: JsonObject, component: string, path: Path, n: Normaliser): Trait[] {
  const type = raw['type'] as string;
  const body = raw['properties'] as JsonValue;
  if (type === 'linkdef' && isSeedEraLinkdef(body)) return translateLinkdef(body, component, path, n);
  const trait: Trait = { type, properties: body };
  const shape = classifyTrait(trait);
  if (shape.shape === 'scaler' && isObject(body) && hasKey(body, 'replicas')) {
    n.warnings.push({ level: 'warning', msg: `component '${component}': ${type} 'replicas' is deprecated, translated to 'instances'` });
  }
  return [{ type, properties: traitBodyToJson(trait) }];
}

// ---------------------------------------------------------------------------------------------------------
// Seed-era (wadm 0.x) linkdef translation (spec/README.md rule 4)

/** A `linkdef` body with no 1.x link fields (`namespace`/`package`) is a 0.x linkdef: `{target, values}`. */
function isSeedEraLinkdef(body: JsonValue): body is JsonObject {
  return isObject(body) && !hasKey(body, 'namespace') && !hasKey(body, 'package');
}

interface LinkTemplate {
  /** Which side declares the link (the link's source). */
  from: 'component' | 'provider';
  interfaces: string[];
  /** Whether this link carries the linkdef `values`, as config on its provider side. */
  config: boolean;
}

interface LinkdefTranslation {
  namespace: string;
  package: string;
  links: LinkTemplate[];
}

const one = (namespace: string, pkg: string, from: LinkTemplate['from'], interfaces: string[]): LinkdefTranslation => ({
  namespace,
  package: pkg,
  links: [{ from, interfaces, config: true }],
});

const LINKDEF_TRANSLATIONS: Readonly<Record<string, LinkdefTranslation>> = {
  'wasmcloud:httpserver': one('wasi', 'http', 'provider', ['incoming-handler']),
  'wasmcloud:httpclient': one('wasi', 'http', 'component', ['outgoing-handler']),
  'wasmcloud:keyvalue': one('wasi', 'keyvalue', 'component', ['atomics', 'store']),
  'wasmcloud:blobstore': one('wasi', 'blobstore', 'component', ['blobstore']),
  'wasmcloud:messaging': {
    namespace: 'wasmcloud',
    package: 'messaging',
    links: [
      { from: 'component', interfaces: ['consumer'], config: false },
      { from: 'provider', interfaces: ['handler'], config: true },
    ],
  },
};

/** The linkdef target: `target: name` (0.x) or `target: {name}`. */
function linkdefTarget(body: JsonObject): string | undefined {
  const t = body['target'];
  if (typeof t === 'string') return t;
  return isObject(t) && typeof t['name'] === 'string' ? t['name'] : undefined;
}

/** `values` as a string map; scalars become their text (`port: 8080` ⇒ "8080"). */
function linkdefValues(body: JsonObject, path: Path, src: SourceMap): Record<string, string> | undefined {
  const values = body['values'];
  if (values === undefined || values === null) return {};
  if (!isObject(values)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    let text: string | undefined;
    if (typeof v === 'string') text = v;
    else if (isObject(v) || Array.isArray(v)) text = JSON.stringify(v);
    else if (v === null) text = '';
    else text = src.scalarText([...path, 'properties', 'values', k]) ?? String(v);
    putKey(out, k, text);
  }
  return out;
}

/**
 * Replace a 0.x linkdef declared on `component` (targeting a provider) by the 1.x link(s) its contract means.
 * Returns the links declared on `component`; links declared on the provider are queued in `n.extraTraits`.
 */
function translateLinkdef(body: JsonObject, component: string, path: Path, n: Normaliser): Trait[] {
  const provider = linkdefTarget(body);
  const reject = (why: string): Trait[] => {
    const suggestion =
      `{type: link, properties: {namespace: <ns>, package: <pkg>, interfaces: [<interface>, ...], ` +
      `target: {name: ${provider ?? '<component>'}}}}`;
    n.errors.push(
      `${formatPath(path)}: the seed-era linkdef of component '${component}' cannot be translated: ${why}; ` +
        `write a \`type: ${LINK_TRAIT}\` trait instead: ${suggestion}${n.src.at(path)}`,
    );
    return [];
  };
  if (provider === undefined) return reject('it has no target');
  const contract = n.contracts.get(provider);
  if (!n.componentNames.has(provider)) return reject(`its target '${provider}' is not a component of this manifest`);
  if (contract === undefined) return reject(`its target '${provider}' has no 'contract' property`);
  const translation = Object.hasOwn(LINKDEF_TRANSLATIONS, contract) ? LINKDEF_TRANSLATIONS[contract]! : undefined;
  if (!translation) return reject(`contract '${contract}' has no known 1.x link`);
  const values = linkdefValues(body, path, n.src);
  if (!values) return reject(`its 'values' is not a map`);

  const configName = `${component}-${provider}-${contract.slice(contract.indexOf(':') + 1)}`;
  const config = Object.keys(values).length > 0 ? [{ name: configName, properties: values }] : [];
  const own: Trait[] = [];
  const described: string[] = [];
  for (const tpl of translation.links) {
    const withConfig = tpl.config && config.length > 0;
    const fromComponent = tpl.from === 'component';
    const link: LinkProperties = {
      namespace: translation.namespace,
      package: translation.package,
      interfaces: [...tpl.interfaces],
      target: { name: fromComponent ? provider : component },
    };
    // The values always configure the provider: the target of component → provider links, the source otherwise.
    if (withConfig && fromComponent) link.target.config = config;
    if (withConfig && !fromComponent) link.source = { config };
    const translated: Trait = { type: LINK_TRAIT, properties: linkToJson(link) };
    if (fromComponent) own.push(translated);
    else n.extraTraits.set(provider, [...(n.extraTraits.get(provider) ?? []), translated]);
    const [from, to] = fromComponent ? [component, provider] : [provider, component];
    const withText = withConfig ? ` with ${fromComponent ? 'target' : 'source'} config '${configName}'` : '';
    described.push(`link ${from} -> ${to} on ${link.namespace}:${link.package} [${link.interfaces.join(', ')}]${withText}`);
  }
  n.warnings.push({
    level: 'warning',
    msg: `component '${component}': seed-era linkdef to '${provider}' (${contract}) translated to ${described.join(' and ')}`,
  });
  return own;
}
