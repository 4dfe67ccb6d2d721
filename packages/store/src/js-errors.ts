/**
 * JetStream API errors recognised by their `err_code` (the nats-server's error identifiers), never by
 * message text: the texts differ between server versions, the codes do not.
 */
import { JetStreamApiError } from '@nats-io/jetstream';

export const JsErrCode = {
  /** "consumer name already in use" (a durable created again with another config, nats-server 2.9). */
  ConsumerNameExists: 10013,
  ConsumerNotFound: 10014,
  NoMessageFound: 10037,
  StreamNameExists: 10058,
  StreamNotFound: 10059,
  SubjectsOverlap: 10065,
  /** "wrong last sequence": a lost compare-and-set (KV create/update, expected last subject sequence). */
  WrongLastSequence: 10071,
  ReplicasNotSupported: 10074,
  /** "multiple non-filtered consumers not allowed on workqueue stream". */
  WorkQueueMultipleUnfiltered: 10099,
  /** "filtered consumer not unique on workqueue stream". */
  WorkQueueFilterNotUnique: 10100,
  /** "consumer already exists and is still active". */
  ConsumerExistingActive: 10105,
  /** "consumer already exists" (action CREATE with another config, nats-server 2.10+). */
  ConsumerAlreadyExists: 10148,
  /** "wrong last sequence" when the server cannot tell the last sequence (2.10+). */
  WrongLastSequenceUnknown: 10164,
} as const;

/** `err` and its `cause` chain (bounded, cycle-safe). */
export function errorCauses(err: unknown): unknown[] {
  const out: unknown[] = [];
  let e: unknown = err;
  while (e !== undefined && e !== null && out.length < 8 && !out.includes(e)) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** The JetStream `err_code` of `err` or of one of its causes. */
export function jetStreamErrCode(err: unknown): number | undefined {
  for (const e of errorCauses(err)) {
    if (e instanceof JetStreamApiError) return e.code;
    const api = (e as { apiError?: () => { err_code?: number } | undefined } | null)?.apiError?.();
    if (api?.err_code !== undefined) return api.err_code;
  }
  return undefined;
}

function hasCode(err: unknown, ...codes: number[]): boolean {
  const code = jetStreamErrCode(err);
  return code !== undefined && codes.includes(code);
}

/** A consumer of that name exists already (with another configuration). */
export const isConsumerExists = (err: unknown): boolean =>
  hasCode(err, JsErrCode.ConsumerNameExists, JsErrCode.ConsumerAlreadyExists, JsErrCode.ConsumerExistingActive);

/** A direct/last-by-subject get found no message (or the stream itself is missing). */
export const isNoMessage = (err: unknown): boolean => hasCode(err, JsErrCode.NoMessageFound, JsErrCode.StreamNotFound);

export const isStreamNotFound = (err: unknown): boolean => hasCode(err, JsErrCode.StreamNotFound);
export const isStreamNameExists = (err: unknown): boolean => hasCode(err, JsErrCode.StreamNameExists);
export const isSubjectsOverlap = (err: unknown): boolean => hasCode(err, JsErrCode.SubjectsOverlap);
export const isWorkQueueConsumerConflict = (err: unknown): boolean =>
  hasCode(err, JsErrCode.WorkQueueMultipleUnfiltered, JsErrCode.WorkQueueFilterNotUnique);

/** A lost compare-and-set: KV create of an existing key, update/put with a stale revision. */
export const isCasConflict = (err: unknown): boolean => hasCode(err, JsErrCode.WrongLastSequence, JsErrCode.WrongLastSequenceUnknown);
