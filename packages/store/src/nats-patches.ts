/**
 * Two measured fixes for the NATS client, applied once when this package loads.
 *
 * In @nats-io/nats-core 3.x, `RequestOne.resolver()` settles a request's promise and then calls
 * `cancel()`, which builds `new RequestError("cancelled")` to reject that promise — already settled, so
 * the error is thrown away. Capturing its stack was 9% of a busy replica's CPU (one per JetStream
 * publish, KV read and control request: see docs/benchmarks.md). Here a request that was already
 * settled skips building that error; a pending one is cancelled exactly as before. Feature-detected:
 * with a client whose request class differs, nothing is changed.
 */
import { ProtocolHandler, RequestOne, TE } from '@nats-io/nats-core/internal';

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

/**
 * Socket writes once per turn of the event loop, not once per microtask wave. nats-core queues what a
 * connection sends and flushes it in a microtask; a busy replica publishes from many promise chains, so
 * the flush ran almost per message, and the socket writes (one system call each) were a tenth of its
 * CPU during the deploy benchmark. Here the first queued command schedules the flush with
 * `setImmediate`: everything sent during the turn leaves in one write. The client's own limit still
 * flushes a large queue at once. Feature-detected like the request patch.
 */
interface ProtocolInternals {
  outbound: { length(): number; size(): number; fill(buf: Uint8Array, ...payloads: Uint8Array[]): void };
  pendingLimit: number;
  flushPending(): void;
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
  wadmFlushScheduled?: boolean;
}

function patchSendCommand(): boolean {
  const proto = ProtocolHandler.prototype as unknown as ProtocolInternals & { [MARK]?: true };
  if (proto[MARK]) return true;
  if (typeof proto.sendCommand !== 'function' || typeof proto.flushPending !== 'function') return false;
  proto.sendCommand = function (this: ProtocolInternals, cmd: string | Uint8Array, ...payloads: Uint8Array[]): void {
    const buf = typeof cmd === 'string' ? TE.encode(cmd) : cmd;
    this.outbound.fill(buf, ...payloads);
    if (this.outbound.size() >= this.pendingLimit) {
      this.flushPending();
      return;
    }
    if (this.wadmFlushScheduled) return;
    this.wadmFlushScheduled = true;
    setImmediate(() => {
      this.wadmFlushScheduled = false;
      this.flushPending();
    });
  };
  proto[MARK] = true;
  return true;
}

/** Whether socket writes are coalesced per event-loop turn (false: the client's internals differ). */
export const natsWritesCoalesced = patchSendCommand();
