/**
 * Trait body decoding, in wadm's order (docs/wire/manifest.md §1.6): link shape, then scaler shape, then custom.
 * A body that fails a shape never fails parsing; it becomes custom and validation judges it.
 */
import {
  decodeConfig,
  decodeList,
  decodeOptionalList,
  decodeSecret,
  decodeStringMap,
  hasKey,
  isObject,
  isUint,
  onlyKeys,
  putKey,
  type JsonObject,
} from './decode.js';
import type {
  ConfigProperty,
  JsonValue,
  LinkProperties,
  LinkSource,
  LinkTarget,
  ScalerProperties,
  SecretProperty,
  Spread,
  Trait,
  TraitShape,
} from './types.js';

export const LINK_TRAIT = 'link';
export const SPREADSCALER_TRAIT = 'spreadscaler';
export const DAEMONSCALER_TRAIT = 'daemonscaler';
export const DEFAULT_LINK_NAME = 'default';
export const DEFAULT_SPREAD_WEIGHT = 100;

export function isScalerType(type: string): boolean {
  return type === SPREADSCALER_TRAIT || type === DAEMONSCALER_TRAIT;
}

export function classifyTrait(t: Trait): TraitShape {
  const link = decodeLink(t.properties);
  if (link) return { shape: 'link', link };
  const scaler = decodeScaler(t.properties);
  if (scaler) return { shape: 'scaler', scaler };
  return { shape: 'custom', body: t.properties };
}

export function linkName(l: LinkProperties): string {
  return l.name ?? DEFAULT_LINK_NAME;
}

// ---------------------------------------------------------------------------------------------------------
// Link shape

/** Config/secret lists, omitting empty ones (the normalised form never holds `[]` there). */
function withLists<T extends object>(base: T, config: ConfigProperty[], secrets: SecretProperty[]): T & LinkSource {
  const out: T & LinkSource = { ...base };
  if (config.length > 0) out.config = config;
  if (secrets.length > 0) out.secrets = secrets;
  return out;
}

function decodeConfigDefinition(v: unknown): LinkSource | undefined {
  if (!isObject(v)) return undefined;
  const config = decodeOptionalList(v, 'config', decodeConfig);
  const secrets = decodeOptionalList(v, 'secrets', decodeSecret);
  return config && secrets ? withLists({}, config, secrets) : undefined;
}

function decodeTarget(body: JsonObject): LinkTarget | undefined {
  if (!hasKey(body, 'target')) return { name: '' };
  const t = body['target'];
  if (typeof t === 'string') {
    // Legacy string form: `target_config` applies only here.
    const config = decodeOptionalList(body, 'target_config', decodeConfig);
    return config ? withLists({ name: t }, config, []) : undefined;
  }
  if (!isObject(t) || typeof t['name'] !== 'string') return undefined;
  const def = decodeConfigDefinition(t);
  return def ? { name: t['name'], ...def } : undefined;
}

/** Legacy `source_config` becomes `source.config`; a `source` block, when present, takes priority (both must decode). */
function decodeSource(body: JsonObject): { ok: boolean; source?: LinkSource } {
  let source: LinkSource | undefined;
  if (hasKey(body, 'source_config')) {
    const config = decodeList(body['source_config'], decodeConfig);
    if (!config) return { ok: false };
    source = withLists({}, config, []);
  }
  if (hasKey(body, 'source')) {
    source = decodeConfigDefinition(body['source']);
    if (!source) return { ok: false };
  }
  return source ? { ok: true, source } : { ok: true };
}

function decodeLink(v: JsonValue): LinkProperties | undefined {
  if (!isObject(v)) return undefined;
  const { namespace, package: pkg, interfaces, name } = v;
  if (typeof namespace !== 'string' || typeof pkg !== 'string') return undefined;
  if (!Array.isArray(interfaces) || !interfaces.every((i): i is string => typeof i === 'string')) return undefined;
  if (name !== undefined && typeof name !== 'string') return undefined;
  const target = decodeTarget(v);
  const source = decodeSource(v);
  if (!target || !source.ok) return undefined;
  const link: LinkProperties = { namespace, package: pkg, interfaces: [...interfaces], target };
  if (source.source) link.source = source.source;
  if (name !== undefined) link.name = name;
  return link;
}

