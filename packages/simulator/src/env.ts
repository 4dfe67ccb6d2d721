/** What the simulated hosts of one lattice share. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@wadm-ts/obs';
import type { EventPublisher, LabelledCounter } from './events.js';
import type { CommandCounter, Faults } from './faults.js';
import type { LatticeStore } from './stores.js';

export interface Timing {
  /** Host heartbeat interval; the first heartbeat comes one interval after start. */
  heartbeatIntervalMs: number;
  /** Simulated image fetch: delay between the reply and the events of scale / start / update. */
  fetchDelayMs: number;
  /** Delay of a provider's first health probe after its start (real host: 5 s). */
  healthCheckDelayMs: number;
  /** Interval of the following health probes (real host: 30 s). */
  healthCheckIntervalMs: number;
}

export interface HostEnvironment {
  nc: NatsConnection;
  lattice: string;
  /** `{prefix}.v1.{lattice}` with the account prepended in multitenant mode. */
  ctlBase: string;
  /** `wasmbus.rpc.{lattice}` with the account prepended in multitenant mode. */
  rpcBase: string;
  store: LatticeStore;
  events: EventPublisher;
  faults: Faults;
  counter: CommandCounter;
  commandsMetric: LabelledCounter;
  timing: Timing;
  /** Host version reported everywhere (semver). */
  version: string;
  /** Whether the version is ≥ 1.9 (inventory `limits`, `component_limits`). */
  hasLimits: boolean;
  /** The NATS URL a host reports as `rpc_host` / `ctl_host`. */
  natsUrl: string;
  jsDomain: string | undefined;
  logger: Logger;
  /** Called once when a host has stopped or been killed. */
  onHostGone(hostId: string): void;
}
