/** Probes of a NATS server: free ports, URL parsing, TCP reachability and the monitoring `/healthz`. */
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer, connect as tcpConnect } from 'node:net';

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

/** `n` distinct free ports (freePort can hand out the same port twice once it is released). */export async function freePorts(host: string, n: number): Promise<number[]> {
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
