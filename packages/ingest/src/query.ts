/**
 * Asking the hosts instead of only listening (issue 8): `host.ping` (who is there), `host.get` (what a
 * host runs), `link.get` (every link) and `config.get` (the values of the configs deployed apps use),
 * merged into lattice state through the same planner and sequence guards as events (plan.ts: a query
 * answer is a snapshot taken at the events stream's last sequence just before the query was sent).
 *
 * Bounded: per round at most `maxHosts` inventories and `maxConfigs` configs, taken in turn (a cursor
 * per lattice), so a large lattice is covered over several rounds; requests run a few at a time. One
 * round per lattice at a time; a failed request is logged, counted and left to the next round.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import PQueue from 'p-queue';
import {
  ctlSubject,
  decodeConfigValues,
  decodeCtlReply,
  decodeLinkList,
  HOST_EVENTS_STREAM,
  inventoryAsHeartbeat,
  type CtlReply,
  type LatticeRef,
} from '@wadm-ts/protocol';
import { stateKeys, streamName, type JetStreamContext, type LatticeMeta, type LatticeStateStore, type StateView } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { applyOps } from './apply.js';
import { planConfigSnapshot, planInventory, planLinkSnapshot, type EventContext } from './plan.js';

export interface QuerierOptions {
  /** The connection control requests go out on. */
  nc: NatsConnection;
  ctx: JetStreamContext;
  store: LatticeStateStore;
  view: StateView;
  logger: Logger;
  metrics: Metrics;
  /** Control request timeout (ms, default 2000, the control client's default). */
  timeoutMs?: number;
  /** How long a `host.ping` collects answers (ms, default 1000). */
  pingWindowMs?: number;
  /** Inventories per round (default 16). */
  maxHosts?: number;
  /** Configs per round (default 32). */
  maxConfigs?: number;
  /** Requests in flight per round (default 8). */
  concurrency?: number;
}

export interface QueryRound {
  /** Ask every host that answers a ping (a cold start), not only those state knows. */
  ping?: boolean;
  /** Every known host this round (ignore `maxHosts`): after a cold start or a new owner. */
  allHosts?: boolean;
  /** Config names deployed apps reference. */
  configs: readonly string[];
}

export interface QueryResult {
  hosts: number;
  links: number;
  configs: number;
  failed: number;
  /** State changed (the caller reconciles). */
  changed: boolean;
}

export class LatticeQuerier {
  private readonly running = new Map<string, Promise<QueryResult>>();
  private readonly cursors = new Map<string, { hosts: number; configs: number }>();
  private readonly queries;
  private readonly duration;

  constructor(private readonly o: QuerierOptions) {
    this.queries = o.metrics.counter('wadm_host_queries_total', 'control-interface queries sent to hosts, by kind and result', ['kind', 'result']);
    this.duration = o.metrics.histogram('wadm_host_query_round_seconds', 'time of one round of host queries for a lattice', []);
  }

