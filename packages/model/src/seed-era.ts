/** Seed-era (wadm 0.x) linkdef traits translated to 1.x link traits, with warnings. */
import { hasKey, isObject, putKey, type JsonObject } from './decode.js';
import { LINK_TRAIT, linkToJson } from './traits.js';
import type { JsonValue, LinkProperties, Trait } from './types.js';
import { type Path, SourceMap } from './load.js';
import { formatPath } from './schema-errors.js';
import type { Normaliser } from './normalise.js';


/** A `linkdef` body with no 1.x link fields (`namespace`/`package`) is a 0.x linkdef: `{target, values}`. */
export function isSeedEraLinkdef(body: JsonValue): body is JsonObject {
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

export const one = (namespace: string, pkg: string, from: LinkTemplate['from'], interfaces: string[]): LinkdefTranslation => ({
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
export function translateLinkdef(body: JsonObject, component: string, path: Path, n: Normaliser): Trait[] {
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

