/**
 * Starting local `nats-server -js` processes (for `wadm up` and for the test harness): one server
 * (this file), a JetStream cluster of several on loopback (`cluster.ts`), probes (`probes.ts`); the process itself
 * in `process.ts`. Servers can be killed and started again on the same ports and store
 * directories, so tests can restart them mid-run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './probes.js';
import { NatsProcess, processHandle, type LocalNats } from './process.js';

export interface LocalNatsOptions {
  host?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** JetStream store directory; a fresh temp dir (removed on stop) when absent. */
  storeDir?: string;
  /** Max message payload in bytes (server default 1 MiB). */
  maxPayload?: number;
  /** Binary to run; `nats-server` from PATH by default. */
  binary?: string;
  /** Pipe the server's stderr here (for `wadm up`). */
  onLog?: (line: string) => void;
  /** `server_name` (JetStream needs unique names in a cluster). */
  serverName?: string;
  /** HTTP monitoring port (`/healthz`, `/jsz`); none when absent. */
  monitorPort?: number;
  /** More server configuration (nats-server config syntax: `authorization {…}`, `tls {…}`), for tests. */
  config?: string;
}
export async function startLocalNats(opts: LocalNatsOptions = {}): Promise<LocalNats> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port && opts.port > 0 ? opts.port : await freePort(host);
  const ownDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), 'wadm-nats-')));
  const binary = opts.binary ?? 'nats-server';
  const args = ['-js', '-a', host, '-p', String(port), '-sd', storeDir];
  if (opts.serverName) args.push('-n', opts.serverName);
  if (opts.monitorPort) args.push('-m', String(opts.monitorPort));
  if (opts.maxPayload !== undefined || opts.config !== undefined) {
    const conf = join(storeDir, 'wadm-nats.conf');
    await writeFile(conf, `${opts.maxPayload !== undefined ? `max_payload: ${opts.maxPayload}\n` : ''}${opts.config ?? ''}\n`);
    args.push('-c', conf);
  }
  const url = `nats://${host}:${port}`;
  const proc = new NatsProcess(binary, args, url, opts.onLog);
  await proc.start();
  return processHandle(proc, { url, host, port, storeDir }, async () => {
    if (ownDir) await rm(storeDir, { recursive: true, force: true });
  });
}
