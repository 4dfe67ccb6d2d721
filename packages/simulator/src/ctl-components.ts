/** `component.scale`, `component.update`, `component.auction` (docs/wire/control-interface.md §3.4–§3.6). */
import * as ev from './events.js';
import type { ComponentInstance, ControlledHost } from './host-model.js';
import { CtlError, auctionBid, configError, decode, fetchError, type HandlerResult } from './ctl-common.js';
import { decodeComponentAuction, decodeScaleComponent, decodeUpdateComponent, ok, type ScaleComponentCommand } from './wire.js';

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function scaleComponent(host: ControlledHost, payload: Uint8Array): HandlerResult {
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
function scaleTask(host: ControlledHost, cmd: ScaleComponentCommand): boolean {
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
  /** The instance the request describes (a fresh start, or a re-scale that re-creates it). */
  const requested = (): ComponentInstance => ({
    id: cmd.component_id,
    imageRef: cmd.component_ref,
    maxInstances: cmd.count,
    annotations,
    config: [...cmd.config],
    limits,
  });
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
    const inst = requested();
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
    host.components.set(existing.id, requested());
  }
  scaled(existing, cmd.host_id, cmd.count);
  return true;
}

export function updateComponent(host: ControlledHost, payload: Uint8Array): HandlerResult {
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
  host: ControlledHost,
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

export function componentAuction(host: ControlledHost, payload: Uint8Array): HandlerResult {
  const req = decode('failed to deserialize component auction command', () => decodeComponentAuction(payload));
  return auctionBid(host, req.constraints, host.components.has(req.component_id), {
    component_ref: req.component_ref,
    component_id: req.component_id,
    host_id: host.id,
    constraints: req.constraints,
  });
}
