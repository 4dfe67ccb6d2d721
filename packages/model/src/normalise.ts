/** A structurally valid manifest value → the normalised Manifest (defaults, aliases, deprecations as warnings). */
import { decodeConfig, decodeOptionalList, decodeSecret, decodeStringMap, hasKey, isObject, type JsonObject } from './decode.js';
import { classifyTrait, traitBodyToJson } from './traits.js';
import type { Component, ComponentProperties, ComponentType, JsonValue, Manifest, Policy, Trait, ValidationFailure } from './types.js';
import { fail, type Loaded, type Path, SourceMap, rolloutValuesAsText, scalarsAsText } from './load.js';
import { structuralErrors } from './schema-errors.js';
import { isSeedEraLinkdef, translateLinkdef } from './seed-era.js';


export type ParseResult = { ok: true; manifest: Manifest; warnings: ValidationFailure[] } | { ok: false; error: string };

export interface Normaliser {
  src: SourceMap;
  warnings: ValidationFailure[];
  errors: string[];
  /** Seed-era `contract` of each component, by component name (first wins). */
  contracts: Map<string, string>;
  componentNames: Set<string>;
  /** Links translated from seed-era linkdefs that are declared on another component (the provider). */
  extraTraits: Map<string, Trait[]>;
}

export function buildManifest(loaded: Loaded): ParseResult {
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

