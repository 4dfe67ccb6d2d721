/** Errors raised by the client itself (transport, local parsing, undecodable replies). */

export const NO_RESPONDERS_MESSAGE =
  'Connection succeeded to lattice but no wadm server was listening. Ensure wadm is running.';

/**
 * - `no_responders`: nothing subscribes to the API subject (wadm is not running on this lattice/prefix);
 * - `timeout`: wadm did not reply in time;
 * - `invalid_manifest`: the manifest failed to parse locally, nothing was sent;
 * - `invalid_argument`: an application name or lattice id that cannot be put in a subject;
 * - `bad_reply`: the reply was not the JSON shape the operation expects;
 * - `api_error`: wadm answered with an error where the operation has no error field (deprecated list form);
 * - `transport`: any other NATS failure.
 */
export type WadmClientErrorKind =
  | 'no_responders'
  | 'timeout'
  | 'invalid_manifest'
  | 'invalid_argument'
  | 'bad_reply'
  | 'api_error'
  | 'transport';

export class WadmClientError extends Error {
  override readonly name = 'WadmClientError';
  readonly kind: WadmClientErrorKind;

  constructor(kind: WadmClientErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}

/** A readable one-line description of any thrown value. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}
