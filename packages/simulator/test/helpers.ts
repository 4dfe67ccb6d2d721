/** A raw NATS client that records, in wire order, the replies and events it receives. */
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { createLogger, type Logger } from '@wadm-ts/obs';
import { SimulatedLattice, type SimulatedLatticeOptions } from '../src/index.js';

export const quietLogger: Logger = createLogger({ replica: 'sim-test', level: 'silent' });

let latticeSeq = 0;
export function uniqueLattice(prefix = 'sim'): string {
  latticeSeq++;
  return `${prefix}${process.pid}x${latticeSeq}x${Date.now().toString(36)}`;
}

export interface Received {
  seq: number;
  kind: 'reply' | 'event';
  subject: string;
  raw: string;
  /** Parsed JSON (null for an empty payload). */
  json: Record<string, unknown> | null;
  /** For events: the type without prefix. */
  type?: string;
  /** For events: `data` as raw JSON text, sliced from the payload. */
  rawData?: string;
  /** A NATS no-responders status (503) instead of a reply. */
  noResponders?: boolean;
}

interface Waiter {
  pred: (r: Received) => boolean;
  from: number;
  resolve: (r: Received) => void;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

export class Wire {
  readonly log: Received[] = [];
  private seq = 0;
  private waiters: Waiter[] = [];

  private constructor(
    readonly nc: NatsConnection,
    readonly lattice: string,
    readonly ctlBase: string,
  ) {}

  /** Connects and subscribes to the lattice's events (`{evtPrefix}.{lattice}.>`). */
  static async open(url: string, lattice: string, opts: { account?: string; ctlPrefix?: string } = {}): Promise<Wire> {
    const nc = await connect({ servers: url });
    const acct = opts.account ? `${opts.account}.` : '';
    const w = new Wire(nc, lattice, `${acct}${opts.ctlPrefix ?? 'wasmbus.ctl'}.v1.${lattice}`);
    const prefix = `${acct}wasmbus.evt.${lattice}.`;
    nc.subscribe(`${prefix}>`, {
      callback: (_err, msg) => {
        const raw = dec.decode(msg.data);
        const i = raw.indexOf(',"data":');
        w.push({
          kind: 'event',
          subject: msg.subject,
          raw,
          json: raw ? (JSON.parse(raw) as Record<string, unknown>) : null,
          type: msg.subject.slice(prefix.length),
          rawData: i >= 0 ? raw.slice(i + 8, -1) : undefined,
        });
      },
    });
    await nc.flush();
    return w;
  }

  private push(r: Omit<Received, 'seq'>): Received {
    const rec: Received = { ...r, seq: this.seq++ };
    this.log.push(rec);
    this.waiters = this.waiters.filter((w) => {
      if (rec.seq >= w.from && w.pred(rec)) {
        w.resolve(rec);
        return false;
      }
      return true;
    });
    return rec;
  }

  /** The sequence number the next received message will get. */
  mark(): number {
    return this.seq;
  }

  events(type?: string, from = 0): Received[] {
    return this.log.filter((r) => r.kind === 'event' && r.seq >= from && (type === undefined || r.type === type));
  }

