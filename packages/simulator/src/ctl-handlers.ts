/**
 * Dispatch of the control-interface v1 requests a simulated host receives (docs/wire/control-interface.md §3),
 * with the reply-versus-event ordering of §4.3: synchronous operations publish their event(s) and
 * then reply; scale / start / update reply first and emit from `async` work run after the simulated
 * image fetch.
 */
import * as ev from './events.js';
import type { CommandKind } from './faults.js';
import type { SimulatedHost } from './host.js';
import { CtlError, decode, type HandlerResult } from './ctl-common.js';
import { componentAuction, scaleComponent, updateComponent } from './ctl-components.js';
import { providerAuction, startProvider, stopProvider } from './ctl-providers.js';
import { deleteLabel, deleteLink, getConfig, putConfig, putLabel, putLink } from './ctl-state.js';
import { decodeRegistries, decodeStopHost, fail, linkWire, ok, okWith } from './wire.js';

export type { HandlerResult } from './ctl-common.js';

/** The kind of a control request from its subject tokens after `{prefix}.v1.{lattice}`. */
export function classify(tokens: readonly string[]): CommandKind {
  if (tokens.length > 3) return 'unsupported';
  const [noun, verb, third] = tokens;
  const two = third === undefined;
  switch (`${noun}.${verb}`) {
    case 'component.auction':
    case 'provider.auction':
    case 'host.ping':
    case 'claims.get':
    case 'link.del':
    case 'link.get':
    case 'link.put':
    case 'registry.put':
      return two ? (`${noun}.${verb}` as CommandKind) : 'unsupported';
    case 'component.scale':
    case 'component.update':
    case 'provider.start':
    case 'provider.stop':
    case 'host.get':
    case 'host.stop':
    case 'label.del':
    case 'label.put':
    case 'config.get':
    case 'config.put':
    case 'config.del':
      return two ? 'unsupported' : (`${noun}.${verb}` as CommandKind);
    default:
      return 'unsupported';
  }
}

/** Parses the subject, counts the request and runs its handler. */
export function dispatch(host: SimulatedHost, subject: string, payload: Uint8Array): HandlerResult {
  const base = `${host.env.ctlBase}.`;
  const tokens = subject.startsWith(base) ? subject.slice(base.length).split('.') : [];
  const kind = classify(tokens);
  host.env.counter.record(kind, host.id);
  host.env.commandsMetric.inc({ lattice: host.env.lattice, kind });
  host.log.debug({ kind, subject }, 'control request');
  try {
    return handle(host, kind, tokens[2] ?? '', payload);
  } catch (e) {
    if (e instanceof CtlError) return { reply: fail(e.message) };
    throw e;
  }
}

function handle(host: SimulatedHost, kind: CommandKind, token: string, payload: Uint8Array): HandlerResult {
  switch (kind) {
    case 'host.ping':
      return { reply: okWith(host.pingInfo()) };
    case 'host.get':
      return { reply: okWith(host.inventory()) };
    case 'host.stop':
      return stopHost(host, token, payload);
    case 'component.scale':
      return scaleComponent(host, payload);
    case 'component.update':
      return updateComponent(host, payload);
    case 'component.auction':
      return componentAuction(host, payload);
    case 'provider.start':
      return startProvider(host, payload);
    case 'provider.stop':
      return stopProvider(host, payload);
    case 'provider.auction':
      return providerAuction(host, payload);
    case 'link.put':
      return putLink(host, payload);
    case 'link.del':
      return deleteLink(host, payload);
    case 'link.get':
      return { reply: okWith(host.env.store.allLinks().map(linkWire)) };
    case 'claims.get':
      // Simulated artifacts are unsigned: nothing is cached under CLAIMS_*.
      return { reply: okWith([]) };
    case 'config.put':
      return putConfig(host, token, payload);
    case 'config.get':
      return getConfig(host, token);
    case 'config.del':
      host.env.store.deleteConfig(token);
      host.emit('config_deleted', ev.configEvent(token));
      return { reply: ok('successfully deleted config') };
    case 'label.put':
      return putLabel(host, token, payload);
    case 'label.del':
      return deleteLabel(host, token, payload);
    case 'registry.put': {
      const regs = decode('failed to deserialize registries put command', () => decodeRegistries(payload));
      for (const [k, v] of regs) host.registries.set(k, v);
      return { reply: ok('successfully put registries') };
    }
    case 'unsupported':
      return { reply: fail('unsupported subject') };
  }
}

function stopHost(host: SimulatedHost, transportHostId: string, payload: Uint8Array): HandlerResult {
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
