/**
 * A measured fix for the NATS client, applied once when this package loads.
 *
 * In @nats-io/nats-core 3.x, `RequestOne.resolver()` settles a request's promise and then calls
 * `cancel()`, which builds `new RequestError("cancelled")` to reject that promise — already settled, so
 * the error is thrown away. Capturing its stack was 9% of a busy replica's CPU (one per JetStream
 * publish, KV read and control request: see docs/benchmarks.md). Here a request that was already
 * settled skips building that error; a pending one is cancelled exactly as before. Feature-detected:
 * with a client whose request class differs, nothing is changed.
 */
import { ProtocolHandler, RequestOne } from '@nats-io/nats-core/internal';

interface RequestInternals {
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
  timer?: { cancel(): void };
  mux?: { cancel(r: unknown): void };
  wadmSettled?: boolean;
}

const MARK = Symbol.for('wadm-ts.nats-request-patch');

function patchRequestOne(): boolean {
  const proto = RequestOne.prototype as unknown as RequestInternals & { [MARK]?: true };
  if (proto[MARK]) return true;
  if (typeof proto.resolver !== 'function' || typeof proto.cancel !== 'function') return false;
  const resolver = proto.resolver;
  const cancel = proto.cancel;
  proto.resolver = function (this: RequestInternals, err: Error | null, msg: unknown): void {
    this.wadmSettled = true;
    resolver.call(this, err, msg);
  };
  proto.cancel = function (this: RequestInternals, err?: Error): void {
    if (this.wadmSettled && err === undefined && this.mux) {
      this.timer?.cancel();
      this.mux.cancel(this);
      return;
    }
    cancel.call(this, err);
  };
  proto[MARK] = true;
  return true;
}

/** Whether the request patch is in place (false: the client's internals differ, nothing was changed). */
export const natsRequestPatched = patchRequestOne();

interface ProtocolInternals {
  outbound: { length(): number; size(): number; fill(buf: Uint8Array, ...payloads: Uint8Array[]): void };
  pendingLimit: number;
  flushPending(): void;
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
  [COALESCE]?: true;
}

const COALESCE = Symbol.for('wadm-ts.nats-coalesced-writes');
const utf8 = new TextEncoder();

let sendCommandPatched = false;

/** Patch the client's sendCommand once: connections marked COALESCE flush at setImmediate, the others as shipped. */
function patchSendCommand(): boolean {
  if (sendCommandPatched) return true;
  const proto = ProtocolHandler.prototype as unknown as ProtocolInternals;
  const original = proto.sendCommand;
  if (typeof original !== 'function' || !/queueMicrotask/.test(original.toString()) || typeof proto.flushPending !== 'function') return false;
  sendCommandPatched = true;
  proto.sendCommand = function (this: ProtocolInternals, cmd: string | Uint8Array, ...payloads: Uint8Array[]): void {
    if (this[COALESCE] !== true) return original.call(this, cmd, ...payloads);
    const empty = this.outbound.length() === 0;
    this.outbound.fill(typeof cmd === 'string' ? utf8.encode(cmd) : cmd, ...payloads);
    if (empty) setImmediate(() => this.flushPending());
    else if (this.outbound.size() >= this.pendingLimit) this.flushPending();
  };
  return true;
}

/**
 * Coalesce one connection's socket writes per turn of the event loop. The client writes what it queued
 * at the end of the microtask in which the first of it was queued, so a process that handles many
 * messages per socket read (each answered in its own callback) makes a socket write, with its promise and
 * write callback, for every few messages: a tenth of a busy wadm replica's CPU. On a coalescing
 * connection the flush waits for `setImmediate`, the end of the current turn (never a timer); a buffer
 * past the client's own threshold (32 KiB) is still written at once, and `flush()` still writes at once.
 *
 * Per connection: the replica's control-request connection keeps the client's own timing (a request is
 * on the wire right after the last check before it, see the command worker). Feature-detected: with a
 * client whose internals differ, nothing is changed and it answers false.
 */
export function coalesceSocketWrites(nc: unknown): boolean {
  const protocol = (nc as { protocol?: unknown } | null)?.protocol;
  if (!(protocol instanceof ProtocolHandler) || !patchSendCommand()) return false;
  (protocol as unknown as ProtocolInternals)[COALESCE] = true;
  return true;
}
