/**
 * The link rules of `validate_manifest` (docs/wire/manifest.md §2.2): R6 known interfaces, R7 link targets,
 * R11 duplicate links, R12 managed link config names.
 */
import { LINK_TRAIT, linkName, scalerToJson } from './traits.js';
import type { Component, LinkProperties, Manifest, TraitShape, ValidationFailure } from './types.js';
import { error, sortedJson, warning, type TraitEntry } from './validate-format.js';

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

export function checkKnownInterfaces(traits: readonly TraitEntry[]): ValidationFailure[] {
  return typedLinks(traits).flatMap(({ link }) =>
    link.interfaces
      .filter((i) => isUnrecognizedInterface(link.namespace, link.package, i))
      .map((i) => warning(`unrecognized interface [${link.namespace}:${link.package}/${i}]`)),
  );
}

// R7: targets of `type: link` traits, whatever their body decoded as

export function checkLinkTargets(m: Manifest, traits: readonly TraitEntry[]): ValidationFailure[] {
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

// R11: no duplicate (link name, namespace, package, interface) within one component

export function checkDuplicateLinks(traits: readonly TraitEntry[]): ValidationFailure[] {
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

// R12: managed link config names unique across the manifest

export function checkLinkConfigNames(traits: readonly TraitEntry[]): ValidationFailure[] {
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
