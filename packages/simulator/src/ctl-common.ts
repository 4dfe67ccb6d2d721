/** What the control handlers share: the result shape, errors, the simulated fetch / config lookups and auction bids. */
import type { ControlledHost } from './host-model.js';
import type { WireValue } from './json.js';
import { DecodeError } from './serde.js';
import { okWith } from './wire.js';

export interface HandlerResult {
  /** Reply body; undefined = send nothing (auction not won, disabled builtin provider). */
  reply?: string;
  /** Work run after the simulated image fetch (always after the reply when replies are not slowed). */
  async?: () => void;
  /** Run right after the reply was published (host stop). */
  afterReply?: () => void;
}

/** A handler failure: the reply is `{"success":false,"message":<message>}`. */
export class CtlError extends Error {}

export function decode<T>(context: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) throw new CtlError(context);
    throw e;
  }
}

export const SECRET_PREFIX = 'SECRET_';
export const BUILTIN_PREFIX = 'wasmcloud+builtin://';

/** The simulated image fetch: an error text (anyhow chain) or undefined. */
export function fetchError(host: ControlledHost, what: 'component' | 'provider', ref: string): string | undefined {
  if (ref.trim() === '') return `failed to fetch ${what}: invalid reference format: empty reference`;
  const injected = host.env.faults.startFailureFor(ref);
  return injected === undefined ? undefined : `failed to fetch ${what}: ${injected}`;
}

/** Resolves config and secret names like `fetch_config_and_secrets`: an error text or undefined. */
export function configError(host: ControlledHost, names: readonly string[]): string | undefined {
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

function constraintsMet(host: ControlledHost, constraints: ReadonlyMap<string, string>): boolean {
  for (const [k, v] of constraints) if (host.labels.get(k) !== v) return false;
  return true;
}

/** An auction (docs/wire/control-interface.md §3.6; `provider.auction` in the summary table, §3.0): no reply unless the host meets the constraints and does not run the id yet. */
export function auctionBid(
  host: ControlledHost,
  constraints: ReadonlyMap<string, string>,
  running: boolean,
  bid: WireValue,
): HandlerResult {
  if (!constraintsMet(host, constraints) || running) return {};
  return { reply: okWith(bid) };
}
