/**
 * Telling transient JetStream failures (timeouts, no responders, leader elections, a cluster still
 * forming, a connection in the middle of reconnecting) from real ones, and retrying the transient ones
 * with jittered exponential backoff instead of exiting.
 *
 * What the @nats-io 3.4 client throws (read from its lib/):
 * - `errors.TimeoutError` (`timeout`) when a request gets no reply in time: a JetStream API request to a
 *   cluster without a meta leader yet, or one sent while the connection was down.
 * - `errors.RequestError` wrapping `errors.NoRespondersError` (core requests), and
 *   `JetStreamNotEnabled("jetstream is not enabled", { cause: RequestError(no responders) })` for
 *   JetStream API requests that nobody answered (a server that is starting, or one without JetStream:
 *   the two look the same on the wire).
 * - `errors.RequestError("connection disconnected")` for a flush/rtt while reconnecting.
 * - `JetStreamApiError` (and its subclasses `StreamNotFoundError`, `ConsumerNotFoundError`) with the
 *   server's `err_code` as `.code` and HTTP-like status as `.status`.
 * - `errors.ClosedConnectionError` / `errors.DrainingConnectionError` once the connection is closed or
 *   draining: NOT transient — wadm-ts connects with unlimited reconnects, so a closed connection never
 *   comes back, and retrying on it would spin.
 */
import { errors as coreErrors, RequestError, TimeoutError } from '@nats-io/transport-node';
// `@nats-io/jetstream` exports JetStreamApiError; the other error classes only through its `./internal` entry.
import { JetStreamApiError, JetStreamStatusError, jserrors } from '@nats-io/jetstream/internal';

const { JetStreamNotEnabled } = jserrors;
import type { Logger } from '@wadm-ts/obs';
import { errorCauses as causes, jetStreamErrCode, JsErrCode } from './js-errors.js';

/** Server `err_code`s (nats-server errors.json) that mean "try again shortly". */
export const TRANSIENT_JS_ERR_CODES: ReadonlyMap<number, string> = new Map([
  [10004, 'incomplete results (cluster)'],
  [10005, 'no suitable peers for placement (the cluster is still forming, or fewer JetStream servers than replicas)'],
  [10008, 'JetStream system temporarily unavailable (no meta leader yet)'],
  [10009, 'JetStream cluster can not handle request (not the leader)'],
  [10023, 'insufficient resources'],
  [10077, 'storing the message failed (e.g. no quorum)'],
  [10118, 'stream is offline'],
  [10119, 'consumer is offline'],
]);

/** Server `err_code`s that are definitely not transient even though their status is 503. */
const PERMANENT_503 = new Set([10010, 10036, 10039, 10076]);

/** Last resort for errors the client raises without a class or code of its own (e.g. a watcher's plain Error). */
const TRANSIENT_TEXT = /\btimeout\b|timed out|no responders|temporarily unavailable|not the leader|no leader|leader(ship)? (election|change)|stream is offline|consumer is offline|no quorum|connection disconnected|reconnecting|insufficient resources|incomplete results/i;


/** Why `err` counts as transient (for logs), or undefined when it does not. */
export function transientReason(err: unknown): string | undefined {
  const chain = causes(err);
  for (const e of chain) {
    if (e instanceof coreErrors.ClosedConnectionError || e instanceof coreErrors.DrainingConnectionError) return undefined;
  }
  for (const e of chain) {
    if (e instanceof TimeoutError) return 'request timed out';
    if (e instanceof coreErrors.NoRespondersError) return 'no responders';
    if (e instanceof RequestError) {
      if (e.isNoResponders()) return 'no responders';
      if (/connection disconnected/i.test(e.message)) return 'connection disconnected (reconnecting)';
    }
    if (e instanceof coreErrors.ConnectionError) return `connection error: ${e.message}`;
    if (e instanceof JetStreamApiError) {
      const known = TRANSIENT_JS_ERR_CODES.get(e.code);
      if (known) return `${known} (err_code ${e.code})`;
      if (e.status === 503 && !PERMANENT_503.has(e.code)) return `JetStream answered 503: ${e.message} (err_code ${e.code})`;
      return undefined;
    }
    if (e instanceof JetStreamStatusError) {
      if (e.code === 503) return 'no responders (503)';
      if (e.code === 408) return 'request timeout (408)';
      return undefined;
    }
  }
  // JetStreamNotEnabled without a no-responders cause is the account-level "not enabled" (10039): permanent.
  if (chain.some((e) => e instanceof JetStreamNotEnabled)) return undefined;
  const text = chain.map((e) => (e instanceof Error ? e.message : String(e))).join(' <- ');
  return TRANSIENT_TEXT.test(text) ? `transient by message: ${text}` : undefined;
}

