/** `wadm serve` and `wadm up`: run one replica until SIGTERM/SIGINT, then drain and exit 0. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { isTcpReachable, startLocalNats, hostPortOf, type LocalNats } from '@wadm-ts/dev';
import { redactServers } from '@wadm-ts/store';
import type { ReplicaConfig } from './config.js';
import { startReplica } from './replica.js';
import { untilSignal } from './signals.js';

export async function serve(cfg: ReplicaConfig, extraCleanup?: () => Promise<void>, signalled: Promise<NodeJS.Signals> = untilSignal()): Promise<void> {
  // Listen before starting: a SIGTERM that arrives while the replica starts drains it as soon as it is up
  // (instead of Node's default of dying on the spot and orphaning what `wadm up` started).
  const replica = await startReplica(cfg);
  const signal = await signalled;
  replica.logger.info({ signal }, 'shutting down: draining');
  const force = setTimeout(() => {
    replica.logger.error('drain took longer than 20 s, exiting');
    process.exit(1);
  }, 20_000);
  force.unref();
  await replica.stop();
  if (extraCleanup) await extraCleanup();
  clearTimeout(force);
}

/**
 * Development mode: when nothing answers at the NATS URL, start `nats-server -js` from PATH with a data
 * directory (default ~/.wadm/jetstream), then serve against it.
 */
export async function up(cfg: ReplicaConfig, dataDir: string | undefined): Promise<void> {
  const signalled = untilSignal();
  let local: LocalNats | undefined;
  if (!(await isTcpReachable(cfg.nats.server, 1000))) {
    const { host, port } = hostPortOf(cfg.nats.server);
    const storeDir = dataDir ?? join(homedir(), '.wadm', 'jetstream');
    await mkdir(storeDir, { recursive: true });
    process.stderr.write(`wadm up: no NATS at ${redactServers(cfg.nats.server)}; starting nats-server -js on ${host}:${port} (data in ${storeDir})\n`);
    local = await startLocalNats({ host, port, storeDir });
  }
  try {
    await serve(cfg, local ? () => local.stop() : undefined, signalled);
  } catch (err) {
    await local?.stop();
    throw err;
  }
}
