/** `link.put`, `link.del`, `link.get` as a v1.3+ host keeps links (docs/wire/control-interface.md §3.9). */
import * as ev from './events.js';
import type { ControlledHost } from './host-model.js';
import { SECRET_PREFIX, decode, type HandlerResult } from './ctl-common.js';
import { cloneLink, decodeDeleteLink, decodeLink, fail, linkWire, ok, okWith, type Link } from './wire.js';

function validateConfigNames(host: ControlledHost, names: readonly string[]): string | undefined {
  let errors = '';
  for (const n of names) {
    if (host.env.store.hasConfig(n)) continue;
    errors += n.startsWith(SECRET_PREFIX)
      ? `Secret reference ${n} not found in config store. `
      : `Configuration ${n} not found in config store. `;
  }
  return errors === '' ? undefined : `Failed to validate configuration and secrets. ${errors}`;
}

export function putLink(host: ControlledHost, payload: Uint8Array): HandlerResult {
  const link = decode('failed to deserialize wrpc link definition', () => decodeLink(payload));
  const error = setLink(host, link);
  if (error !== undefined) {
    host.emit('linkdef_set_failed', ev.linkdefSetFailed(link, error));
    return { reply: fail(error) };
  }
  host.emit('linkdef_set', ev.linkdefSet(link));
  return { reply: ok('successfully set link') };
}

/** The identity of a link within its source's spec: (source, namespace, package, name). */
function sameKey(a: Pick<Link, 'source_id' | 'wit_namespace' | 'wit_package' | 'name'>, b: Link): boolean {
  return (
    a.source_id === b.source_id && a.wit_namespace === b.wit_namespace && a.wit_package === b.wit_package && a.name === b.name
  );
}

function setLink(host: ControlledHost, link: Link): string | undefined {
  const configErr = validateConfigNames(host, [...link.source_config, ...link.target_config]);
  if (configErr !== undefined) return configErr;
  const store = host.env.store;
  const spec = store.getSpec(link.source_id) ?? { url: '', links: [] };
  const conflict = spec.links.find(
    (l) => sameKey(link, l) && l.interfaces.some((i) => link.interfaces.includes(i)) && l.target !== link.target,
  );
  if (conflict) {
    return 'link already exists with different target, consider deleting the existing link or using a different link name';
  }
  const idx = spec.links.findIndex((l) => sameKey(link, l) && l.target === link.target);
  if (idx >= 0) spec.links[idx] = cloneLink(link);
  else spec.links.push(cloneLink(link));
  store.putSpec(link.source_id, spec);
  return undefined;
}

export function deleteLink(host: ControlledHost, payload: Uint8Array): HandlerResult {
  const req = decode('failed to deserialize wrpc link definition', () => decodeDeleteLink(payload));
  const store = host.env.store;
  const spec = store.getSpec(req.source_id);
  if (!spec) return { reply: ok("successfully deleted link (spec doesn't exist)") };
  const idx = spec.links.findIndex((l) => sameKey(req, l));
  let removed: Link | undefined;
  if (idx >= 0) {
    // Vec::swap_remove: the last link takes the removed one's place.
    removed = spec.links[idx];
    const last = spec.links.pop();
    if (last && idx < spec.links.length) spec.links[idx] = last;
    store.putSpec(req.source_id, spec);
  }
  host.emit(
    'linkdef_deleted',
    ev.linkdefDeleted({
      sourceId: req.source_id,
      name: req.name,
      witNamespace: req.wit_namespace,
      witPackage: req.wit_package,
      removed,
    }),
  );
  return { reply: ok('successfully deleted link') };
}

/** Every spec's links. */
export function getLinks(host: ControlledHost): HandlerResult {
  return { reply: okWith(host.env.store.allLinks().map(linkWire)) };
}
