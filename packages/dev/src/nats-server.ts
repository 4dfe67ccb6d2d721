/**
 * Starting local `nats-server -js` processes (for `wadm up` and for the test harness) — one server, or a
 * JetStream cluster of several on loopback — and checking whether a NATS URL answers. The only place
 * wadm-ts spawns nats-server. Servers can be killed and started again on the same ports and store
 * directories, so tests can restart them mid-run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
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
  /** `server_name` (JetStream needs unique names in a cluster). */
  serverName?: string;
  /** HTTP monitoring port (`/healthz`, `/jsz`); none when absent. */
  monitorPort?: number;
  /** More server configuration (nats-server config syntax: `authorization {…}`, `tls {…}`), for tests. */
  config?: string;
}

export interface LocalNats {
  url: string;
  host: string;
  port: number;
  storeDir: string;
  /** Pid of the current process (changes on restart; undefined while killed). */
  readonly pid: number | undefined;
  /** True while the server process runs. */
  running(): boolean;
  /** Kill the process (SIGKILL by default) and wait for it to exit; the store directory is kept. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start the server again on the same port and store directory (after kill, or kills first when running). */
  restart(opts?: { signal?: NodeJS.Signals }): Promise<void>;
  /** Stop for good (SIGTERM, SIGKILL after 5 s) and remove the store when it was a temp dir. */
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

/** `n` distinct free ports (freePort can hand out the same port twice once it is released). */
async function freePorts(host: string, n: number): Promise<number[]> {
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

async function waitReachable(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
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

/** Children still running when this process exits (even by an uncaught exception) are killed with it. */
const liveChildren = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
}

/** One nats-server process that can be killed and started again with the same arguments. */
class NatsProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly tail: string[] = [];

  constructor(
    private readonly binary: string,
    private readonly args: string[],
    readonly url: string,
    private readonly onLog?: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.running() ? this.child?.pid : undefined;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    track(child);
    this.exited = new Promise<void>((r) => child.once('exit', () => r()));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new NatsServerMissingError(this.binary) : err));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > 20) this.tail.shift();
        this.onLog?.(line);
      }
    });
    try {
      await waitReachable(this.url, child, 15_000);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}; last log lines: ${this.tail.slice(-5).join(' | ')}`, { cause: err });
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    child.kill(signal);
    const t = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    if (t) clearTimeout(t);
  }
}

function processHandle(proc: NatsProcess, base: { url: string; host: string; port: number; storeDir: string }, cleanup: () => Promise<void>): LocalNats {
  let stopped: Promise<void> | undefined;
  return {
    ...base,
    get pid() {
      return proc.pid;
    },
    running: () => proc.running(),
    kill: (signal) => proc.kill(signal ?? 'SIGKILL'),
    async restart(opts = {}): Promise<void> {
      if (stopped) throw new Error(`nats-server at ${base.url} was stopped; it cannot be restarted`);
      await proc.kill(opts.signal ?? 'SIGKILL');
      await proc.start();
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        await proc.kill('SIGTERM');
        await cleanup();
      })();
      return stopped;
    },
  };
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

export interface LocalNatsClusterOptions {
  /** Number of servers (default 3). */
  nodes?: number;
  host?: string;
  /** `cluster.name` (default `wadm-test`). */
  clusterName?: string;
  /** Parent of each node's store directory; a fresh temp dir (removed on stop) when absent. */
  baseDir?: string;
  maxPayload?: number;
  binary?: string;
  onLog?: (node: string, line: string) => void;
  /** Wait until every node's `/healthz` answers 200 (JetStream meta leader elected) before returning. Default false: only TCP. */
  waitForJetStream?: boolean;
  /** Start only the first N nodes (default all); start the others later with `node(i).restart()`. With fewer than a quorum, JetStream stays unavailable. */
  startNodes?: number;
}

export interface LocalNatsClusterNode extends LocalNats {
  /** `server_name`: `n1`, `n2`, … */
  name: string;
  clusterPort: number;
  monitorPort: number;
  /** `/healthz` answers 200. */
  healthy(): Promise<boolean>;
}

export interface LocalNatsCluster {
  nodes: readonly LocalNatsClusterNode[];
  /** Client URLs of every node. */
  urls: string[];
  /** The client URLs comma-separated (the form `-s` / `WADM_NATS_SERVER` take). */
  url: string;
  /** Node by index or by name. */
  node(which: number | string): LocalNatsClusterNode;
  /** The node whose client URL (`nats://host:port` or `host:port`) this is. */
  nodeByUrl(url: string): LocalNatsClusterNode | undefined;
  /** Wait until every running node answers `/healthz` 200. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A JetStream cluster of `nodes` nats-servers on loopback: client, route and monitoring ports are free
 * ports, each node has its own store directory and `server_name`, routes list every node. A node can be
 * killed and restarted on the same ports and store. Returns once every node accepts client connections
 * (JetStream may still be electing its meta leader, unless `waitForJetStream`).
 */
