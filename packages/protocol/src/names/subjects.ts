/**
 * Every NATS subject wadm-ts publishes, subscribes to or captures in a stream, with its builder and, where
 * wadm-ts reads one back, its parser (docs/architecture.md, "Streams, buckets, consumers and subjects").
 * The API's grammar is in api-subject.ts (docs/wire/api.md §1.1).
 */
import { accountPrefix, keyToken, refOfTokens, refTokens, type LatticeRef } from './tokens.js';

// Host events (docs/wire/control-interface.md): what the hosts publish and ingest captures.

/** The event stream's subject filter: `wasmbus.evt.*.>`, multitenant `*.wasmbus.evt.*.>`. */
export function hostEventSubjects(multitenant: boolean): string {
  return multitenant ? '*.wasmbus.evt.*.>' : 'wasmbus.evt.*.>';
}

/** `{account.}wasmbus.evt.{lattice}.{type}` */
export function hostEventSubject(lattice: string, type: string, account?: string): string {
  return `${accountPrefix(account)}wasmbus.evt.${lattice}.${type}`;
}

/** `wasmbus.evt.{lattice}.{type}` or, multitenant, `{account}.wasmbus.evt.{lattice}.{type}`. */
export function parseEventSubject(subject: string): { account?: string; lattice: string; type: string } | undefined {
  const t = subject.split('.');
  if (t.length === 4 && t[0] === 'wasmbus' && t[1] === 'evt') return { lattice: t[2]!, type: t[3]! };
  if (t.length === 5 && t[1] === 'wasmbus' && t[2] === 'evt') return { account: t[0]!, lattice: t[3]!, type: t[4]! };
  return undefined;
}

// The control interface (docs/wire/control-interface.md §1).

/** `{account.}wasmbus.ctl.v1.{lattice}.{suffix}` */
export function ctlSubject(lattice: string, suffix: string, account?: string): string {
  return `${accountPrefix(account)}wasmbus.ctl.v1.${lattice}.${suffix}`;
}

// Statuses (stream wadm_status / wadm_status_tenants).

export const STATUS_SUBJECTS = 'wadm.status.*.*';
export const TENANT_STATUS_SUBJECTS = '*.wadm.status.*.*';

/**
 * `wadm.status.{lattice}.{name}`; in multitenant mode `{account}.wadm.status.{lattice}.{name}` (a
 * departure from the Rust wadm, which drops the account there, so tenants with the same lattice id and
 * app name would share one status).
 */
export function statusSubject(lattice: string, name: string, account?: string): string {
  return `${accountPrefix(account)}wadm.status.${lattice}.${name}`;
}

/** The app name of a status subject (its last token). */
export function appOfStatusSubject(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}

// wadm's own events (stream wadm_events).

export const WADM_EVENT_SUBJECTS = 'wadm.evt.*.>';

export type WadmEventKind = 'application_status' | 'manifest_published' | 'manifest_unpublished' | 'rollout_reverted';

/**
 * `wadm.evt.{lattice}.{kind}`; with an account, `{account}.wadm.evt.…` (as statuses are announced in
 * multitenant mode).
 */
export function wadmEventSubject(lattice: string, kind: WadmEventKind, account?: string): string {
  return `${accountPrefix(account)}wadm.evt.${lattice}.${kind}`;
}

// Reconcile signals (stream wadm_reconcile): "lattice L needs reconciling".

export const RECONCILE_SUBJECTS = 'wadm.reconcile.*.*';

/** `wadm.reconcile.{account|_}.{lattice}` */
export function reconcileSubject(l: LatticeRef): string {
  return `wadm.reconcile.${refTokens(l)}`;
}

export function parseReconcileSubject(subject: string): LatticeRef | undefined {
  const t = subject.split('.');
  if (t.length !== 4 || t[0] !== 'wadm' || t[1] !== 'reconcile') return undefined;
  return refOfTokens(t[2]!, t[3]!);
}

// Commands (stream wadm_commands / wadm_ts_commands).

export const COMMAND_SUBJECTS = 'wadm.cmd.*.*';

/** `wadm.cmd.{account|_}.{lattice}` */
export function commandSubject(l: LatticeRef): string {
  return `wadm.cmd.${refTokens(l)}`;
}

// Dead letters (stream wadm_dead_letters).

export const DEAD_LETTER_SUBJECTS = 'wadm.dlq.>';

/** `wadm.dlq.ingest.{lattice}`: an event ingest gave up on. */
export function ingestDeadLetterSubject(lattice: string): string {
  return `wadm.dlq.ingest.${keyToken(lattice)}`;
}
