/**
 * Rules R1..R5 of `validate_manifest` (docs/wire/manifest.md §2.2): the manifest's name and version, OAM
 * label and annotation keys, unique component names and ids, link targets present.
 */
import { LATEST_VERSION, VERSION_ANNOTATION, type Manifest, type ValidationFailure } from './types.js';
import { error, rustDebugList, rustDebugString, type TraitEntry } from './validate-format.js';

// R1, R2

/** Rust regex `^[-\w]+$` with Unicode `\w`. */
const MANIFEST_NAME = /^[-\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+$/u;

export function isValidManifestName(name: string): boolean {
  return MANIFEST_NAME.test(name);
}

export function checkName(m: Manifest): ValidationFailure[] {
  const name = m.metadata.name;
  return isValidManifestName(name) ? [] : [error(`manifest name [${name}] is not allowed (should match regex [^[-\\w]+$])`)];
}

export function checkVersion(m: Manifest): ValidationFailure[] {
  return m.metadata.annotations[VERSION_ANNOTATION] === LATEST_VERSION ? [error(`${LATEST_VERSION} is not allowed in wadm`)] : [];
}

// R3, R4: OAM label keys; R5: unique names and ids, link targets present

const DNS_LABEL = /^[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

function isDnsSubdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((part) => part.length <= 63 && DNS_LABEL.test(part));
}

function isLabelName(s: string): boolean {
  return s.length <= 63 && LABEL_NAME.test(s);
}

/** OAM label/annotation key rule: `[dns-subdomain/]name`. */
export function isValidOamKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return isLabelName(key);
  return isDnsSubdomain(key.slice(0, slash)) && isLabelName(key.slice(slash + 1));
}

function checkOamKeys(kind: 'label' | 'annotation', map: Record<string, string> | undefined): ValidationFailure[] {
  return Object.keys(map ?? {})
    .sort()
    .filter((k) => !isValidOamKey(k))
    .map((k) => error(`Invalid OAM ${kind}: (${rustDebugString(k)}, ${rustDebugString(map![k]!)})`));
}

export function checkCore(m: Manifest, traits: readonly TraitEntry[]): ValidationFailure[] {
  const failures = [...checkOamKeys('label', m.metadata.labels), ...checkOamKeys('annotation', m.metadata.annotations)];
  const names = new Set<string>();
  const ids = new Set<string>();
  // Per component, as wadm does: name first, then explicit id (one registry for components and capabilities).
  for (const c of m.spec.components) {
    if (names.has(c.name)) failures.push(error(`Duplicate component name in manifest: ${c.name}`));
    names.add(c.name);
    const id = c.properties.id;
    if (id === undefined) continue;
    if (ids.has(id)) failures.push(error(`Duplicate component identifier in manifest: ${id}`));
    ids.add(id);
  }
  // Targets of every link-shaped trait, whatever its type (so `linkdef` bodies that decode as links count).
  const missing = new Set<string>();
  for (const t of traits) {
    if (t.shape.shape === 'link' && !names.has(t.shape.link.target.name)) missing.add(t.shape.link.target.name);
  }
  if (missing.size > 0) {
    failures.push(error(`The following capability component(s) are missing from the manifest: ${rustDebugList([...missing])}`));
  }
  return failures;
}