// ---------------------------------------------------------------------------------------------------------
// Scaler shape

function decodeSpread(v: unknown): Spread | undefined {
  if (!isObject(v) || !onlyKeys(v, ['name', 'requirements', 'weight']) || typeof v['name'] !== 'string') return undefined;
  const requirements = decodeStringMap(v['requirements']);
  if (!requirements) return undefined;
  const weight = v['weight'];
  if (weight === undefined || weight === null) return { name: v['name'], requirements };
  return isUint(weight) ? { name: v['name'], requirements, weight } : undefined;
}

function decodeScaler(v: JsonValue): ScalerProperties | undefined {
  if (!isObject(v) || !onlyKeys(v, ['instances', 'replicas', 'spread'])) return undefined;
  // `replicas` is an alias of `instances`; giving both is a duplicate field.
  if (hasKey(v, 'instances') === hasKey(v, 'replicas')) return undefined;
  const instances = hasKey(v, 'instances') ? v['instances'] : v['replicas'];
  if (!isUint(instances)) return undefined;
  const spread = decodeOptionalList(v, 'spread', decodeSpread);
  if (!spread) return undefined;
  return spread.length > 0 ? { instances, spread } : { instances };
}

// ---------------------------------------------------------------------------------------------------------
// Canonical JSON (docs/wire/manifest.md §1.8 key order and omissions)

/** A copy of a string map with keys sorted (Rust BTreeMap order). */
export function sortedMap(m: Record<string, string>): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(m).sort()) putKey(out, k, m[k]!);
  return out;
}

function stringMap(m: Record<string, string>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(m)) putKey(out, k, v);
  return out;
}

export function configToJson(c: ConfigProperty): JsonObject {
  return c.properties ? { name: c.name, properties: stringMap(c.properties) } : { name: c.name };
}

export function secretToJson(s: SecretProperty): JsonObject {
  const p: JsonObject = { policy: s.properties.policy, key: s.properties.key };
  if (s.properties.field !== undefined) p['field'] = s.properties.field;
  if (s.properties.version !== undefined) p['version'] = s.properties.version;
  return { name: s.name, properties: p };
}

/** Appends non-empty `config` / `secrets` lists. */
function listsToJson(out: JsonObject, l: LinkSource): JsonObject {
  if (l.config && l.config.length > 0) out['config'] = l.config.map(configToJson);
  if (l.secrets && l.secrets.length > 0) out['secrets'] = l.secrets.map(secretToJson);
  return out;
}

export function linkToJson(l: LinkProperties): JsonObject {
  const out: JsonObject = { namespace: l.namespace, package: l.package, interfaces: [...l.interfaces] };
  if (l.source) out['source'] = listsToJson({}, l.source);
  out['target'] = listsToJson({ name: l.target.name }, l.target);
  if (l.name !== undefined) out['name'] = l.name;
  return out;
}

/** Spread `requirements` is always written (even `{}`), so the output re-parses (wadm omits it: a round-trip bug). */
export function scalerToJson(s: ScalerProperties): JsonObject {
  const out: JsonObject = { instances: s.instances };
  if (s.spread && s.spread.length > 0) {
    out['spread'] = s.spread.map((sp) => {
      const o: JsonObject = { name: sp.name, requirements: sortedMap(sp.requirements) };
      if (sp.weight !== undefined) o['weight'] = sp.weight;
      return o;
    });
  }
  return out;
}

/** The canonical body of a trait: normalised link / scaler, or the custom body as parsed. */
export function traitBodyToJson(t: Trait): JsonValue {
  const s = classifyTrait(t);
  if (s.shape === 'link') return linkToJson(s.link);
  if (s.shape === 'scaler') return scalerToJson(s.scaler);
  return s.body;
}
