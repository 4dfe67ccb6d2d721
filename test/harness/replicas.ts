/** Start wadm-ts replicas in this process, each with its own NATS connection. */
import { Writable } from 'node:stream';
import { createLogger } from '@wadm-ts/obs';
import { replicaConfigFrom, startReplica, type Replica, type ReplicaConfig } from '@wadm-ts/cli';

export const silent = new Writable({ write: (_c, _e, cb) => cb() });

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
