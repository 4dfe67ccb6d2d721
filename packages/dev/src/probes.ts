/** Probes of a NATS server: free ports, URL parsing, TCP reachability and the monitoring `/healthz`. */
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';

/**
 * A free TCP port on `host`, below the kernel's ephemeral range (`ip_local_port_range`): a random one
 * that can be bound, else (after 50 tries) one the kernel picks. Servers that are restarted on the same
 * ports (a killed cluster node, a restarted nats-server) would otherwise find their port taken in
 * between: the kernel hands out ephemeral ports to every other `listen(0)` and outgoing connection on
 * the machine, and a test suite running files side by side asks for hundreds.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const below = ephemeralLow();
  for (let attempt = 0; attempt < 50 && below > LOWEST + 1000; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
    if (await bindable(host, port)) return port;
  }
  return listenPort(host, 0);
}

/** Ports below this are left alone (well-known and registered services). */
const LOWEST = 10_000;

let ephemeral: number | undefined;
/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralLow(): number {
  if (ephemeral !== undefined) return ephemeral;
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    ephemeral = Number.isInteger(first) && first > 0 ? first : 32_768;
  } catch {
    ephemeral = 32_768;
  }
  return ephemeral;
}

function bindable(host: string, port: number): Promise<boolean> {
  return listenPort(host, port).then(
    () => true,
    () => false,
  );
}

/** Listen on `port` (0: any), close again, and resolve with the port that was bound. */
function listenPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(bound));
    });
  });
}

/** `n` distinct free ports (freePort can hand out the same port twice once it is released). */
export async function freePorts(host: string, n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort(host));
  return [...out];
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
export async function waitReachable(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delayMs = 10;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server exited with code ${child.exitCode ?? child.signalCode} before accepting connections at ${url}`);
    if (await isTcpReachable(url, 200)) return;
    await new Promise((r) => setTimeout(r, delayMs));
    delayMs = Math.min(delayMs * 2, 200);
  }
  throw new Error(`nats-server did not accept connections at ${url} within ${timeoutMs} ms`);
}

/** GET `http://host:port/healthz` of a server's monitoring port: true on 200. */
export function natsHealthy(host: string, monitorPort: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host, port: monitorPort, path: '/healthz', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}
