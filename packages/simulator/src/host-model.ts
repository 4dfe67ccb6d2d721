/**
 * What a simulated host is made of, as the control handlers see it: the instances it runs and the
 * `ControlledHost` view of a host. The first layer above the lattice-wide modules (env, events,
 * wire); `host.ts` implements `ControlledHost` (import order: packages/simulator/README.md).
 */
import type { Logger } from '@wadm-ts/obs';
import type { HostEnvironment } from './env.js';
import type { LatticeEventType } from './events.js';
import type { WireValue } from './json.js';
import type { RegistryCredential } from './wire.js';

export interface ComponentInstance {
  id: string;
  imageRef: string;
  maxInstances: number;
  annotations: Map<string, string>;
  config: string[];
  limits: Map<string, string> | undefined;
}

export interface ProviderInstance {
  id: string;
  imageRef: string;
  annotations: Map<string, string>;
  config: string[];
  /** `host_id` of the start request: used in this provider's health events. */
  startHostId: string;
  previousHealthy: boolean;
  /** Result of the last health probe, undefined before the first one. */
  lastHealthy: boolean | undefined;
  healthTimer: NodeJS.Timeout | undefined;
}

export type HostState = 'starting' | 'running' | 'stopping' | 'stopped';

/** A running simulated host as its control handlers, health checks and queries use it. */
export interface ControlledHost {
  readonly env: HostEnvironment;
  readonly id: string;
  readonly friendlyName: string;
  readonly labels: Map<string, string>;
  readonly components: Map<string, ComponentInstance>;
  readonly providers: Map<string, ProviderInstance>;
  readonly registries: Map<string, RegistryCredential>;
  readonly log: Logger;
  readonly state: HostState;
  uptimeSeconds(): number;
  /** Publishes a lattice event of this host; false when it was dropped. */
  emit(type: LatticeEventType, data: WireValue): boolean;
  /** First half of a clean stop: no further control requests are answered, the heartbeat stops. */
  beginStop(): void;
  /** Second half of a clean stop: providers and components go away silently, then `host_stopped`. */
  finishStop(): void;
}
