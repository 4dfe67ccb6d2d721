/** `provider.start`, `provider.stop`, `provider.auction` (docs/wire/control-interface.md §3.7–§3.8). */
import * as ev from './events.js';
import { startHealthChecks, stopHealthChecks } from './health.js';
import type { ControlledHost, ProviderInstance } from './host-model.js';
import { BUILTIN_PREFIX, CtlError, auctionBid, configError, decode, fetchError, type HandlerResult } from './ctl-common.js';
import { decodeProviderAuction, decodeStartProvider, decodeStopProvider, ok, type StartProviderCommand } from './wire.js';

export function startProvider(host: ControlledHost, payload: Uint8Array): HandlerResult {
  const cmd = decode('failed to deserialize provider start command', () => decodeStartProvider(payload));
  if (host.providers.has(cmd.provider_id)) throw new CtlError('provider with that ID is already running');
  if (cmd.provider_ref.startsWith(BUILTIN_PREFIX)) {
    const name = cmd.provider_ref.slice(BUILTIN_PREFIX.length);
    // Builtin providers are experimental features, off by default: the host sends no reply at all.
    if (name === 'http-server' || name === 'messaging-nats') return {};
  }
  return { reply: ok('successfully started provider'), async: () => startProviderTask(host, cmd) };
}

function startProviderTask(host: ControlledHost, cmd: StartProviderCommand): void {
  const failed = (error: string): void => {
    host.emit(
      'provider_start_failed',
      ev.providerStartFailed({ error, hostId: cmd.host_id, providerId: cmd.provider_id, providerRef: cmd.provider_ref }),
    );
  };
  const fetchErr = cmd.provider_ref.startsWith(BUILTIN_PREFIX)
    ? `failed to fetch provider: unknown builtin provider ${cmd.provider_ref}`
    : fetchError(host, 'provider', cmd.provider_ref);
  if (fetchErr !== undefined) return failed(fetchErr);
  const store = host.env.store;
  store.putSpec(cmd.provider_id, store.getSpec(cmd.provider_id) ?? { url: cmd.provider_ref, links: [] });
  const cfgErr = configError(host, cmd.config);
  if (cfgErr !== undefined) return failed(cfgErr);
  if (host.providers.has(cmd.provider_id)) return failed('provider is already running with that ID');
  const p: ProviderInstance = {
    id: cmd.provider_id,
    imageRef: cmd.provider_ref,
    annotations: cmd.annotations ?? new Map<string, string>(),
    config: [...cmd.config],
    startHostId: cmd.host_id,
    previousHealthy: false,
    lastHealthy: undefined,
    healthTimer: undefined,
  };
  host.providers.set(p.id, p);
  startHealthChecks(host, p);
  host.emit(
    'provider_started',
    ev.providerStarted({ annotations: p.annotations, hostId: cmd.host_id, imageRef: p.imageRef, providerId: p.id }),
  );
}

export function stopProvider(host: ControlledHost, payload: Uint8Array): HandlerResult {
  const cmd = decode('failed to deserialize provider stop command', () => decodeStopProvider(payload));
  const p: ProviderInstance | undefined = host.providers.get(cmd.provider_id);
  if (!p) throw new CtlError('provider with that ID is not running');
  host.providers.delete(p.id);
  stopHealthChecks(p);
  // Graceful-shutdown notice to the provider (a real provider answers; the simulated one is gone).
  const { nc } = host.env;
  try {
    if (!nc.isClosed()) nc.publish(`${host.env.rpcBase}.${p.id}.default.shutdown`, JSON.stringify({ host_id: cmd.host_id }));
  } catch {
    // connection closing
  }
  host.emit('provider_stopped', ev.providerStopped({ annotations: p.annotations, hostId: cmd.host_id, providerId: p.id }));
  return { reply: ok('successfully stopped provider') };
}

export function providerAuction(host: ControlledHost, payload: Uint8Array): HandlerResult {
  const req = decode('failed to deserialize provider auction command', () => decodeProviderAuction(payload));
  return auctionBid(host, req.constraints, host.providers.has(req.provider_id), {
    host_id: host.id,
    provider_ref: req.provider_ref,
    provider_id: req.provider_id,
    constraints: req.constraints,
  });
}
