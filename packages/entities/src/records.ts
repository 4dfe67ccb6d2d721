/**
 * The records a lattice's owner keeps beside the observed entities in the state bucket (keys
 * `….inflight.{key}` and `….applied.{app}`, see docs/architecture.md). Their payloads are the
 * reconciler's own (opaque here); the epoch fences them.
 */

/** One command issued and not yet observed done, as recorded. */
export interface InFlightEntry {
  key: string;
  command: unknown;
  issuedAt: number;
  expiresAt: number;
}

/**
 * A reconciler's record of commands issued and not yet observed done: one command (`key`, `command`,
 * written by older releases), or a batch of them (`entries`, one record per chunk of a pass; `key` names
 * the batch).
 */
export interface InFlightEntity {
  kind: 'inflight';
  key: string;
  command?: unknown;
  entries?: InFlightEntry[];
  issuedAt: number;
  expiresAt: number;
  /** Lease epoch of the owner that wrote it (fencing: an older owner never overwrites it). */
  epoch?: number;
}

/** A reconciler's record of what it applied for an app. */
export interface AppliedEntity {
  kind: 'applied';
  record: unknown;
  /** Lease epoch of the owner that wrote it. */
  epoch?: number;
}

/** A value as a view holds it: its key and the revision a compare-and-set write or purge must name. */
export interface Keyed<V> {
  key: string;
  revision: number;
  value: V;
}
