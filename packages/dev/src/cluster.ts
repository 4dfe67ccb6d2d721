/**
 * A JetStream cluster of several local nats-servers on loopback, each node killable and restartable on
 * its own ports and store directory.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, hostPortOf, natsHealthy } from './probes.js';
import { NatsProcess, processHandle, type LocalNats } from './process.js';

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
