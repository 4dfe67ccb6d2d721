/** `config.put`, `config.get`, `config.del` (docs/wire/control-interface.md §3.10). */
import * as ev from './events.js';
import type { ControlledHost } from './host-model.js';
import { decode, type HandlerResult } from './ctl-common.js';
import { decodeConfigMap, ok, okWith } from './wire.js';

const CONFIG_MAP_ERROR = 'config data should be a map of string -> string';

export function putConfig(host: ControlledHost, name: string, payload: Uint8Array): HandlerResult {
  decode(CONFIG_MAP_ERROR, () => decodeConfigMap(payload));
  host.env.store.putConfig(name, new TextDecoder().decode(payload));
  host.emit('config_set', ev.configEvent(name));
  return { reply: ok('successfully put config') };
}

export function getConfig(host: ControlledHost, name: string): HandlerResult {
  const raw = host.env.store.getConfigRaw(name);
  if (raw === undefined) return { reply: ok('Configuration not found') };
  const map = decode(CONFIG_MAP_ERROR, () => decodeConfigMap(new TextEncoder().encode(raw)));
  return { reply: okWith(map) };
}

/** A purge: idempotent, and `config_deleted` is published either way. */
export function deleteConfig(host: ControlledHost, name: string): HandlerResult {
  host.env.store.deleteConfig(name);
  host.emit('config_deleted', ev.configEvent(name));
  return { reply: ok('successfully deleted config') };
}
