/**
 * Dispatch of the control-interface v1 requests a simulated host receives (docs/wire/control-interface.md §3),
 * with the reply-versus-event ordering of §4.3: synchronous operations publish their event(s) and
 * then reply; scale / start / update reply first and emit from `async` work run after the simulated
 * image fetch. The one module that knows every handler; `host.ts` is its only user.
 */
import type { CommandKind } from './faults.js';
import type { ControlledHost } from './host-model.js';
import { CtlError, type HandlerResult } from './ctl-common.js';
import { componentAuction, scaleComponent, updateComponent } from './ctl-components.js';
import { deleteConfig, getConfig, putConfig } from './ctl-config.js';
import { deleteLabel, getClaims, getHost, pingHost, putLabel, putRegistries, stopHost } from './ctl-host.js';
import { deleteLink, getLinks, putLink } from './ctl-links.js';
import { providerAuction, startProvider, stopProvider } from './ctl-providers.js';
import { fail } from './wire.js';

export type { HandlerResult } from './ctl-common.js';

type Handler = (host: ControlledHost, token: string, payload: Uint8Array) => HandlerResult;

/** Each kind's handler; `token` is the subject's third token (the host id or config name). */
const HANDLERS: Readonly<Record<Exclude<CommandKind, 'unsupported'>, Handler>> = {
  'host.ping': (host) => pingHost(host),
  'host.get': (host) => getHost(host),
  'host.stop': stopHost,
  'component.scale': (host, _t, payload) => scaleComponent(host, payload),
  'component.update': (host, _t, payload) => updateComponent(host, payload),
  'component.auction': (host, _t, payload) => componentAuction(host, payload),
  'provider.start': (host, _t, payload) => startProvider(host, payload),
  'provider.stop': (host, _t, payload) => stopProvider(host, payload),
  'provider.auction': (host, _t, payload) => providerAuction(host, payload),
  'link.put': (host, _t, payload) => putLink(host, payload),
  'link.del': (host, _t, payload) => deleteLink(host, payload),
  'link.get': (host) => getLinks(host),
  'claims.get': () => getClaims(),
  'config.put': putConfig,
  'config.get': (host, name) => getConfig(host, name),
  'config.del': (host, name) => deleteConfig(host, name),
  'label.put': putLabel,
  'label.del': deleteLabel,
  'registry.put': (host, _t, payload) => putRegistries(host, payload),
};

/** Kinds whose subject ends at the verb (`{noun}.{verb}`); the others carry a third token. */
const TWO_TOKEN_KINDS: ReadonlySet<string> = new Set([
  'component.auction',
  'provider.auction',
  'host.ping',
  'claims.get',
  'link.del',
  'link.get',
  'link.put',
  'registry.put',
]);

/** The kind of a control request from its subject tokens after `{prefix}.v1.{lattice}`. */
function classify(tokens: readonly string[]): CommandKind {
  if (tokens.length > 3) return 'unsupported';
  const [noun, verb, third] = tokens;
  const kind = `${noun}.${verb}`;
  if (!Object.hasOwn(HANDLERS, kind)) return 'unsupported';
  return TWO_TOKEN_KINDS.has(kind) === (third === undefined) ? (kind as CommandKind) : 'unsupported';
}

/** Parses the subject, counts the request and runs its handler. */
export function dispatch(host: ControlledHost, subject: string, payload: Uint8Array): HandlerResult {
  const base = `${host.env.ctlBase}.`;
  const tokens = subject.startsWith(base) ? subject.slice(base.length).split('.') : [];
  const kind = classify(tokens);
  host.env.counter.record(kind, host.id);
  host.env.commandsMetric.inc({ lattice: host.env.lattice, kind });
  host.log.debug({ kind, subject }, 'control request');
  try {
    return kind === 'unsupported' ? { reply: fail('unsupported subject') } : HANDLERS[kind](host, tokens[2] ?? '', payload);
  } catch (e) {
    if (e instanceof CtlError) return { reply: fail(e.message) };
    throw e;
  }
}
