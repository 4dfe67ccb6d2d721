/**
 * Control-interface v1 request bodies (decoded with serde semantics) and reply envelopes, as a
 * wasmCloud 1.x host (control-interface 2.x/3.x) reads and writes them. See docs/wire/control-interface.md §2–§3.
 */
import { encodeWire, type WireValue } from './json.js';
import {
  DecodeError,
  asObject,
  dfltBool,
  dfltString,
  dfltStringArray,
  dfltU32,
  optStringMap,
  optU64,
  parseJson,
  present,
  reqString,
  reqStringArray,
  reqStringMap,
  toStringMap,
} from './serde.js';

/** A link as stored and as serialized (struct order = declaration order). */
export interface Link {
  source_id: string;
  target: string;
  name: string;
  wit_namespace: string;
  wit_package: string;
  interfaces: string[];
  source_config: string[];
  target_config: string[];
}

export interface ScaleComponentCommand {
  component_ref: string;
  component_id: string;
  annotations: Map<string, string> | undefined;
  count: number;
  component_limits: Map<string, string> | undefined;
  host_id: string;
  config: string[];
  allow_update: boolean;
}

export interface UpdateComponentCommand {
  component_id: string;
  annotations: Map<string, string> | undefined;
  host_id: string;
  new_component_ref: string;
}

export interface StartProviderCommand {
  provider_id: string;
  provider_ref: string;
  host_id: string;
  config: string[];
  annotations: Map<string, string> | undefined;
}

export interface StopProviderCommand {
  host_id: string;
  provider_id: string;
}

export interface StopHostCommand {
  host_id: string;
  timeout: number | undefined;
}

export interface ComponentAuctionRequest {
  component_ref: string;
  component_id: string;
  constraints: Map<string, string>;
}

export interface ProviderAuctionRequest {
  provider_ref: string;
  provider_id: string;
  constraints: Map<string, string>;
}

export interface DeleteLinkRequest {
  source_id: string;
  name: string;
  wit_namespace: string;
  wit_package: string;
}

export interface RegistryCredential {
  username?: string;
  password?: string;
  token?: string;
  registryType: string;
}

function obj(payload: Uint8Array) {
  return asObject(parseJson(payload));
}

export function decodeScaleComponent(payload: Uint8Array): ScaleComponentCommand {
  const o = obj(payload);
  return {
    component_ref: dfltString(o, 'component_ref'),
    component_id: reqString(o, 'component_id'),
    annotations: optStringMap(o, 'annotations'),
    // The wire key is `count`; a `max_instances` key is not recognised (→ 0 → stop).
    count: dfltU32(o, 'count'),
    component_limits: optStringMap(o, 'component_limits'),
    host_id: dfltString(o, 'host_id'),
    config: dfltStringArray(o, 'config'),
    allow_update: dfltBool(o, 'allow_update'),
  };
}

export function decodeUpdateComponent(payload: Uint8Array): UpdateComponentCommand {
  const o = obj(payload);
  return {
    component_id: dfltString(o, 'component_id'),
    annotations: optStringMap(o, 'annotations'),
    host_id: dfltString(o, 'host_id'),
    new_component_ref: dfltString(o, 'new_component_ref'),
  };
}

export function decodeStartProvider(payload: Uint8Array): StartProviderCommand {
  const o = obj(payload);
  return {
    provider_id: reqString(o, 'provider_id'),
    provider_ref: dfltString(o, 'provider_ref'),
    host_id: dfltString(o, 'host_id'),
    config: dfltStringArray(o, 'config'),
    annotations: optStringMap(o, 'annotations'),
  };
}

export function decodeStopProvider(payload: Uint8Array): StopProviderCommand {
  const o = obj(payload);
  // `provider_ref` is a serde alias of `provider_id`: both present is a duplicate field.
  if (present(o, 'provider_id') && present(o, 'provider_ref')) throw new DecodeError('duplicate field `provider_id`');
  const key = present(o, 'provider_ref') ? 'provider_ref' : 'provider_id';
  return { host_id: dfltString(o, 'host_id'), provider_id: dfltString(o, key) };
}