  /** Waits (with a timeout) for a received message matching `pred` with seq ≥ from. */
  waitFor(pred: (r: Received) => boolean, from = 0, timeoutMs = 5_000): Promise<Received> {
    const hit = this.log.find((r) => r.seq >= from && pred(r));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        from,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a message`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  waitEvent(type: string, from = 0, pred: (r: Received) => boolean = () => true, timeoutMs = 5_000): Promise<Received> {
    return this.waitFor((r) => r.kind === 'event' && r.type === type && pred(r), from, timeoutMs);
  }

  /** Waits for `n` events of a type (seq ≥ from). */
  async waitEvents(type: string, n: number, from = 0, timeoutMs = 5_000): Promise<Received[]> {
    for (;;) {
      const got = this.events(type, from);
      if (got.length >= n) return got;
      await this.waitFor((r) => r.kind === 'event' && r.type === type, (got.at(-1)?.seq ?? from - 1) + 1, timeoutMs);
    }
  }

  /** Publishes a request with a private inbox; the reply is recorded in wire order with the events. */
  async request(subjectTail: string, body: string | Uint8Array = '', timeoutMs = 5_000): Promise<Received> {
    const inbox = createInbox();
    const sub = this.nc.subscribe(inbox, {
      max: 1,
      callback: (_err, msg) => {
        const raw = dec.decode(msg.data);
        const noResponders = msg.headers?.code === 503 && raw === '';
        this.push({ kind: 'reply', subject: inbox, raw, noResponders, json: raw ? (JSON.parse(raw) as Record<string, unknown>) : null });
      },
    });
    await this.nc.flush();
    const from = this.mark();
    this.nc.publish(`${this.ctlBase}.${subjectTail}`, typeof body === 'string' ? enc.encode(body) : body, { reply: inbox });
    try {
      const r = await this.waitFor((x) => x.kind === 'reply' && x.subject === inbox, from, timeoutMs);
      if (r.noResponders) throw new Error('no responders');
      return r;
    } finally {
      sub.unsubscribe();
    }
  }

  /** Scatter-gather: waits until `expected` replies have arrived. */
  async gather(subjectTail: string, body: string, expected: number, timeoutMs = 5_000): Promise<Received[]> {
    const inbox = createInbox();
    const from = this.mark();
    const sub = this.nc.subscribe(inbox, {
      callback: (_err, msg) => {
        const raw = dec.decode(msg.data);
        this.push({ kind: 'reply', subject: inbox, raw, json: raw ? (JSON.parse(raw) as Record<string, unknown>) : null });
      },
    });
    await this.nc.flush();
    this.nc.publish(`${this.ctlBase}.${subjectTail}`, enc.encode(body), { reply: inbox });
    try {
      for (;;) {
        const got = this.log.filter((r) => r.kind === 'reply' && r.subject === inbox);
        if (got.length >= expected) return got;
        await this.waitFor((r) => r.kind === 'reply' && r.subject === inbox, (got.at(-1)?.seq ?? from - 1) + 1, timeoutMs);
      }
    } finally {
      sub.unsubscribe();
    }
  }

  /**
   * Scatter-gather where only some hosts answer (auctions): publishes, then pings the `hostCount`
   * hosts as a barrier (hosts handle requests in order), and returns every reply seen before it.
   */
  async collect(subjectTail: string, body: string, hostCount: number, timeoutMs = 5_000): Promise<Received[]> {
    const inbox = createInbox();
    const sub = this.nc.subscribe(inbox, {
      callback: (_err, msg) => {
        const raw = dec.decode(msg.data);
        if (msg.headers?.code === 503 && raw === '') return;
        this.push({ kind: 'reply', subject: inbox, raw, json: raw ? (JSON.parse(raw) as Record<string, unknown>) : null });
      },
    });
    await this.nc.flush();
    this.nc.publish(`${this.ctlBase}.${subjectTail}`, enc.encode(body), { reply: inbox });
    try {
      await this.gather('host.ping', '', hostCount, timeoutMs);
      return this.log.filter((r) => r.kind === 'reply' && r.subject === inbox);
    } finally {
      sub.unsubscribe();
    }
  }

  /** Publishes without a reply subject. */
  publish(subjectTail: string, body: string): void {
    this.nc.publish(`${this.ctlBase}.${subjectTail}`, enc.encode(body));
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

export function newLattice(url: string, extra: Partial<SimulatedLatticeOptions> = {}): SimulatedLattice {
  return new SimulatedLattice({
    servers: url,
    lattice: extra.lattice ?? uniqueLattice(),
    heartbeatIntervalMs: 60_000,
    fetchDelayMs: 2,
    healthCheckDelayMs: 60_000,
    healthCheckIntervalMs: 60_000,
    logger: quietLogger,
    ...extra,
  });
}

/** The CloudEvent envelope of the spec with `data` captured. */
export function envelopeRe(type: string, source: string): RegExp {
  return new RegExp(
    '^\\{"specversion":"1\\.0","id":"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",' +
      `"type":"com\\.wasmcloud\\.lattice\\.${type}","source":"${source}","datacontenttype":"application/json",` +
      '"time":"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{3}|\\.\\d{6}|\\.\\d{9})?Z","data":(\\{.*\\})\\}$',
  );
}

/** `hostcore.*` labels of this machine, as JSON text (sorted). */
export function hostcoreJson(extra: Record<string, string> = {}): string {
  const arch: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'x86', arm: 'arm' };
  const os: Record<string, string> = { linux: 'linux', darwin: 'macos', win32: 'windows' };
  const all: Record<string, string> = {
    'hostcore.arch': arch[process.arch] ?? process.arch,
    'hostcore.os': os[process.platform] ?? process.platform,
    'hostcore.osfamily': process.platform === 'win32' ? 'windows' : 'unix',
    ...extra,
  };
  const keys = Object.keys(all).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(all[k])}`).join(',')}}`;
}