  /** One round for a lattice; a round already under way for it is joined, not repeated. */
  query(ref: LatticeRef, round: QueryRound): Promise<QueryResult> {
    const key = stateKeys.meta(ref);
    const cur = this.running.get(key);
    if (cur) return cur;
    const p = this.round(ref, round).finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  private async round(ref: LatticeRef, round: QueryRound): Promise<QueryResult> {
    const end = this.duration.startTimer();
    const log = this.o.logger.child({ lattice: ref.lattice });
    const out: QueryResult = { hosts: 0, links: 0, configs: 0, failed: 0, changed: false };
    try {
      // The snapshot point: every event published before the queries has a sequence up to this one.
      const seq = (await this.o.ctx.jsm.streams.info(streamName(this.o.ctx, HOST_EVENTS_STREAM))).state.last_seq;
      const base = (): EventContext => ({ lattice: ref, seq, timeMs: Date.now() });
      const known = this.o.view.read(ref).snapshot.hosts.map((h) => h.id).sort();
      let ids = known;
      if (round.ping) ids = [...new Set([...known, ...(await this.ping(ref, log))])].sort();
      const cursor = this.cursors.get(stateKeys.meta(ref)) ?? { hosts: 0, configs: 0 };
      const hosts = round.allHosts || round.ping ? ids : take(ids, cursor.hosts, this.o.maxHosts ?? 16);
      const configs = round.allHosts || round.ping ? [...round.configs] : take([...round.configs].sort(), cursor.configs, this.o.maxConfigs ?? 32);
      cursor.hosts += hosts.length;
      cursor.configs += configs.length;
      this.cursors.set(stateKeys.meta(ref), cursor);

      const tasks: Array<() => Promise<void>> = [];
      for (const id of hosts) {
        tasks.push(async () => {
          const r = await this.ask(ref, 'host_get', `host.get.${id}`, log);
          if (!r?.success) return;
          const hb = inventoryAsHeartbeat(r.response, id);
          if (await applyOps(this.o.store, planInventory(hb, base()))) out.changed = true;
          out.hosts++;
        });
      }
      tasks.push(async () => {
        const r = await this.ask(ref, 'link_get', 'link.get', log);
        if (!r?.success) return;
        const links = decodeLinkList(r.response);
        if (await applyOps(this.o.store, planLinkSnapshot(links, base()))) out.changed = true;
        out.links = links.length;
      });
      for (const name of configs) {
        tasks.push(async () => {
          const r = await this.ask(ref, 'config_get', `config.get.${name}`, log);
          if (!r) return;
          const values = decodeConfigValues(r);
          if (await applyOps(this.o.store, planConfigSnapshot(name, values, base()))) out.changed = true;
          out.configs++;
        });
      }
      // link.get and config.get are answered by one host of a queue group: with no host, nobody answers.
      const runnable = ids.length === 0 && !round.ping ? [] : tasks;
      const queue = new PQueue({ concurrency: this.o.concurrency ?? 8 });
      await Promise.all(
        runnable.map((t) =>
          queue.add(t).catch((err: unknown) => {
            out.failed++;
            log.warn({ err: (err as Error).message }, 'merging a host query answer failed');
          }),
        ),
      );
      if (round.ping || round.allHosts) await this.markQueried(ref);
      log.debug({ ...out }, 'host query round done');
      return out;
    } finally {
      end();
    }
  }

  /** Hosts that answer `host.ping` within the window. */
  private async ping(ref: LatticeRef, log: Logger): Promise<string[]> {
    const ids: string[] = [];
    try {
      const it = await this.o.nc.requestMany(ctlSubject(ref.lattice, 'host.ping', ref.account), '', { maxWait: this.o.pingWindowMs ?? 1000 });
      for await (const m of it) {
        if (m.data.length === 0) break; // no responders
        try {
          const r = decodeCtlReply(m.string());
          const id = r.success && typeof r.response === 'object' && r.response !== null ? (r.response as Record<string, unknown>)['id'] : undefined;
          if (typeof id === 'string' && id) ids.push(id);
        } catch {
          // not a ping answer
        }
      }
      this.queries.inc({ kind: 'host_ping', result: 'ok' });
    } catch (err) {
      this.queries.inc({ kind: 'host_ping', result: 'failed' });
      log.warn({ err: (err as Error).message }, 'host.ping failed');
    }
    return ids;
  }

  private async ask(ref: LatticeRef, kind: string, suffix: string, log: Logger): Promise<CtlReply | undefined> {
    try {
      const m = await this.o.nc.request(ctlSubject(ref.lattice, suffix, ref.account), '', { timeout: this.o.timeoutMs ?? 2000 });
      const r = decodeCtlReply(m.string());
      this.queries.inc({ kind, result: r.success ? 'ok' : 'refused' });
      if (!r.success) log.debug({ query: suffix, message: r.message }, 'a host refused a query');
      return r;
    } catch (err) {
      this.queries.inc({ kind, result: 'failed' });
      log.debug({ query: suffix, err: (err as Error).message }, 'a host query failed');
      return undefined;
    }
  }

  /** Record that the lattice was queried in full (it is no longer a cold start). */
  private async markQueried(ref: LatticeRef): Promise<void> {
    const now = Date.now();
    await this.o.store.update<LatticeMeta>(stateKeys.meta(ref), (cur) => {
      if (cur?.queriedAt !== undefined) return { skip: true };
      return {
        write: { kind: 'lattice', lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), firstSeen: cur?.firstSeen ?? now, lastActivity: cur?.lastActivity ?? now, queriedAt: now },
      };
    });
  }

  /** Whether the lattice was ever queried in full since its state began (false: a cold start). */
  queried(ref: LatticeRef): boolean {
    const m = this.o.view.get<LatticeMeta>(stateKeys.meta(ref))?.value;
    return m?.kind === 'lattice' && m.queriedAt !== undefined;
  }
}

/** `n` items from `xs` starting at `from` (wrapping), without repeats. */
function take<T>(xs: readonly T[], from: number, n: number): T[] {
  if (xs.length <= n) return [...xs];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(xs[(from + i) % xs.length]!);
  return out;
}
