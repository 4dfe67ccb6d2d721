/**
 * Requests about the host itself: `host.ping`, `host.get` (the inventory, also the heartbeat's data),
 * `host.stop`, `label.put|del`, `registry.put`, `claims.get` (docs/wire/control-interface.md §3.1–§3.3,
 * §3.11–§3.13).
 */
import * as ev from './events.js';
import type { ControlledHost } from './host-model.js';
import { uptimeHuman } from './ids.js';
import type { WireValue } from './json.js';
import { CtlError, decode, type HandlerResult } from './ctl-common.js';
import { decodeHostLabel, decodeHostLabelIdentifier, decodeRegistries, decodeStopHost, ok, okWith } from './wire.js';

/** `HostInventory` (reply struct order; sorted when encoded as heartbeat data). */
export function hostInventory(host: ControlledHost): WireValue {
  const uptime = host.uptimeSeconds();
  return {
    components: [...host.components.values()].map((c) => ({
      id: c.id,
      image_ref: c.imageRef,
      annotations: c.annotations,
      revision: 0,
      max_instances: c.maxInstances,
      limits: host.env.hasLimits ? (c.limits ?? null) : undefined,
    })),
    providers: [...host.providers.values()].map((p) => ({
      id: p.id,
      image_ref: p.imageRef,
      revision: 0,
      annotations: p.annotations,
    })),
    host_id: host.id,
    friendly_name: host.friendlyName,
    labels: host.labels,
    version: host.env.version,
    uptime_human: uptimeHuman(uptime),
    uptime_seconds: uptime,
  };
}

/** `Host` as answered to `host.ping`. */
function pingInfo(host: ControlledHost): WireValue {
  const uptime = host.uptimeSeconds();
  return {
    rpc_host: host.env.natsUrl,
    ctl_host: host.env.natsUrl,
    friendly_name: host.friendlyName,
    id: host.id,
    js_domain: host.env.jsDomain,
    labels: host.labels,
    lattice: host.env.lattice,
    uptime_human: uptimeHuman(uptime),
    uptime_seconds: uptime,
    version: host.env.version,
  };
}

export function pingHost(host: ControlledHost): HandlerResult {
  return { reply: okWith(pingInfo(host)) };
}

export function getHost(host: ControlledHost): HandlerResult {
  return { reply: okWith(hostInventory(host)) };
}

/** Replies, then stops (`host_stopped` after the reply). */
export function stopHost(host: ControlledHost, transportHostId: string, payload: Uint8Array): HandlerResult {
  if (payload.length > 0) {
    const cmd = decode('failed to deserialize stop command', () => decodeStopHost(payload));
    if (cmd.host_id !== '' && (cmd.host_id !== transportHostId || cmd.host_id !== host.id)) {
      throw new CtlError(`invalid host_id [${cmd.host_id}]`);
    }
  }
  if (transportHostId !== host.id) throw new CtlError(`invalid host_id [${transportHostId}]`);
  host.beginStop();
  return { reply: ok('successfully handled stop host'), afterReply: () => host.finishStop() };
}

export function putLabel(host: ControlledHost, subjectHostId: string, payload: Uint8Array): HandlerResult {
  const { key, value } = decode('failed to deserialize put label request', () => decodeHostLabel(payload));
  if (key.toLowerCase().startsWith('hostcore.')) throw new CtlError('hostcore.* labels cannot be set dynamically');
  host.labels.set(key, value);
  host.emit('labels_changed', ev.labelsChanged(subjectHostId, host.labels));
  return { reply: ok('successfully put label') };
}

export function deleteLabel(host: ControlledHost, subjectHostId: string, payload: Uint8Array): HandlerResult {
  const { key } = decode('failed to deserialize delete label request', () => decodeHostLabelIdentifier(payload));
  if (!host.labels.has(key)) return { reply: ok('successfully deleted label (no such label)') };
  host.labels.delete(key);
  host.emit('labels_changed', ev.labelsChanged(subjectHostId, host.labels));
  return { reply: ok('successfully deleted label') };
}

export function putRegistries(host: ControlledHost, payload: Uint8Array): HandlerResult {
  const regs = decode('failed to deserialize registries put command', () => decodeRegistries(payload));
  for (const [k, v] of regs) host.registries.set(k, v);
  return { reply: ok('successfully put registries') };
}

/** Simulated artifacts are unsigned: nothing is cached under CLAIMS_*. */
export function getClaims(): HandlerResult {
  return { reply: okWith([]) };
}