/** True for failures that go away by themselves: retry them, never exit on them. */
export function isTransientJetStreamError(err: unknown): boolean {
  return transientReason(err) !== undefined;
}

/** Thrown by retryTransient when it was stopped before succeeding. */
export class RetryAbortedError extends Error {
  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what}: stopped before it succeeded`, options);
    this.name = 'RetryAbortedError';
  }
}

/** A failure that is not transient, carrying what was being attempted. */
export class JetStreamOperationError extends Error {
  constructor(
    readonly what: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(`${what}: ${describeError(options.cause)}`, options);
    this.name = 'JetStreamOperationError';
  }
}

/** `message (name, err_code N)` of any error, for logs. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = jetStreamErrCode(err);
  const cause = err.cause instanceof Error && err.cause.message !== err.message ? ` <- ${err.cause.message}` : '';
  return `${err.message}${cause} (${err.name}${code !== undefined ? `, err_code ${code}` : ''})`;
}

export interface RetryOptions {
  logger: Pick<Logger, 'warn'>;
  /** Abort the retries (between attempts). */
  signal?: AbortSignal;
  /** Checked before every attempt and after every wait: true stops the retries. */
  stopped?: () => boolean;
  /** First delay, ms (default 100). */
  initialDelayMs?: number;
  /** Largest delay between attempts, ms (default 5000). */
  maxDelayMs?: number;
  /** Give up after this many attempts (default: never, for transient errors). */
  maxAttempts?: number;
  /** Extra log fields. */
  context?: Record<string, unknown>;
  /** Also retry these (besides the transient ones). */
  retryIf?: (err: unknown) => boolean;
}

/** Delay before retry `attempt` (0-based): exponential, capped, "equal jitter" (half fixed, half random). */
export function backoffDelay(attempt: number, initialMs = 100, maxMs = 5000): number {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Resolve after ms, or as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Run `fn` until it succeeds. Transient JetStream failures (see `isTransientJetStreamError`) are
 * retried with jittered exponential backoff, each retry logged as a warning with `what`, the attempt,
 * the reason and the delay; any other failure is thrown at once as a `JetStreamOperationError` naming
 * `what`. Stopping (signal or `stopped()`) throws `RetryAbortedError`.
 */
export async function retryTransient<T>(what: string, fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const isStopped = (): boolean => opts.signal?.aborted === true || opts.stopped?.() === true;
  for (let attempt = 0; ; attempt++) {
    if (isStopped()) throw new RetryAbortedError(what);
    try {
      return await fn(attempt);
    } catch (err) {
      if (err instanceof RetryAbortedError) throw err;
      const reason = transientReason(err) ?? (opts.retryIf?.(err) ? describeError(err) : undefined);
      if (reason === undefined) throw new JetStreamOperationError(what, attempt + 1, { cause: err });
      if (opts.maxAttempts !== undefined && attempt + 1 >= opts.maxAttempts) throw new JetStreamOperationError(`${what} (gave up after ${attempt + 1} attempts)`, attempt + 1, { cause: err });
      if (isStopped()) throw new RetryAbortedError(what, { cause: err });
      const delayMs = backoffDelay(attempt, opts.initialDelayMs ?? 100, opts.maxDelayMs ?? 5000);
      opts.logger.warn({ ...opts.context, what, attempt: attempt + 1, reason, err: describeError(err), retryInMs: delayMs }, `${what} failed transiently; retrying`);
      await sleep(delayMs, opts.signal);
    }
  }
}

/**
 * True when a stream or consumer is gone: `StreamNotFoundError` / `ConsumerNotFoundError` (err_code
 * 10059 / 10014), or the pull status `409 consumer deleted` / `409 stream deleted` — e.g. after a server
 * with memory storage restarted, or an operator deleted it. The cure is re-creating it, not waiting.
 */
export function isMissingResource(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e instanceof jserrors.StreamNotFoundError || e instanceof jserrors.ConsumerNotFoundError) return true;
    const code = e instanceof JetStreamApiError ? e.code : undefined;
    if (code === JsErrCode.StreamNotFound || code === JsErrCode.ConsumerNotFound) return true;
    // Below: errors the client raises itself, without a server err_code (a pull's 409 status, an iterator's
    // JetStreamError); their description is all there is.
    if (e instanceof JetStreamStatusError && e.code === 409 && /consumer deleted|stream deleted/i.test(e.message)) return true;
    if (e instanceof Error && /^(stream|consumer) not found$|consumer deleted|stream deleted/i.test(e.message)) return true;
  }
  return false;
}
