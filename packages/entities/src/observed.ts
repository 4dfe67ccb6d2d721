/**
 * What wadm-ts has observed of a lattice, one value per entity as kept in the state bucket (key layout in
 * `@wadm-ts/store` lattice-state.ts). Every entity carries `seq`, the stream sequence of the last lattice
 * event that set it; deletions are kept as tombstones (`deleted: true`). Plain data only.
 */
import type { LinkDef } from '@wadm-ts/protocol';

/** The bookkeeping every entity carries. */
export interface Versioned {
  /** Stream sequence of the last event that set this entity (0 when set without an event). */
  seq: number;
  deleted?: boolean;
  /** Server time (ms) of the deletion, for tombstone garbage collection. */
  deletedAt?: number;
}

export interface HostEntity extends Versioned {
  kind: 'host';
  id: string;
  friendlyName: string;
  labels: Record<string, string>;
  version: string;
  uptimeSeconds: number;
  /** Server time (ms) of the last event from this host. */
  lastSeen: number;
  /** Set on the tombstone when the host was expired for silence (not stopped cleanly). */
  expired?: boolean;
  /** Sequence of the event the labels come from (a heartbeat or a `labels_changed`: labels have their own order). */
  labelsSeq?: number;
}

export interface ComponentEntity extends Versioned {
  kind: 'component';
  hostId: string;
  componentId: string;
  imageRef: string;
  maxInstances: number;
  annotations: Record<string, string>;
}

export type ProviderHealth = 'unknown' | 'healthy' | 'unhealthy';

export interface ProviderEntity extends Versioned {
  kind: 'provider';
  hostId: string;
  providerId: string;
  imageRef: string;
  annotations: Record<string, string>;
  health: ProviderHealth;
  /** Sequence of the health event `health` comes from (health has its own order). */
  healthSeq?: number;
  /** Sequence of the `provider_started` of this run of the provider (health events before it are stale). */
  startSeq?: number;
}

export interface LinkEntity extends Versioned {
  kind: 'link';
  link: LinkDef;
}

export interface ConfigEntity extends Versioned {
  kind: 'config';
  name: string;
  /** Digest of the values (`configDigest`) when a `config.get` read them; unknown after a bare `config_set`. */
  digest?: string;
}

export interface FailureEntity extends Versioned {
  kind: 'failure';
  /** What failed: a component scale, a provider start, a link put. */
  what: 'component' | 'provider' | 'link';
  /** component id, provider id, or link key. */
  subject: string;
  hostId?: string;
  imageRef?: string;
  annotations?: Record<string, string>;
  error: string;
  /** Server time (ms). */
  at: number;
}

export type Entity = HostEntity | ComponentEntity | ProviderEntity | LinkEntity | ConfigEntity | FailureEntity;

/** The live (non-tombstone) entities of one lattice as plain data. */
export interface LatticeEntities {
  hosts: HostEntity[];
  components: ComponentEntity[];
  providers: ProviderEntity[];
  links: LinkEntity[];
  configs: ConfigEntity[];
}

/** What a planner sees of a lattice: its live entities and its recent failures. */
export interface ObservedLattice extends LatticeEntities {
  /** Recent failure events (component_scale_failed, provider_start_failed, linkdef_set_failed). */
  failures: FailureEntity[];
}
