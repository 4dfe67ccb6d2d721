/**
 * A simulated lattice: N simulated wasmCloud 1.x hosts in one process, sharing one NATS connection
 * and one in-memory copy of the lattice KV state, plus fault injection and ground truth.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLogger, Metrics, type Logger } from '@wadm-ts/obs';
import type { HostEnvironment, Timing } from './env.js';
import { EventPublisher } from './events.js';
import { CommandCounter, Faults, type CommandCounts, type EventDropRule } from './faults.js';
import { SimulatedHost, hostcoreLabels } from './host.js';
import { generateFriendlyName, generatePublicKey } from './ids.js';
import { latticeSnapshot, toRecord, type LatticeSnapshot } from './snapshot.js';
import { LatticeStore } from './stores.js';

export interface SimulatedLatticeOptions {
  /** NATS server URL(s), or an open connection (which the lattice then never closes). */
  servers: string | string[] | NatsConnection;
  /** Lattice id; must not contain `.`, `*`, `>` or whitespace. */
  lattice: string;
  /**
   * Multitenant mode: the account id (`A…`) that prefixes every control and event subject, as
   * seen from wadm's account (`{account}.wasmbus.ctl.v1.…`, `{account}.wasmbus.evt.…`).
   */
  multitenantAccount?: string;
  /** Heartbeat interval in ms (real host: 30000). */
  heartbeatIntervalMs?: number;
  /** Control topic prefix (real host default `wasmbus.ctl`). */
  ctlTopicPrefix?: string;
  /** Host version reported (semver, default `1.9.2`); `limits` appear in inventories from 1.9 on. */
  hostVersion?: string;
  /** Simulated image fetch before the events of scale / start / update, in ms (default 5). */
  fetchDelayMs?: number;
  /** First provider health probe after start, in ms (real host: 5000). */
  healthCheckDelayMs?: number;
  /** Provider health probe interval, in ms (real host: 30000). */
  healthCheckIntervalMs?: number;
  /** JetStream domain reported in `host.ping` replies, if any. */
  jsDomain?: string;
  logger?: Logger;
  metrics?: Metrics;
}

export interface AddHostOptions {
  /** User labels, added to (and able to override) the `hostcore.*` labels. */
  labels?: Record<string, string>;
  friendlyName?: string;
  /** Host id; generated as a valid nkey server public key (`N…`, 56 chars) when absent. */
  hostId?: string;
}

export interface SimulatedHostInfo {
  id: string;
  friendlyName: string;
  labels: Record<string, string>;
}

const TOKEN_RE = /^[^\s.*>]+$/;

function isConnection(s: SimulatedLatticeOptions['servers']): s is NatsConnection {
  return typeof s === 'object' && !Array.isArray(s);
}

