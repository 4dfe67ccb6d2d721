/** Lattice-wide and host state operations: links, config, labels (docs/wire/control-interface.md §3.9–§3.11). */
import * as ev from './events.js';
import type { SimulatedHost } from './host.js';
import { CtlError, SECRET_PREFIX, decode, type HandlerResult } from './ctl-common.js';
import { cloneLink } from './stores.js';
import {
  decodeConfigMap,
  decodeDeleteLink,
  decodeHostLabel,
  decodeHostLabelIdentifier,
  decodeLink,
  fail,
  ok,
  okWith,
  type Link,
} from './wire.js';

function validateConfigNames(host: SimulatedHost, names: readonly string[]): string | undefined {
  let errors = '';
  for (const n of names) {
    if (host.env.store.hasConfig(n)) continue;
    errors += n.startsWith(SECRET_PREFIX)
      ? `Secret reference ${n} not found in config store. `
      : `Configuration ${n} not found in config store. `;
  }
  return errors === '' ? undefined : `Failed to validate configuration and secrets. ${errors}`;
}

export function putLink(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const link = decode('failed to deserialize wrpc link definition', () => decodeLink(payload));
  const error = setLink(host, link);
  if (error !== undefined) {
    host.emit('linkdef_set_failed', ev.linkdefSetFailed(link, error));
    return { reply: fail(error) };
  }
  host.emit('linkdef_set', ev.linkdefSet(link));
  return { reply: ok('successfully set link') };
}

function setLink(host: SimulatedHost, link: Link): string | undefined {
  const configErr = validateConfigNames(host, [...link.source_config, ...link.target_config]);
  if (configErr !== undefined) return configErr;
  const store = host.env.store;
  const spec = store.getSpec(link.source_id) ?? { url: '', links: [] };
  const sameKey = (l: Link) =>
    l.source_id === link.source_id &&
    l.wit_namespace === link.wit_namespace &&
    l.wit_package === link.wit_package &&
    l.name === link.name;
  const conflict = spec.links.find(
    (l) => sameKey(l) && l.interfaces.some((i) => link.interfaces.includes(i)) && l.target !== link.target,
  );
  if (conflict) {
    return 'link already exists with different target, consider deleting the existing link or using a different link name';
  }
  const idx = spec.links.findIndex((l) => sameKey(l) && l.target === link.target);
  if (idx >= 0) spec.links[idx] = cloneLink(link);
  else spec.links.push(cloneLink(link));
  store.putSpec(link.source_id, spec);
  return undefined;
}

export function deleteLink(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const req = decode('failed to deserialize wrpc link definition', () => decodeDeleteLink(payload));
  const store = host.env.store;
  const spec = store.getSpec(req.source_id);
  if (!spec) return { reply: ok("successfully deleted link (spec doesn't exist)") };
  const idx = spec.links.findIndex(
    (l) =>
      l.source_id === req.source_id &&
      l.wit_namespace === req.wit_namespace &&
      l.wit_package === req.wit_package &&
      l.name === req.name,
  );
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

export function putConfig(host: SimulatedHost, name: string, payload: Uint8Array): HandlerResult {
  decode('config data should be a map of string -> string', () => decodeConfigMap(payload));
  host.env.store.putConfig(name, new TextDecoder().decode(payload));
  host.emit('config_set', ev.configEvent(name));
  return { reply: ok('successfully put config') };
}

export function getConfig(host: SimulatedHost, name: string): HandlerResult {
  const raw = host.env.store.getConfigRaw(name);
  if (raw === undefined) return { reply: ok('Configuration not found') };
  const map = decode('config data should be a map of string -> string', () =>
    decodeConfigMap(new TextEncoder().encode(raw)),
  );
  return { reply: okWith(map) };
}

export function putLabel(host: SimulatedHost, subjectHostId: string, payload: Uint8Array): HandlerResult {
  const { key, value } = decode('failed to deserialize put label request', () => decodeHostLabel(payload));
  if (key.toLowerCase().startsWith('hostcore.')) throw new CtlError('hostcore.* labels cannot be set dynamically');
  host.labels.set(key, value);
  host.emit('labels_changed', ev.labelsChanged(subjectHostId, host.labels));
  return { reply: ok('successfully put label') };
}

export function deleteLabel(host: SimulatedHost, subjectHostId: string, payload: Uint8Array): HandlerResult {
  const { key } = decode('failed to deserialize delete label request', () => decodeHostLabelIdentifier(payload));
  if (!host.labels.has(key)) return { reply: ok('successfully deleted label (no such label)') };
  host.labels.delete(key);
  host.emit('labels_changed', ev.labelsChanged(subjectHostId, host.labels));
  return { reply: ok('successfully deleted label') };
}
