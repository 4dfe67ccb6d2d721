/**
 * The control-interface v1 operations of a simulated host (wasmcloud-ctl.md §3), with the
 * reply-versus-event ordering of §4.3: synchronous operations publish their event(s) and then
 * reply; scale / start / update reply first and emit from `async` work run after the simulated fetch.
 */
import type { CommandKind } from './faults.js';
import * as ev from './events.js';
import type { ComponentInstance, ProviderInstance, SimulatedHost } from './host.js';
import { DecodeError } from './serde.js';
import { cloneLink } from './stores.js';
import {
  decodeComponentAuction,
  decodeConfigMap,
  decodeDeleteLink,
  decodeHostLabel,
  decodeHostLabelIdentifier,
  decodeLink,
  decodeProviderAuction,
  decodeRegistries,
  decodeScaleComponent,
  decodeStartProvider,
  decodeStopHost,
  decodeStopProvider,
  decodeUpdateComponent,
  fail,
  linkWire,
  ok,
  okWith,
  type Link,
  type ScaleComponentCommand,
  type StartProviderCommand,
} from './wire.js';

export interface HandlerResult {
  /** Reply body; undefined = send nothing (auction not won, disabled builtin provider). */
  reply?: string;
  /** Work run after the simulated image fetch (always after the reply when replies are not slowed). */
  async?: () => void;
  /** Run right after the reply was published (host stop). */
  afterReply?: () => void;
}

/** A handler failure: the reply is `{"success":false,"message":<message>}`. */
class CtlError extends Error {}

function decode<T>(context: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) throw new CtlError(context);
    throw e;
  }
}

const SECRET_PREFIX = 'SECRET_';
const BUILTIN_PREFIX = 'wasmcloud+builtin://';

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

// ---------------------------------------------------------------------------------------------
// host

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

// ---------------------------------------------------------------------------------------------
// components

/** The simulated image fetch: an error text (anyhow chain) or undefined. */
function fetchError(host: SimulatedHost, what: 'component' | 'provider', ref: string): string | undefined {
  if (ref.trim() === '') return `failed to fetch ${what}: invalid reference format: empty reference`;
  const injected = host.env.faults.startFailureFor(ref);
  return injected === undefined ? undefined : `failed to fetch ${what}: ${injected}`;
}

