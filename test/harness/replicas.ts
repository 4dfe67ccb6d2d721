/** Start wadm-ts replicas in this process, each with its own NATS connection. */
import * as nodeTest from 'node:test';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@wadm-ts/obs';
import { replicaConfigFrom, startReplica, type Replica, type ReplicaConfig } from '@wadm-ts/cli';

export const silent = new Writable({ write: (_c, _e, cb) => cb() });

/** A pino logger at debug whose JSON lines are kept for assertions. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ replica: 'test', level: 'debug', destination: dest }), lines };
}

export function testConfig(natsUrl: string, overrides: Partial<ReplicaConfig> = {}): ReplicaConfig {
  return { ...replicaConfigFrom({ natsServer: natsUrl, streamPersistence: 'memory' }, {}), ...overrides };
}

export async function startReplicas(n: number, natsUrl: string, overrides: Partial<ReplicaConfig> = {}): Promise<Replica[]> {
  const out: Replica[] = [];
  for (let i = 0; i < n; i++) {
    const cfg = testConfig(natsUrl, { replicaId: `test-replica-${i}`, ...overrides });
    const logger = createLogger({ replica: cfg.replicaId, level: process.env['WADM_TEST_LOG'] || 'silent', destination: process.env['WADM_TEST_LOG'] ? process.stderr : silent });
    out.push(await startReplica(cfg, { logger, connectTimeoutMs: 10_000 }));
  }
  return out;
}

/** One fresh nats-server, `n` in-process replicas and a client connection for a test file; see {@link withReplicas}. */
export interface ReplicaFixture {
  readonly nats: import('./nats.js').TestNats;
  readonly nc: import('@nats-io/transport-node').NatsConnection;
  readonly replicas: Replica[];
  /** A simulated lattice on the fixture's server (see simLattice), closed when the file's tests end. */
  lattice(name: string, hosts: number, heartbeatIntervalMs?: number): Promise<import('@wadm-ts/simulator').SimulatedLattice>;
}

/**
 * The set-up most integration files share, registered as the file's (or suite's) before/after hooks:
 * a nats-server, `n` replicas with `overrides`, one connection; everything (simulated lattices
 * included) stopped afterwards. Read the fields inside tests, not at module load.
 */
export function withReplicas(n: number, overrides: Partial<ReplicaConfig> = {}): ReplicaFixture {
  const { before, after } = nodeTest;
  let nats: import('./nats.js').TestNats | undefined;
  let nc: import('@nats-io/transport-node').NatsConnection | undefined;
  const replicas: Replica[] = [];
  const sims: Array<import('@wadm-ts/simulator').SimulatedLattice> = [];
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`withReplicas: ${what} is read before the fixture's before() hook ran`);
    return v;
  };
  before(async () => {
    const { startNats } = await import('./nats.js');
    nats = await startNats();
    nc = await nats.connect();
    replicas.push(...(await startReplicas(n, nats.url, overrides)));
  });
  after(async () => {
    await Promise.all(sims.map((s) => s.close({ graceful: false })));
    await Promise.all(replicas.map((r) => r.stop()));
    await nats?.stop();
  });
  return {
    get nats() {
      return ready(nats, 'nats');
    },
    get nc() {
      return ready(nc, 'nc');
    },
    replicas,
    async lattice(name, hosts, heartbeatIntervalMs) {
      const { simLattice } = await import('./lattice.js');
      const sim = await simLattice(ready(nats, 'nats').url, name, hosts, heartbeatIntervalMs);
      sims.push(sim);
      return sim;
    },
  };
}
