/**
 * Canonical JSON of a stored manifest (docs/wire/manifest.md §1.8): key order
 * `apiVersion, kind, metadata{name, annotations, labels}, spec{components, policies}`, component
 * `name, type, properties, traits`; empty/absent optional parts omitted, except what parsing requires
 * (`annotations`, spread `requirements`), so that the output always re-parses. Maps that are BTreeMaps in
 * wadm (annotations, labels, policy properties, spread requirements) are written with sorted keys.
 */
import type { JsonObject } from './decode.js';
import { configToJson, secretToJson, sortedMap, traitBodyToJson } from './traits.js';
import type { Component, JsonValue, Manifest, Policy } from './types.js';

function nonEmpty(m: Record<string, string> | undefined): m is Record<string, string> {
  return m !== undefined && Object.keys(m).length > 0;
}

function componentToJson(c: Component): JsonObject {
  const p = c.properties;
  const props: JsonObject = {};
  if (p.image !== undefined) props['image'] = p.image;
  if (p.application !== undefined) props['application'] = { name: p.application.name, component: p.application.component };
  if (p.id !== undefined) props['id'] = p.id;
  if (p.config && p.config.length > 0) props['config'] = p.config.map(configToJson);
  if (p.secrets && p.secrets.length > 0) props['secrets'] = p.secrets.map(secretToJson);
  const out: JsonObject = { name: c.name, type: c.type, properties: props };
  if (c.traits !== undefined) out['traits'] = c.traits.map((t) => ({ type: t.type, properties: traitBodyToJson(t) }));
  return out;
}

function policyToJson(p: Policy): JsonObject {
  return { name: p.name, type: p.type, properties: sortedMap(p.properties) };
}

/** The manifest as a plain JSON object in canonical key order. */
export function manifestToJson(m: Manifest): { [k: string]: JsonValue } {
  // `annotations` is always written (wadm omits it when empty, which then no longer re-parses).
  const metadata: JsonObject = { name: m.metadata.name, annotations: sortedMap(m.metadata.annotations) };
  if (nonEmpty(m.metadata.labels)) metadata['labels'] = sortedMap(m.metadata.labels);
  const spec: JsonObject = { components: m.spec.components.map(componentToJson) };
  if (m.spec.policies && m.spec.policies.length > 0) spec['policies'] = m.spec.policies.map(policyToJson);
  return { apiVersion: m.apiVersion, kind: m.kind, metadata, spec };
}

/** Compact JSON text of `manifestToJson(m)`. */
export function serializeManifest(m: Manifest): string {
  return JSON.stringify(manifestToJson(m));
}