export async function startLocalNatsCluster(opts: LocalNatsClusterOptions = {}): Promise<LocalNatsCluster> {
  const n = opts.nodes ?? 3;
  if (n < 1) throw new Error(`startLocalNatsCluster: nodes must be at least 1, got ${n}`);
  const host = opts.host ?? '127.0.0.1';
  const clusterName = opts.clusterName ?? 'wadm-test';
  const ownDir = opts.baseDir === undefined;
  const baseDir = opts.baseDir ?? (await mkdtemp(join(tmpdir(), 'wadm-nats-cluster-')));
  const binary = opts.binary ?? 'nats-server';
  const ports = await freePorts(host, n * 3);
  const specs = Array.from({ length: n }, (_, i) => ({
    name: `n${i + 1}`,
    port: ports[i * 3]!,
    clusterPort: ports[i * 3 + 1]!,
    monitorPort: ports[i * 3 + 2]!,
    storeDir: join(baseDir, `n${i + 1}`),
  }));
  const routes = specs.map((s) => `nats-route://${host}:${s.clusterPort}`);
  const procs: NatsProcess[] = [];
  const nodes: LocalNatsClusterNode[] = [];
  for (const s of specs) {
    await mkdir(s.storeDir, { recursive: true });
    const conf = join(s.storeDir, 'wadm-nats.conf');
    const lines = [
      `server_name: ${JSON.stringify(s.name)}`,
      `listen: "${host}:${s.port}"`,
      `http: "${host}:${s.monitorPort}"`,
      ...(opts.maxPayload !== undefined ? [`max_payload: ${opts.maxPayload}`] : []),
      `jetstream { store_dir: ${JSON.stringify(s.storeDir)} }`,
      'cluster {',
      `  name: ${JSON.stringify(clusterName)}`,
      `  listen: "${host}:${s.clusterPort}"`,
      `  routes: [${routes.filter((r) => !r.endsWith(`:${s.clusterPort}`)).map((r) => JSON.stringify(r)).join(', ')}]`,
      '}',
    ];
    await writeFile(conf, lines.join('\n') + '\n');
    const url = `nats://${host}:${s.port}`;
    const proc = new NatsProcess(binary, ['-c', conf], url, opts.onLog ? (line) => opts.onLog!(s.name, line) : undefined);
    procs.push(proc);
    const handle = processHandle(proc, { url, host, port: s.port, storeDir: s.storeDir }, async () => undefined);
    nodes.push(Object.assign(handle, { name: s.name, clusterPort: s.clusterPort, monitorPort: s.monitorPort, healthy: () => natsHealthy(host, s.monitorPort) }));
  }
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((x) => x.stop()));
    if (ownDir) await rm(baseDir, { recursive: true, force: true });
  };
  try {
    // Started together: a lone node of a cluster waits for its routes before it elects anything.
    await Promise.all(procs.slice(0, opts.startNodes ?? n).map((p) => p.start()));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const cluster: LocalNatsCluster = {
    nodes,
    urls: nodes.map((x) => x.url),
    url: nodes.map((x) => x.url).join(','),
    node(which) {
      const found = typeof which === 'number' ? nodes[which] : nodes.find((x) => x.name === which);
      if (!found) throw new Error(`no node ${String(which)} in the local cluster (${nodes.map((x) => x.name).join(', ')})`);
      return found;
    },
    nodeByUrl(url) {
      const { host: h, port: p } = hostPortOf(url);
      return nodes.find((x) => x.port === p && (x.host === h || h === 'localhost'));
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let delay = 50;
      for (;;) {
        const states = await Promise.all(nodes.map(async (x) => !x.running() || (await x.healthy())));
        if (states.every(Boolean)) return;
        if (Date.now() > deadline) throw new Error(`nats cluster not healthy within ${timeoutMs} ms: ${nodes.map((x, i) => `${x.name}=${states[i] ? 'ok' : 'unhealthy'}`).join(' ')}`);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 250);
      }
    },
    stop: stopAll,
  };
  if (opts.waitForJetStream) {
    try {
      await cluster.waitHealthy();
    } catch (err) {
      await stopAll();
      throw err;
    }
  }
  return cluster;
}
