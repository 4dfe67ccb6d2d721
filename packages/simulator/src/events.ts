/**
 * Lattice events (docs/wire/control-interface.md §4): CloudEvents 1.0 envelopes published with plain PUB on
 * `wasmbus.evt.{lattice}.{type}` (account-prefixed in multitenant mode), `data` keys sorted at every depth.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@wadm-ts/obs';
import { encodeSorted, type WireValue } from './json.js';
import { nowNanos, rfc3339, ulidUuid } from './ids.js';
import type { Faults } from './faults.js';
import { linkWire, type Link } from './wire.js';

/** The 17 event types a 1.x host emits. */
export type LatticeEventType =
  | 'host_started'
  | 'host_stopped'
  | 'host_heartbeat'
  | 'component_scaled'
  | 'component_scale_failed'
  | 'provider_started'
  | 'provider_start_failed'
  | 'provider_stopped'
  | 'health_check_passed'
  | 'health_check_failed'
  | 'health_check_status'
  | 'linkdef_set'
  | 'linkdef_set_failed'
  | 'linkdef_deleted'
  | 'config_set'
  | 'config_deleted'
  | 'labels_changed';

/** The full CloudEvent JSON text: envelope in SDK order, `data` sorted. */
export function cloudEvent(type: LatticeEventType, source: string, data: WireValue): string {
  return cloudEventWithData(type, source, encodeSorted(data));
}

function cloudEventWithData(type: LatticeEventType, source: string, dataJson: string): string {
  const nanos = nowNanos(); // `time` and the ULID timestamp of `id` come from the same instant
  const time = rfc3339(nanos);
  const id = ulidUuid(Number(nanos / 1_000_000n));
  return (
    `{"specversion":"1.0","id":${JSON.stringify(id)},"type":${JSON.stringify(`com.wasmcloud.lattice.${type}`)},` +
    `"source":${JSON.stringify(source)},"datacontenttype":"application/json","time":${JSON.stringify(time)},` +
    `"data":${dataJson}}`
  );
}

/** The part of a prom-client counter the simulator uses. */
export interface LabelledCounter {
  inc(labels: Record<string, string>, value?: number): void;
}

export interface EventPublisherOptions {
  nc: NatsConnection;
  lattice: string;
  /** `wasmbus.evt`, or `{account}.wasmbus.evt` in multitenant mode. */
  prefix: string;
  faults: Faults;
  emitted: LabelledCounter;
  dropped: LabelledCounter;
  logger: Logger;
}

export class EventPublisher {
  constructor(private readonly o: EventPublisherOptions) {}

  subject(type: LatticeEventType): string {
    return `${this.o.prefix}.${this.o.lattice}.${type}`;
  }

  /** Publishes one event from `hostId` unless a dropEvents rule drops it. Returns whether it was sent. */
  publish(hostId: string, type: LatticeEventType, data: WireValue): boolean {
    const subject = this.subject(type);
    const dataJson = encodeSorted(data);
    if (this.o.faults.shouldDrop({ type, subject, hostId, data: () => JSON.parse(dataJson) as unknown })) {
      this.o.dropped.inc({ lattice: this.o.lattice, type });
      this.o.logger.debug({ type, hostId }, 'event dropped by fault injection');
      return false;
    }
    if (this.o.nc.isClosed()) return false;
    try {
      this.o.nc.publish(subject, cloudEventWithData(type, hostId, dataJson));
    } catch (err) {
      // Connection closing or draining: a dying host's last words are lost, as on a real host.
      this.o.logger.debug({ err, type, hostId }, 'event not published');
      return false;
    }
    this.o.emitted.inc({ lattice: this.o.lattice, type });
    return true;
  }
}

// ---- payload builders (keys are sorted on encoding; listed here alphabetically for reading) ----

type Annotations = ReadonlyMap<string, string>;

export function componentScaled(a: {
  annotations: Annotations;
  componentId: string;
  hostId: string;
  imageRef: string;
  maxInstances: number;
}): WireValue {
  return {
    annotations: a.annotations,
    component_id: a.componentId,
    host_id: a.hostId,
    image_ref: a.imageRef,
    max_instances: a.maxInstances,
  };
}

/** `component_scaled`'s payload plus the `error`. */
export function componentScaleFailed(a: Parameters<typeof componentScaled>[0] & { error: string }): WireValue {
  return { ...(componentScaled(a) as Record<string, WireValue>), error: a.error };
}

export function providerStarted(a: {
  annotations: Annotations;
  hostId: string;
  imageRef: string;
  providerId: string;
}): WireValue {
  return { annotations: a.annotations, host_id: a.hostId, image_ref: a.imageRef, provider_id: a.providerId };
}

export function providerStartFailed(a: {
  error: string;
  hostId: string;
  providerId: string;
  providerRef: string;
}): WireValue {
  return {
    error: a.error,
    host_id: a.hostId,
    link_name: 'default',
    provider_id: a.providerId,
    provider_ref: a.providerRef,
  };
}

export function providerStopped(a: { annotations: Annotations; hostId: string; providerId: string }): WireValue {
  return {
    annotations: a.annotations,
    host_id: a.hostId,
    instance_id: a.providerId,
    link_name: 'default',
    provider_id: a.providerId,
    public_key: a.providerId,
    reason: 'stop',
  };
}

export function healthCheck(hostId: string, providerId: string): WireValue {
  return { host_id: hostId, provider_id: providerId };
}

export function linkdefSet(link: Link): WireValue {
  return linkWire(link);
}

export function linkdefSetFailed(link: Link, error: string): WireValue {
  return { ...(linkWire(link) as Record<string, WireValue>), error };
}

export function linkdefDeleted(a: {
  sourceId: string;
  name: string;
  witNamespace: string;
  witPackage: string;
  removed: Link | undefined;
}): WireValue {
  return {
    interfaces: a.removed ? a.removed.interfaces : undefined,
    name: a.name,
    source_id: a.sourceId,
    target: a.removed ? a.removed.target : undefined,
    wit_namespace: a.witNamespace,
    wit_package: a.witPackage,
  };
}

export function configEvent(name: string): WireValue {
  return { config_name: name };
}

export function labelsChanged(hostId: string, labels: Annotations): WireValue {
  return { host_id: hostId, labels };
}

export function hostStarted(a: { friendlyName: string; labels: Annotations; version: string }): WireValue {
  return { friendly_name: a.friendlyName, labels: a.labels, uptime_seconds: 0, version: a.version };
}

export function hostStopped(labels: Annotations): WireValue {
  return { labels };
}