export function decodeStopHost(payload: Uint8Array): StopHostCommand {
  const o = obj(payload);
  return { host_id: dfltString(o, 'host_id'), timeout: optU64(o, 'timeout') };
}

export function decodeComponentAuction(payload: Uint8Array): ComponentAuctionRequest {
  const o = obj(payload);
  return {
    component_ref: dfltString(o, 'component_ref'),
    component_id: reqString(o, 'component_id'),
    constraints: reqStringMap(o, 'constraints'),
  };
}

export function decodeProviderAuction(payload: Uint8Array): ProviderAuctionRequest {
  const o = obj(payload);
  return {
    provider_ref: dfltString(o, 'provider_ref'),
    provider_id: reqString(o, 'provider_id'),
    constraints: reqStringMap(o, 'constraints'),
  };
}

export function decodeLink(payload: Uint8Array): Link {
  const o = obj(payload);
  return {
    source_id: reqString(o, 'source_id'),
    target: reqString(o, 'target'),
    name: dfltString(o, 'name', 'default'),
    wit_namespace: reqString(o, 'wit_namespace'),
    wit_package: reqString(o, 'wit_package'),
    interfaces: reqStringArray(o, 'interfaces'),
    source_config: dfltStringArray(o, 'source_config'),
    target_config: dfltStringArray(o, 'target_config'),
  };
}

export function decodeDeleteLink(payload: Uint8Array): DeleteLinkRequest {
  const o = obj(payload);
  return {
    source_id: reqString(o, 'source_id'),
    name: dfltString(o, 'name', 'default'),
    wit_namespace: reqString(o, 'wit_namespace'),
    wit_package: reqString(o, 'wit_package'),
  };
}

export function decodeHostLabel(payload: Uint8Array): { key: string; value: string } {
  const o = obj(payload);
  return { key: reqString(o, 'key'), value: reqString(o, 'value') };
}

export function decodeHostLabelIdentifier(payload: Uint8Array): { key: string } {
  return { key: reqString(obj(payload), 'key') };
}

export function decodeConfigMap(payload: Uint8Array): Map<string, string> {
  return toStringMap(parseJson(payload), 'config');
}

export function decodeRegistries(payload: Uint8Array): Map<string, RegistryCredential> {
  const o = obj(payload);
  const out = new Map<string, RegistryCredential>();
  for (const [registry, v] of Object.entries(o)) {
    const c = asObject(v);
    const cred: RegistryCredential = { registryType: dfltString(c, 'registryType', 'oci') };
    for (const k of ['username', 'password', 'token'] as const) {
      const val = c[k];
      if (val === undefined || val === null) continue;
      if (typeof val !== 'string') throw new DecodeError(`${k}: expected a string`);
      cred[k] = val;
    }
    out.set(registry, cred);
  }
  return out;
}

/** `CtlResponse<T>`: `success`, `message`, then `response` only when there is a payload. */
export function ctlResponse(success: boolean, message: string, response?: WireValue): string {
  return encodeWire({ success, message, response });
}

export const ok = (message = ''): string => ctlResponse(true, message);
export const okWith = (response: WireValue, message = ''): string => ctlResponse(true, message, response);
export const fail = (message: string): string => ctlResponse(false, message);

/** A copy of a link (its arrays too), in declaration order. */
export function cloneLink(l: Link): Link {
  return {
    source_id: l.source_id,
    target: l.target,
    name: l.name,
    wit_namespace: l.wit_namespace,
    wit_package: l.wit_package,
    interfaces: [...l.interfaces],
    source_config: [...l.source_config],
    target_config: [...l.target_config],
  };
}

/** A link as a wire object (declaration order). */
export function linkWire(l: Link): WireValue {
  return { ...cloneLink(l) };
}
