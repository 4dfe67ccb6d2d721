/** Test harness: a real nats-server -js on a free port with its own temp store. Never a mock. */
import { startLocalNats, type LocalNats } from '@wadm-ts/dev';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface TestNats extends LocalNats {
  connect(): Promise<NatsConnection>;
}

/**
 * 16 MiB payloads so that oversize-body handling of the API (1 MiB default) can be exercised. With `log`,
 * nats-server's own log lines (slow consumers, closed connections) are appended to it.
 */
export async function startNats(opts: { log?: string[] } = {}): Promise<TestNats> {
  const { log } = opts;
  const server = await startLocalNats({ maxPayload: 16 * 1024 * 1024, ...(log ? { onLog: (l: string) => void log.push(l) } : {}) });
  const conns: NatsConnection[] = [];
  return {
    ...server,
    async connect() {
      const nc = await connect({ servers: server.url });
      conns.push(nc);
      return nc;
    },
    async stop() {
      await Promise.all(conns.map((c) => (c.isClosed() ? undefined : c.close())));
      await server.stop();
    },
  };
}

/** Poll `check` until it returns a truthy value or throw after timeoutMs (no fixed sleeps in tests). */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** A real 3-node (by default) nats-server JetStream cluster on loopback; each node can be killed and restarted. */
export async function startNatsCluster(
  opts: { nodes?: number; waitForJetStream?: boolean; startNodes?: number; log?: string[] } = {},
): Promise<import('@wadm-ts/dev').LocalNatsCluster> {
  const { startLocalNatsCluster } = await import('@wadm-ts/dev');
  const { log, ...rest } = opts;
  return startLocalNatsCluster({ ...rest, maxPayload: 16 * 1024 * 1024, ...(log ? { onLog: (node: string, line: string) => log.push(`${node} ${line}`) } : {}) });
}
