/**
 * `validate_manifest` of wadm (docs/wire/manifest.md §2.2): rules R1..R12 in wadm's evaluation order, every
 * failure reported (the put handler rejects with the first error). Messages are wadm's, verbatim.
 */
import { checkRolloutPolicies } from './rollout.js';
import { classifyTrait, isScalerType, LINK_TRAIT, linkName, linkToJson, scalerToJson } from './traits.js';
import {
  LATEST_VERSION,
  SECRET_POLICY_TYPE,
  VERSION_ANNOTATION,
  type Component,
  type JsonValue,
  type LinkProperties,
  type Manifest,
  type SecretProperty,
  type Trait,
  type TraitShape,
  type ValidationFailure,
} from './types.js';

/** One trait of one component, decoded once. */
interface TraitEntry {
  component: Component;
  trait: Trait;
  shape: TraitShape;
}

const error = (msg: string): ValidationFailure => ({ level: 'error', msg });
const warning = (msg: string): ValidationFailure => ({ level: 'warning', msg });

export function hasErrors(failures: readonly ValidationFailure[]): boolean {
  return failures.some((f) => f.level === 'error');
}

/** The failure the put handler replies with (its `msg`, verbatim), if any. */
export function firstError(failures: readonly ValidationFailure[]): ValidationFailure | undefined {
  return failures.find((f) => f.level === 'error');
}

