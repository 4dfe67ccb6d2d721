/**
 * Starting a local `nats-server -js` (for `wadm up` and for the test harness), and checking whether a
 * NATS URL answers. The only place wadm-ts spawns nats-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
}

export interface LocalNats {
  url: string;
  host: string;
  port: number;
  storeDir: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export class NatsServerMissingError extends Error {
  constructor(binary: string) {
    super(
      `'${binary}' was not found on PATH. Install NATS server 2.9 or later, for example ` +
        '`apt-get install -y nats-server` (Debian/Ubuntu) or download it from the NATS releases, ' +
        'or point WADM_NATS_SERVER at a running server.',
    );
    this.name = 'NatsServerMissingError';
  }
}

/** A free TCP port on host, found by binding port 0. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Split `nats://user:pass@host:port`, `host:port` or `host` into host and port (default 4222). */
export function hostPortOf(url: string): { host: string; port: number } {
  const first = url.split(',')[0]!.trim();
  const withScheme = /^[a-z]+:\/\//i.test(first) ? first : `nats://${first}`;
  const u = new URL(withScheme);
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port ? Number(u.port) : 4222 };
}

/** True when something accepts TCP connections at the URL's host:port within timeoutMs. */
export async function isTcpReachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = hostPortOf(url);
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function waitReachable(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delayMs = 10;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode} before accepting connections`);
    if (await isTcpReachable(url, 200)) return;
    await new Promise((r) => setTimeout(r, delayMs));
    delayMs = Math.min(delayMs * 2, 200);
  }
  throw new Error(`nats-server did not accept connections at ${url} within ${timeoutMs} ms`);
}

export async function startLocalNats(opts: LocalNatsOptions = {}): Promise<LocalNats> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port && opts.port > 0 ? opts.port : await freePort(host);
  const ownDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), 'wadm-nats-')));
  const binary = opts.binary ?? 'nats-server';
  const args = ['-js', '-a', host, '-p', String(port), '-sd', storeDir];
  if (opts.maxPayload !== undefined) {
    const conf = join(storeDir, 'wadm-nats.conf');
    await writeFile(conf, `max_payload: ${opts.maxPayload}\n`);
    args.push('-c', conf);
  }
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new NatsServerMissingError(binary) : err));
  });
  await spawned;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (opts.onLog) for (const line of chunk.split('\n')) if (line.trim()) opts.onLog(line);
  });
  const url = `nats://${host}:${port}`;
  try {
    await waitReachable(url, child, 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    storeDir,
    pid: child.pid,
    stop(): Promise<void> {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        }
        if (ownDir) await rm(storeDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
