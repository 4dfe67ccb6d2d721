/**
 * Every JetStream stream, durable consumer and KV bucket wadm-ts names (docs/architecture.md, "Streams,
 * buckets, consumers and subjects"). A `…_BESIDE` name is the stream wadm-ts uses beside an existing
 * stream of the canonical name that it cannot use (store's ensureStream).
 */

// Streams.
/** Host events, captured from `wasmbus.evt.*.>`. */
export const HOST_EVENTS_STREAM = 'wasmbus_events';
/** The host event stream's name beside an incompatible `wasmbus_events` (e.g. a multitenant Rust wadm's, on `*.wasmbus.evt.*.>`). */
export const HOST_EVENTS_STREAM_BESIDE = 'wadm_ts_wasmbus_events';
/** wadm's own CloudEvents, `wadm.evt.*.>`. */
export const WADM_EVENTS_STREAM = 'wadm_events';
export const WADM_EVENTS_STREAM_BESIDE = 'wadm_ts_events';
export const STATUS_STREAM = 'wadm_status';
/** Multitenant statuses, `{account}.wadm.status.{lattice}.{name}` (wadm-ts only). */
export const TENANT_STATUS_STREAM = 'wadm_status_tenants';
export const STATUS_STREAM_BESIDE = 'wadm_ts_status';
export const RECONCILE_STREAM = 'wadm_reconcile';
export const COMMAND_STREAM = 'wadm_commands';
/**
 * The command stream's name beside an incompatible `wadm_commands` — the Rust wadm's, which captures
 * `wadm.cmd.*` (work queue, with its per-lattice consumers): wadm-ts leaves that one alone.
 */
export const COMMAND_STREAM_BESIDE = 'wadm_ts_commands';
export const DEAD_LETTER_STREAM = 'wadm_dead_letters';

// Durable consumers.
export const INGEST_CONSUMER = 'wadm_ingest';
export const WORK_CONSUMER = 'wadm_lattice_work';
/** Per-lattice work consumers of an older design, removed when found. */
export const LEGACY_WORK_CONSUMER_PREFIX = 'wadm_rc_';
export const COMMAND_CONSUMER = 'wadm_command_workers';

// KV buckets.
export const DEFAULT_MANIFEST_BUCKET = 'wadm_manifests';
export const DEFAULT_STATE_BUCKET = 'wadm_state';
export const LEASE_BUCKET = 'wadm_leases';

/** The stream behind KV bucket `name`. */
export function bucketStream(name: string): string {
  return `KV_${name}`;
}

/** The subject of key `key` in KV bucket `bucket`. */
export function bucketKeySubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}