export function validateManifest(m: Manifest): ValidationFailure[] {
  const traits: TraitEntry[] = m.spec.components.flatMap((component) =>
    (component.traits ?? []).map((trait) => ({ component, trait, shape: classifyTrait(trait) })),
  );
  return [
    ...checkName(m),
    ...checkVersion(m),
    ...checkCore(m, traits),
    ...checkKnownInterfaces(traits),
    ...checkLinkTargets(m, traits),
    ...checkSecretPolicies(m, traits),
    ...checkTraitShapes(traits),
    ...m.spec.components.flatMap(checkComponentSource),
    ...checkDuplicateLinks(traits),
    ...checkLinkConfigNames(traits),
    ...checkRolloutPolicies(m),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Rust `{:?}` formatting

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
function sortedJson(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(v[k]!)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------------------
// R1, R2

/** Rust regex `^[-\w]+$` with Unicode `\w`. */
const MANIFEST_NAME = /^[-\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+$/u;

export function isValidManifestName(name: string): boolean {
  return MANIFEST_NAME.test(name);
}

function checkName(m: Manifest): ValidationFailure[] {
  const name = m.metadata.name;
  return isValidManifestName(name) ? [] : [error(`manifest name [${name}] is not allowed (should match regex [^[-\\w]+$])`)];
}

function checkVersion(m: Manifest): ValidationFailure[] {
  return m.metadata.annotations[VERSION_ANNOTATION] === LATEST_VERSION ? [error(`${LATEST_VERSION} is not allowed in wadm`)] : [];
}

// ---------------------------------------------------------------------------------------------------------
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

function checkCore(m: Manifest, traits: readonly TraitEntry[]): ValidationFailure[] {
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

// ---------------------------------------------------------------------------------------------------------
// R6: known interfaces (warnings)

const KNOWN_INTERFACES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  wasi: {
    blobstore: ['blobstore'],
    config: ['runtime'],
    keyvalue: ['atomics', 'store', 'batch', 'watch'],
    http: ['incoming-handler', 'outgoing-handler'],
    logging: ['logging'],
  },
  wrpc: {
    blobstore: ['blobstore'],
    keyvalue: ['atomics', 'store'],
    http: ['incoming-handler', 'outgoing-handler'],
  },
  wasmcloud: {
    messaging: ['consumer', 'handler'],
  },
};

/** Whether a (namespace, package, interface) is a typo of a known one: known namespace, unknown package or interface. */
export function isUnrecognizedInterface(namespace: string, pkg: string, iface: string): boolean {
  const packages = Object.hasOwn(KNOWN_INTERFACES, namespace) ? KNOWN_INTERFACES[namespace]! : undefined;
  if (!packages) return false;
  const ifaces = Object.hasOwn(packages, pkg) ? packages[pkg]! : undefined;
  return !ifaces || !ifaces.includes(iface);
}

/** Traits of type `link` whose body decoded as a link ("links" in R6, R11, R12). */
function typedLinks(traits: readonly TraitEntry[]): { component: Component; link: LinkProperties }[] {
  return traits.flatMap((t) =>
    t.trait.type === LINK_TRAIT && t.shape.shape === 'link' ? [{ component: t.component, link: t.shape.link }] : [],
  );
}

function checkKnownInterfaces(traits: readonly TraitEntry[]): ValidationFailure[] {
  return typedLinks(traits).flatMap(({ link }) =>
    link.interfaces
      .filter((i) => isUnrecognizedInterface(link.namespace, link.package, i))
      .map((i) => warning(`unrecognized interface [${link.namespace}:${link.package}/${i}]`)),
  );
}

// ---------------------------------------------------------------------------------------------------------
// R7: targets of `type: link` traits, whatever their body decoded as

function checkLinkTargets(m: Manifest, traits: readonly TraitEntry[]): ValidationFailure[] {
  const names = new Set(m.spec.components.map((c) => c.name));
  return traits.filter((t) => t.trait.type === LINK_TRAIT).flatMap(({ shape }) => linkTargetFailures(shape, names));
}

function linkTargetFailures(shape: TraitShape, names: ReadonlySet<string>): ValidationFailure[] {
  switch (shape.shape) {
    case 'link': {
      const { target } = shape.link;
      if (names.has(target.name)) return [];
      const id = shape.link.name !== undefined ? `(name [${shape.link.name}])` : `(target [${target.name}])`;
      return [warning(`link ${id} target [${target.name}] is not a listed component`)];
    }
    case 'scaler':
      // wadm panics here (`unreachable!`); a link trait with a scaler body is an error.
      return [error(`Link trait deserialized as scaler trait, ensure fields are correct: ${sortedJson(scalerToJson(shape.scaler))}`)];
    case 'custom': {
      const body = shape.body;
      const isObj = typeof body === 'object' && body !== null && !Array.isArray(body);
      if (!isObj || !Object.hasOwn(body, 'target')) return [error(`custom link is missing 'target' property`)];
      const target = body['target'];
      const name = typeof target === 'object' && target !== null && !Array.isArray(target) ? target['name'] : undefined;
      if (typeof name !== 'string') return [error(`custom link is missing 'target' name property`)];
      return names.has(name) ? [] : [warning(`custom link target [${name}] is not a listed component`)];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// R8: secrets reference secret policies

/** Component secrets, then `target.secrets` and `source.secrets` of its link-shaped traits (any type). */
function secretsOf(c: Component, traits: readonly TraitEntry[]): SecretProperty[] {
  const out = [...(c.properties.secrets ?? [])];
  for (const t of traits) {
    if (t.component !== c || t.shape.shape !== 'link') continue;
    out.push(...(t.shape.link.target.secrets ?? []), ...(t.shape.link.source?.secrets ?? []));
  }
  return out;
}

function checkSecretPolicies(m: Manifest, traits: readonly TraitEntry[]): ValidationFailure[] {
  // Duplicate policy names: the last one wins.
  const policies = new Map((m.spec.policies ?? []).map((p) => [p.name, p]));
  return m.spec.components.flatMap((c) =>
    secretsOf(c, traits).flatMap((s): ValidationFailure[] => {
      const policyName = s.properties.policy;
      const policy = policies.get(policyName);
      const prefix = `secret '${s.name}' is mapped to`;
      if (!policy) return [error(`${prefix} unknown policy '${policyName}'`)];
      if (policy.type !== SECRET_POLICY_TYPE) {
        return [error(`${prefix} policy '${policyName}' which is not a secret policy. Expected type '${SECRET_POLICY_TYPE}'`)];
      }
      if (!Object.hasOwn(policy.properties, 'backend')) {
        return [error(`${prefix} policy '${policyName}' which does not include a 'backend' property`)];
      }
      return [];
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// R9: built-in trait types must have their shape

function checkTraitShapes(traits: readonly TraitEntry[]): ValidationFailure[] {
  return traits.flatMap(({ trait, shape }) => {
    if (trait.type === LINK_TRAIT && shape.shape === 'custom') {
      return [error(`Link trait deserialized as custom trait, ensure fields are correct: ${sortedJson(shape.body)}`)];
    }
    // wadm flags only custom bodies; a link-shaped body on a scaler trait is just as wrong, so it is flagged too.
    if (isScalerType(trait.type) && shape.shape !== 'scaler') {
      const body = shape.shape === 'link' ? linkToJson(shape.link) : shape.body;
      return [error(`Scaler trait deserialized as custom trait, ensure fields are correct: ${sortedJson(body)}`)];
    }
    return [];
  });
}

// ---------------------------------------------------------------------------------------------------------
// R10: image xor application; shared references carry nothing else (one failure per component)

function checkComponentSource(c: Component): ValidationFailure[] {
  const { image, application, config, secrets } = c.properties;
  if (image !== undefined && application !== undefined) return [error(`Component cannot have both 'image' and 'application' properties`)];
  if (image === undefined && application === undefined) return [error(`Component must have either 'image' or 'application' property`)];
  if (application === undefined) return [];
  const shared = `Shared component '${application.name}' cannot`;
  if ((config ?? []).length > 0) return [error(`${shared} specify additional 'config'`)];
  if ((secrets ?? []).length > 0) return [error(`${shared} specify additional 'secrets'`)];
  if ((c.traits ?? []).some((t) => isScalerType(t.type))) return [error(`${shared} include a scaler trait`)];
  return [];
}

// ---------------------------------------------------------------------------------------------------------
// R11: no duplicate (link name, namespace, package, interface) within one component

function checkDuplicateLinks(traits: readonly TraitEntry[]): ValidationFailure[] {
  const seen = new Map<Component, Set<string>>();
  const failures: ValidationFailure[] = [];
  for (const { component, link } of typedLinks(traits)) {
    const keys = seen.get(component) ?? new Set<string>();
    seen.set(component, keys);
    const name = linkName(link);
    for (const iface of link.interfaces) {
      const key = JSON.stringify([name, link.namespace, link.package, iface]);
      if (keys.has(key)) {
        const what = `${name} (${link.namespace}:${link.package}/${iface})`;
        failures.push(error(`Duplicate link found inside component '${component.name}': ${what}`));
      }
      keys.add(key);
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------------------
// R12: managed link config names unique across the manifest

function checkLinkConfigNames(traits: readonly TraitEntry[]): ValidationFailure[] {
  const seen = new Set<string>();
  const failures: ValidationFailure[] = [];
  for (const { link } of typedLinks(traits)) {
    for (const cfg of [...(link.target.config ?? []), ...(link.source?.config ?? [])]) {
      if (cfg.properties === undefined) continue; // a reference to an existing config, not one wadm creates
      if (seen.has(cfg.name)) failures.push(error(`Duplicate link config name found: '${cfg.name}'`));
      seen.add(cfg.name);
    }
  }
  return failures;
}