/** Resolves config and secret names like `fetch_config_and_secrets`: an error text or undefined. */
function configError(host: SimulatedHost, names: readonly string[]): string | undefined {
  const store = host.env.store;
  for (const n of names) {
    if (!n.startsWith(SECRET_PREFIX) && !store.hasConfig(n)) {
      return `Unable to fetch requested config: Config ${n} does not exist`;
    }
  }
  for (const n of names) {
    if (n.startsWith(SECRET_PREFIX) && !store.hasConfig(n)) {
      return `Unable to fetch requested secrets: Secret reference ${n} does not exist`;
    }
  }
  return undefined;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function scaleComponent(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const cmd = decode('failed to deserialize component scale command', () => decodeScaleComponent(payload));
  const running = host.components.get(cmd.component_id);
  let message = '';
  let postUpdate = false;
  if (running && running.imageRef !== cmd.component_ref) {
    if (cmd.allow_update) {
      postUpdate = true;
      message = `Requested to scale existing component, with a changed image reference: ${running.imageRef} != ${cmd.component_ref}. The component will be scaled, and the image reference will be updated afterwards.`;
    } else {
      message = `Requested to scale existing component to a different image reference: ${running.imageRef} != ${cmd.component_ref}. The component will be scaled but the image reference will not be updated. If you meant to update this component to a new image ref, use the update command.`;
    }
  }
  return {
    reply: ok(message),
    async: () => {
      if (scaleTask(host, cmd) && postUpdate) {
        updateTask(host, cmd.component_id, cmd.component_ref, cmd.host_id, undefined);
      }
    },
  };
}

/** The spawned part of a scale. Returns false when it ended in `component_scale_failed`. */
function scaleTask(host: SimulatedHost, cmd: ScaleComponentCommand): boolean {
  const annotations = cmd.annotations ?? new Map<string, string>();
  const fetchErr = fetchError(host, 'component', cmd.component_ref);
  const failed = (error: string): boolean => {
    host.emit(
      'component_scale_failed',
      ev.componentScaleFailed({
        annotations,
        componentId: cmd.component_id,
        error,
        hostId: cmd.host_id,
        imageRef: cmd.component_ref,
        maxInstances: cmd.count,
      }),
    );
    return false;
  };
  const scaled = (c: { annotations: Map<string, string>; imageRef: string }, hostId: string, max: number): void => {
    host.emit(
      'component_scaled',
      ev.componentScaled({ annotations: c.annotations, componentId: cmd.component_id, hostId, imageRef: c.imageRef, maxInstances: max }),
    );
  };
  const limits = host.env.hasLimits && cmd.component_limits && cmd.component_limits.size > 0 ? cmd.component_limits : undefined;
  const existing = host.components.get(cmd.component_id);

  if (!existing && cmd.count === 0) {
    scaled({ annotations, imageRef: cmd.component_ref }, cmd.host_id, 0);
    return true;
  }
  if (!existing) {
    const cfgErr = configError(host, cmd.config);
    if (cfgErr !== undefined) return failed(cfgErr);
    if (fetchErr !== undefined) return failed(fetchErr);
    // start_component: store the component spec if absent, instantiate, emit (host's own key).
    const store = host.env.store;
    store.putSpec(cmd.component_id, store.getSpec(cmd.component_id) ?? { url: cmd.component_ref, links: [] });
    const inst: ComponentInstance = {
      id: cmd.component_id,
      imageRef: cmd.component_ref,
      maxInstances: cmd.count,
      annotations,
      config: [...cmd.config],
      limits,
    };
    host.components.set(inst.id, inst);
    scaled(inst, host.id, cmd.count);
    // ... and once more at the end of the scale task, with the request's host_id.
    scaled(inst, cmd.host_id, cmd.count);
    return true;
  }
  if (cmd.count === 0) {
    host.components.delete(existing.id);
    scaled(existing, cmd.host_id, 0);
    return true;
  }
  // Running, N > 0: the event carries the existing instance's annotations and image ref.
  const configChanged = !sameList(cmd.config, existing.config);
  if (existing.maxInstances !== cmd.count || configChanged) {
    if (configChanged) {
      const cfgErr = configError(host, cmd.config);
      if (cfgErr !== undefined) return failed(cfgErr);
    }
    host.components.set(existing.id, {
      id: existing.id,
      imageRef: cmd.component_ref,
      maxInstances: cmd.count,
      annotations,
      config: [...cmd.config],
      limits,
    });
  }
  scaled(existing, cmd.host_id, cmd.count);
  return true;
}

function updateComponent(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const cmd = decode('failed to deserialize component update command', () => decodeUpdateComponent(payload));
  const running = host.components.get(cmd.component_id);
  if (!running) throw new CtlError(`component ${cmd.component_id} not found`);
  if (running.imageRef === cmd.new_component_ref) {
    return { reply: ok(`component ${cmd.component_id} already updated to ${cmd.new_component_ref}`) };
  }
  return {
    reply: ok(`component ${cmd.component_id} updating from ${running.imageRef} to ${cmd.new_component_ref}`),
    async: () => updateTask(host, cmd.component_id, cmd.new_component_ref, cmd.host_id, cmd.annotations),
  };
}

/** The update task: failures are only logged. Emits the new ref at N, then (host quirk) at 0. */
function updateTask(
  host: SimulatedHost,
  componentId: string,
  newRef: string,
  hostId: string,
  annotations: Map<string, string> | undefined,
): void {
  const existing = host.components.get(componentId);
  if (!existing) {
    host.log.warn({ componentId }, 'failed to update component: component not found');
    return;
  }
  if (existing.imageRef === newRef) return;
  const err = fetchError(host, 'component', newRef);
  if (err !== undefined) {
    host.log.warn({ componentId, err }, 'failed to update component');
    return;
  }
  const updated: ComponentInstance = {
    ...existing,
    imageRef: newRef,
    annotations: annotations ?? new Map<string, string>(),
    config: [...existing.config],
  };
  const event = (max: number) =>
    ev.componentScaled({ annotations: updated.annotations, componentId, hostId, imageRef: newRef, maxInstances: max });
  host.emit('component_scaled', event(existing.maxInstances));
  host.emit('component_scaled', event(0));
  host.components.set(componentId, updated);
}

function constraintsMet(host: SimulatedHost, constraints: ReadonlyMap<string, string>): boolean {
  for (const [k, v] of constraints) if (host.labels.get(k) !== v) return false;
  return true;
}

function componentAuction(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const req = decode('failed to deserialize component auction command', () => decodeComponentAuction(payload));
  if (!constraintsMet(host, req.constraints) || host.components.has(req.component_id)) return {};
  return {
    reply: okWith({
      component_ref: req.component_ref,
      component_id: req.component_id,
      host_id: host.id,
      constraints: req.constraints,
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// providers

function startProvider(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const cmd = decode('failed to deserialize provider start command', () => decodeStartProvider(payload));
  if (host.providers.has(cmd.provider_id)) throw new CtlError('provider with that ID is already running');
  if (cmd.provider_ref.startsWith(BUILTIN_PREFIX)) {
    const name = cmd.provider_ref.slice(BUILTIN_PREFIX.length);
    // Builtin providers are experimental features, off by default: the host sends no reply at all.
    if (name === 'http-server' || name === 'messaging-nats') return {};
  }
  return { reply: ok('successfully started provider'), async: () => startProviderTask(host, cmd) };
}

function startProviderTask(host: SimulatedHost, cmd: StartProviderCommand): void {
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
  host.startHealthChecks(p);
  host.emit(
    'provider_started',
    ev.providerStarted({ annotations: p.annotations, hostId: cmd.host_id, imageRef: p.imageRef, providerId: p.id }),
  );
}

function stopProvider(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const cmd = decode('failed to deserialize provider stop command', () => decodeStopProvider(payload));
  const p: ProviderInstance | undefined = host.providers.get(cmd.provider_id);
  if (!p) throw new CtlError('provider with that ID is not running');
  host.providers.delete(p.id);
  host.stopHealthChecks(p);
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

function providerAuction(host: SimulatedHost, payload: Uint8Array): HandlerResult {
  const req = decode('failed to deserialize provider auction command', () => decodeProviderAuction(payload));
  if (!constraintsMet(host, req.constraints) || host.providers.has(req.provider_id)) return {};
  return {
    reply: okWith({
      host_id: host.id,
      provider_ref: req.provider_ref,
      provider_id: req.provider_id,
      constraints: req.constraints,
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// links

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

function putLink(host: SimulatedHost, payload: Uint8Array): HandlerResult {
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

function deleteLink(host: SimulatedHost, payload: Uint8Array): HandlerResult {
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

// ---------------------------------------------------------------------------------------------
// config

function putConfig(host: SimulatedHost, name: string, payload: Uint8Array): HandlerResult {
  decode('config data should be a map of string -> string', () => decodeConfigMap(payload));
  host.env.store.putConfig(name, new TextDecoder().decode(payload));
  host.emit('config_set', ev.configEvent(name));
  return { reply: ok('successfully put config') };
}

function getConfig(host: SimulatedHost, name: string): HandlerResult {
  const raw = host.env.store.getConfigRaw(name);
  if (raw === undefined) return { reply: ok('Configuration not found') };
  const map = decode('config data should be a map of string -> string', () =>
    decodeConfigMap(new TextEncoder().encode(raw)),
  );
  return { reply: okWith(map) };
}

// ---------------------------------------------------------------------------------------------
// labels

function putLabel(host: SimulatedHost, subjectHostId: string, payload: Uint8Array): HandlerResult {
  const { key, value } = decode('failed to deserialize put label request', () => decodeHostLabel(payload));
  if (key.toLowerCase().startsWith('hostcore.')) throw new CtlError('hostcore.* labels cannot be set dynamically');
  host.labels.set(key, value);
  host.emit('labels_changed', ev.labelsChanged(subjectHostId, host.labels));
  return { reply: ok('successfully put label') };
}

function deleteLabel(host: SimulatedHost, subjectHostId: string, payload: Uint8Array): HandlerResult {
  const { key } = decode('failed to deserialize delete label request', () => decodeHostLabelIdentifier(payload));
  if (!host.labels.has(key)) return { reply: ok('successfully deleted label (no such label)') };
  host.labels.delete(key);
  host.emit('labels_changed', ev.labelsChanged(subjectHostId, host.labels));
  return { reply: ok('successfully deleted label') };
}