function semverAtLeast(version: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(version);
  if (!m) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

export class SimulatedLattice {
  readonly lattice: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  private readonly hostsById = new Map<string, SimulatedHost>();
  private readonly store = new LatticeStore();
  private readonly faults = new Faults();
  private readonly counter = new CommandCounter();
  private readonly ownsConnection: boolean;
  private readonly connecting: Promise<HostEnvironment>;
  private closed = false;

  constructor(private readonly opts: SimulatedLatticeOptions) {
    if (!TOKEN_RE.test(opts.lattice)) throw new Error(`invalid lattice id ${JSON.stringify(opts.lattice)}`);
    if (opts.multitenantAccount !== undefined && !TOKEN_RE.test(opts.multitenantAccount)) {
      throw new Error(`invalid account id ${JSON.stringify(opts.multitenantAccount)}`);
    }
    this.lattice = opts.lattice;
    this.logger = (opts.logger ?? createLogger({ replica: 'simulator' })).child({ lattice: opts.lattice });
    this.metrics = opts.metrics ?? new Metrics();
    this.ownsConnection = !isConnection(opts.servers);
    this.connecting = this.connect();
    // Surface connection errors on first use, not as an unhandled rejection.
    this.connecting.catch(() => undefined);
  }

  private async connect(): Promise<HostEnvironment> {
    const o = this.opts;
    let nc: NatsConnection;
    let natsUrl: string;
    if (isConnection(o.servers)) {
      nc = o.servers;
      natsUrl = `nats://${nc.getServer()}`;
    } else {
      const servers = Array.isArray(o.servers) ? o.servers : [o.servers];
      nc = await connect({ servers, name: `wadm-ts-simulator-${o.lattice}` });
      const first = servers[0] ?? nc.getServer();
      natsUrl = first.includes('://') ? first : `nats://${first}`;
    }
    const acct = o.multitenantAccount === undefined ? '' : `${o.multitenantAccount}.`;
    const timing: Timing = {
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? 30_000,
      fetchDelayMs: o.fetchDelayMs ?? 5,
      healthCheckDelayMs: o.healthCheckDelayMs ?? 5_000,
      healthCheckIntervalMs: o.healthCheckIntervalMs ?? 30_000,
    };
    const version = o.hostVersion ?? '1.9.2';
    const m = this.metrics;
    const events = new EventPublisher({
      nc,
      lattice: this.lattice,
      prefix: `${acct}wasmbus.evt`,
      faults: this.faults,
      emitted: m.counter('wadm_sim_events_emitted_total', 'Lattice events published by simulated hosts', ['lattice', 'type']),
      dropped: m.counter('wadm_sim_events_dropped_total', 'Lattice events dropped by fault injection', ['lattice', 'type']),
      logger: this.logger,
    });
    const hostsGauge = m.gauge('wadm_sim_hosts', 'Live simulated hosts', ['lattice']);
    return {
      nc,
      lattice: this.lattice,
      ctlBase: `${acct}${o.ctlTopicPrefix ?? 'wasmbus.ctl'}.v1.${this.lattice}`,
      rpcBase: `${acct}wasmbus.rpc.${this.lattice}`,
      store: this.store,
      events,
      faults: this.faults,
      counter: this.counter,
      commandsMetric: m.counter('wadm_sim_commands_received_total', 'Control requests received by simulated hosts', ['lattice', 'kind']),
      timing,
      version,
      hasLimits: semverAtLeast(version, 1, 9),
      natsUrl,
      jsDomain: o.jsDomain,
      logger: this.logger,
      onHostGone: (id) => {
        this.hostsById.delete(id);
        hostsGauge.set({ lattice: this.lattice }, this.hostsById.size);
      },
    };
  }

  /** Resolves once connected. */
  async ready(): Promise<void> {
    await this.connecting;
  }

  /** Starts a host: subscriptions first, then `host_started`. */
  async addHost(options: AddHostOptions = {}): Promise<SimulatedHostInfo> {
    if (this.closed) throw new Error('simulated lattice is closed');
    const env = await this.connecting;
    const id = options.hostId ?? generatePublicKey('server');
    if (!TOKEN_RE.test(id)) throw new Error(`invalid host id ${JSON.stringify(id)}`);
    if (this.hostsById.has(id)) throw new Error(`host ${id} already exists`);
    const labels = hostcoreLabels();
    for (const [k, v] of Object.entries(options.labels ?? {})) labels.set(k, v);
    const host = new SimulatedHost(env, id, options.friendlyName ?? generateFriendlyName(), labels);
    this.hostsById.set(id, host);
    this.metrics.gauge('wadm_sim_hosts', 'Live simulated hosts', ['lattice']).set({ lattice: this.lattice }, this.hostsById.size);
    await host.start();
    return this.info(host);
  }

  private info(h: SimulatedHost): SimulatedHostInfo {
    return { id: h.id, friendlyName: h.friendlyName, labels: toRecord(h.labels) };
  }

  private get(id: string): SimulatedHost {
    const h = this.hostsById.get(id);
    if (!h) throw new Error(`no live simulated host ${id}`);
    return h;
  }

  /** Ids of the live hosts. */
  hostIds(): string[] {
    return [...this.hostsById.keys()];
  }

  hosts(): SimulatedHostInfo[] {
    return [...this.hostsById.values()].map((h) => this.info(h));
  }

  /** Clean stop: `host_stopped` and nothing else (components and providers go away silently). */
  async stopHost(id: string): Promise<void> {
    const env = await this.connecting;
    this.get(id).stop();
    if (!env.nc.isClosed()) await env.nc.flush();
  }

  /** Silent death: unsubscribes, stops heartbeats and health checks, emits nothing. */
  killHost(id: string): void {
    this.get(id).kill();
  }

  /**
   * Component instances (`max_instances`, summed) the live hosts run, only those carrying annotation
   * `annotation` when given: a count without building a snapshot (benchmarks sample it while they run).
   */
  componentInstances(annotation?: string): number {
    let n = 0;
    for (const h of this.hostsById.values()) {
      if (h.state !== 'running' && h.state !== 'starting') continue;
      for (const c of h.components.values()) if (annotation === undefined || c.annotations.has(annotation)) n += c.maxInstances;
    }
    return n;
  }

  /** Ground truth: what every live host runs, and the lattice-wide links and configs. */
  snapshot(): LatticeSnapshot {
    return latticeSnapshot(this.lattice, this.hostsById.values(), this.store);
  }

  // ---- fault injection ----

  /**
   * Component starts and provider starts whose image ref matches fail like a failed image fetch on a
   * real host: the reply is still a success, then `component_scale_failed` / `provider_start_failed`.
   * `null` clears. `message` replaces the simulated fetch error text.
   */
  failStarts(pattern: RegExp | null, message?: string): void {
    this.faults.setFailStarts(pattern, message);
  }

  /** Delays every control reply by `ms` (0 = off). The work itself (and its events) is not delayed. */
  slowReplies(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('slowReplies needs a delay >= 0');
    this.faults.replyDelayMs = ms;
  }

  /** Drops events: a rate in [0, 1] or a predicate (true = drop). `null` or 0 clears. */
  dropEvents(rule: EventDropRule | null): void {
    this.faults.setDropEvents(rule);
  }

  /** Providers whose id or image ref matches report unhealthy on their health probes. `null` clears. */
  failHealthChecks(pattern: RegExp | null): void {
    this.faults.setFailHealthChecks(pattern);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  // ---- command counter ----

  /** Control requests received, by kind (all hosts, or one host). Broadcasts count once per host. */
  commandsReceived(hostId?: string): CommandCounts {
    return this.counter.counts(hostId);
  }

  resetCommandCounts(): void {
    this.counter.reset();
  }

  /**
   * Stops every host (cleanly with `host_stopped` by default, silently with `{ graceful: false }`) and
   * closes the NATS connection if the lattice opened it.
   */
  async close(opts: { graceful?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let env: HostEnvironment;
    try {
      env = await this.connecting;
    } catch {
      return;
    }
    for (const h of [...this.hostsById.values()]) {
      if (opts.graceful === false) h.kill();
      else h.stop();
    }
    if (env.nc.isClosed()) return;
    if (this.ownsConnection) await env.nc.drain();
    else await env.nc.flush();
  }
}
