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
import { RequestOne } from '@nats-io/nats-core/internal';

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

