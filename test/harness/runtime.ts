/**
 * Observing the reconcile runtime from outside, over NATS only: lattice leases (`wadm_leases`), every
 * control request that reaches a lattice (a plain subscription beside the hosts' queue groups), the
 * consumers on the server, and an API client that survives replicas that are stopped or killed.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { fromKeyToken, keyToken } from '@wadm-ts/entities';
import type { LatticeSnapshot } from '@wadm-ts/simulator';
import { waitFor } from './nats.js';

type Json = Record<string, any>;

// ---------- leases ----------

export const LEASE_BUCKET = 'wadm_leases';

export interface Lease {
  lattice: string;
  owner: string | null;
  epoch: number;
  [k: string]: unknown;
}

export function leaseKey(lattice: string, account?: string): string {
  return `l.${account ? keyToken(account) : '_'}.${keyToken(lattice)}`;
}

/** The lease bucket, once a replica has created it. */
export async function openLeases(nc: NatsConnection, timeoutMs = 30_000): Promise<KV> {
  const kvm = new Kvm(jetstream(nc));
  const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
  await waitFor(
    async () => {
      await jsm.streams.info(`KV_${LEASE_BUCKET}`);
      return true;
    },
    timeoutMs,
    `bucket ${LEASE_BUCKET} to exist`,
  );
  return kvm.open(LEASE_BUCKET);
}

/** The lease of a lattice; undefined when there is none (never written, deleted or purged). */
export async function readLease(kv: KV, lattice: string, account?: string): Promise<Lease | undefined> {
  const e = await kv.get(leaseKey(lattice, account));
  if (!e || e.operation !== 'PUT' || e.value.length === 0) return undefined;
  return e.json<Lease>();
}

/** Wait until the lattice's lease names a live owner (and, if given, satisfies `pred`). */
export async function waitLease(kv: KV, lattice: string, pred: (l: Lease) => boolean = () => true, timeoutMs = 30_000, what?: string): Promise<Lease> {
  let last: Lease | undefined;
  try {
    return await waitFor(
      async () => {
        last = await readLease(kv, lattice);
        return last && last.owner !== null && pred(last) ? last : undefined;
      },
      timeoutMs,
      what ?? `a lease on lattice ${lattice}`,
    );
  } catch (err) {
    (err as Error).message += `; last lease: ${JSON.stringify(last)}`;
    throw err;
  }
}

// ---------- control requests ----------

export interface CtlRecord {
  /** When the recorder saw it (Date.now() in the test process). */
  at: number;
  subject: string;
  lattice: string;
  /** e.g. `component.scale`, `provider.start`, `link.put`, `config.put`, `host.ping`. */
  op: string;
  /** The token after the op (host id, config name), if any. */
  arg?: string;
  body: Json | undefined;
}

export const APPSPEC = 'wasmcloud.dev/appspec';

/**
 * Record every control request sent to the lattices matching `lattice` (a token or `*`). Hosts answer
 * in queue groups, so this plain subscription sees a copy of each request without answering it.
 */
export function recordCtl(nc: NatsConnection, lattice = '*'): { records: CtlRecord[]; stop(): void } {
  const records: CtlRecord[] = [];
  const sub = nc.subscribe(`wasmbus.ctl.v1.${lattice}.>`, {
    callback: (_e, m) => {
      const at = Date.now();
      const t = m.subject.split('.');
      let body: Json | undefined;
      try {
        body = m.data.length ? (JSON.parse(m.string()) as Json) : undefined;
      } catch {
        body = undefined;
      }
      const rec: CtlRecord = { at, subject: m.subject, lattice: t[3]!, op: `${t[4]}.${t[5]}`, body };
      if (t.length > 6) rec.arg = t.slice(6).join('.');
      records.push(rec);
    },
  });
  return { records, stop: () => sub.unsubscribe() };
}

/** The app a control request works for: the appspec annotation, else the owner of the link's source id. */
export function appOf(r: CtlRecord, appOfId: (id: string) => string | undefined): string | undefined {
  const a = r.body?.['annotations']?.[APPSPEC];
  if (typeof a === 'string') return a;
  for (const k of ['source_id', 'component_id', 'provider_id']) {
    const id = r.body?.[k];
    if (typeof id === 'string') return appOfId(id);
  }
  return undefined;
}

/** A request that starts something or scales it up: component.scale with count > 0, provider.start, link.put. */
export function isStartOrScaleUp(r: CtlRecord): boolean {
  if (r.op === 'component.scale') return Number(r.body?.['count'] ?? 0) > 0;
  return r.op === 'provider.start' || r.op === 'link.put';
}

/** A request that changes the lattice (what commands become), as opposed to queries like host.ping. */
export function isMutation(r: CtlRecord): boolean {
  return ['component.scale', 'component.update', 'provider.start', 'provider.stop', 'link.put', 'link.del', 'config.put', 'config.del'].includes(r.op);
}

// ---------- consumers and stream subjects ----------

export interface ConsumerCount {
  total: number;
  durable: number;
  ephemeral: number;
  /** `stream/name` of every durable, sorted; `stream: n` ephemerals. */
  durables: string[];
  ephemeralByStream: Record<string, number>;
}

/** Every consumer on the server: the sum over every stream of `jsm.consumers.list(stream)`. */
export async function countConsumers(jsm: JetStreamManager): Promise<ConsumerCount> {
  const out: ConsumerCount = { total: 0, durable: 0, ephemeral: 0, durables: [], ephemeralByStream: {} };
  for await (const stream of jsm.streams.names()) {
    for await (const ci of jsm.consumers.list(stream)) {
      out.total++;
      if (ci.config.durable_name) {
        out.durable++;
        out.durables.push(`${stream}/${ci.config.durable_name}`);
      } else {
        out.ephemeral++;
        out.ephemeralByStream[stream] = (out.ephemeralByStream[stream] ?? 0) + 1;
      }
    }
  }
  out.durables.sort();
  return out;
}

/** Subjects (with message counts) held by a stream under a filter; empty when the stream does not exist. */
export async function streamSubjects(jsm: JetStreamManager, stream: string, filter: string): Promise<Record<string, number>> {
  try {
    const si = await jsm.streams.info(stream, { subjects_filter: filter });
    return (si.state.subjects ?? {}) as Record<string, number>;
  } catch (err) {
    if (/stream not found/i.test(String((err as Error).message))) return {};
    throw err;
  }
}

// ---------- the API, patiently ----------

function retryable(err: unknown): boolean {
  const s = `${(err as Error)?.name ?? ''} ${(err as Error)?.message ?? String(err)} ${String((err as Error)?.cause ?? '')}`;
  return /timeout|no responders|503|disconnect|closed/i.test(s);
}

/**
 * The wadm API with retries: a request that reached a stopped or killed replica (the API is a queue
 * group every replica belongs to) times out and is sent again. Each reply is returned with the time it
 * arrived, which is when the operation was acknowledged.
 */
export class PatientApi {
  constructor(
    readonly nc: NatsConnection,
    readonly lattice: string,
    readonly attemptTimeoutMs = 2000,
    readonly deadlineMs = 60_000,
    readonly prefix = 'wadm.api',
  ) {}

  async call(op: string, name?: string, body = ''): Promise<{ reply: Json; at: number; attempts: number }> {
    const subject = [this.prefix, this.lattice, 'model', op, ...(name === undefined ? [] : [name])].join('.');
    const deadline = Date.now() + this.deadlineMs;
    for (let attempts = 1; ; attempts++) {
      try {
        const m = await this.nc.request(subject, body, { timeout: this.attemptTimeoutMs });
        return { reply: JSON.parse(m.string()) as Json, at: Date.now(), attempts };
      } catch (err) {
        if (!retryable(err) || Date.now() > deadline) throw err;
        // No responder at all (every replica down for a moment): do not spin.
        if (/no responders|503/i.test(String((err as Error).message))) await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Put a version; a retry that finds the version already stored (the first attempt did write it) counts as stored. */
  async put(manifest: string): Promise<{ reply: Json; at: number; attempts: number }> {
    const r = await this.call('put', undefined, manifest);
    const res = r.reply['result'];
    if (res === 'created' || res === 'newversion') return r;
    if (r.attempts > 1 && res === 'error' && /already exists/.test(String(r.reply['message']))) return r;
    throw new Error(`put failed: ${JSON.stringify(r.reply)}`);
  }

  async deploy(name: string, version?: string): Promise<{ reply: Json; at: number; attempts: number }> {
    const r = await this.call('deploy', name, version === undefined ? '' : JSON.stringify({ version }));
    if (r.reply['result'] !== 'acknowledged') throw new Error(`deploy ${name}${version ? `@${version}` : ''} failed: ${JSON.stringify(r.reply)}`);
    return r;
  }

  async undeploy(name: string): Promise<{ reply: Json; at: number; attempts: number }> {
    const r = await this.call('undeploy', name);
    if (r.reply['result'] !== 'acknowledged') throw new Error(`undeploy ${name} failed: ${JSON.stringify(r.reply)}`);
    return r;
  }

  async versions(name: string): Promise<Json> {
    return (await this.call('versions', name)).reply;
  }

  async get(name: string, version?: string): Promise<Json> {
    return (await this.call('get', name, version === undefined ? '' : JSON.stringify({ version }))).reply;
  }

  async list(): Promise<Json> {
    return (await this.call('get')).reply;
  }
}

// ---------- apps and what the hosts run of them ----------

export interface AppSpec {
  name: string;
  version: string;
  /** Image of the component `web`. */
  image: string;
  /** Spread instances of `web`. */
  instances: number;
  /** A capability provider `cap` (spread), linked to `web`. */
  provider?: { image: string; instances: number };
}

/** App names must stay one id token (`{name}-web`), so no `-` in them: the id's prefix is the app. */
export function appManifest(s: AppSpec): string {
  const components: Json[] = [{ name: 'web', type: 'component', properties: { image: s.image }, traits: [{ type: 'spreadscaler', properties: { instances: s.instances } }] }];
  if (s.provider) {
    components.push({
      name: 'cap',
      type: 'capability',
      properties: { image: s.provider.image },
      traits: [
        { type: 'spreadscaler', properties: { instances: s.provider.instances } },
        { type: 'link', properties: { namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'], target: { name: 'web' } } },
      ],
    });
  }
  return JSON.stringify({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: s.name, annotations: { version: s.version } }, spec: { components } });
}

/** The app of a wadm-generated id `{app}-{component}` (app names without `-`). */
export const appOfGeneratedId = (id: string): string | undefined => (id.includes('-') ? id.slice(0, id.indexOf('-')) : undefined);

export interface AppFootprint {
  /** Sum of max_instances of the app's components. */
  instances: number;
  /** Distinct images of the app's components. */
  images: string[];
  /** Provider instances of the app (one per host that runs one). */
  providers: number;
  providerImages: string[];
  /** Links whose source or target is one of the app's ids. */
  links: number;
}

/** What the hosts run for an app, from the simulator's ground truth (by the appspec annotation). */
export function footprint(s: LatticeSnapshot, app: string): AppFootprint {
  const comps = s.hosts.flatMap((h) => h.components.filter((c) => c.annotations[APPSPEC] === app));
  const provs = s.hosts.flatMap((h) => h.providers.filter((p) => p.annotations[APPSPEC] === app));
  return {
    instances: comps.reduce((n, c) => n + c.count, 0),
    images: [...new Set(comps.map((c) => c.imageRef))].sort(),
    providers: provs.length,
    providerImages: [...new Set(provs.map((p) => p.imageRef))].sort(),
    links: s.links.filter((l) => appOfGeneratedId(l.source_id) === app || appOfGeneratedId(l.target) === app).length,
  };
}

/** The footprint an app should have: exactly its declared counts, or nothing at all when undeployed. */
export function expectedFootprint(s: AppSpec | undefined): AppFootprint {
  if (!s) return { instances: 0, images: [], providers: 0, providerImages: [], links: 0 };
  return {
    instances: s.instances,
    images: s.instances > 0 ? [s.image] : [],
    providers: s.provider?.instances ?? 0,
    providerImages: s.provider && s.provider.instances > 0 ? [s.provider.image] : [],
    links: s.provider ? 1 : 0,
  };
}

// ---------- failure reports ----------

export interface EventRecord {
  at: number;
  lattice: string;
  type: string;
  data: string;
}

/** Record every lattice event but heartbeats (for failure reports). */
export function recordEvents(nc: NatsConnection, lattice = '*'): { records: EventRecord[]; stop(): void } {
  const records: EventRecord[] = [];
  const sub = nc.subscribe(`wasmbus.evt.${lattice}.>`, {
    callback: (_e, m) => {
      if (m.subject.endsWith('.host_heartbeat')) return;
      const t = m.subject.split('.');
      records.push({ at: Date.now(), lattice: t[2]!, type: t.slice(3).join('.'), data: m.string() });
    },
  });
  return { records, stop: () => sub.unsubscribe() };
}

/**
 * The story of one app, for a failure message: its status, its keys in `wadm_state`, and every control
 * request and lattice event that names it, in ms since `t0`.
 */
export async function explainApp(
  nc: NatsConnection,
  lattice: string,
  name: string,
  o: { t0: number; ctl?: readonly CtlRecord[]; events?: readonly EventRecord[]; api?: PatientApi; extra?: string },
): Promise<string> {
  const out: string[] = [`${lattice}/${name}:${o.extra ? ` ${o.extra}` : ''}`];
  try {
    if (o.api) out.push(`  status ${JSON.stringify((await o.api.call('status', name)).reply['status'])}`);
    const kv = await new Kvm(jetstream(nc)).open('wadm_state');
    const keys: string[] = [];
    for await (const k of await kv.keys(`lat._.${keyToken(lattice)}.>`)) keys.push(k);
    const readable = (k: string): string => k.split('.').map(fromKeyToken).join('.');
    for (const k of keys.filter((k) => readable(k).includes(name)).sort()) out.push(`  kv ${readable(k)} = ${(await kv.get(k))?.string().slice(0, 400)}`);
    // The manifest bucket (Rust layout): the lattice index `{lattice}` and the app record `{lattice}-{name}`.
    const mkv = await new Kvm(jetstream(nc)).open('wadm_manifests');
    const index = await mkv.get(lattice);
    const names = index?.operation === 'PUT' ? (index.json<string[]>() ?? []) : [];
    const rec = await mkv.get(`${lattice}-${name}`);
    let deployed = '?';
    try {
      deployed = JSON.stringify(rec?.operation === 'PUT' ? (rec.json<Record<string, unknown>>()['deployed_version'] ?? null) : `(${rec?.operation ?? 'absent'})`);
    } catch {
      /* not JSON */
    }
    out.push(`  manifests: ${names.includes(name) ? 'listed in' : 'MISSING from'} the ${lattice} index (rev ${index?.revision}, ${names.length} names); record rev ${rec?.revision} ${rec?.operation}, deployed_version ${deployed}`);
  } catch (err) {
    out.push(`  (state unreadable: ${(err as Error).message})`);
  }
  const lines: Array<[number, string]> = [];
  for (const c of o.ctl ?? []) if (c.lattice === lattice && JSON.stringify(c.body ?? '').includes(name)) lines.push([c.at, `ctl ${c.subject.split('.').slice(4).join('.').slice(0, 40)} ${JSON.stringify(c.body).slice(0, 160)}`]);
  for (const e of o.events ?? []) {
    if (e.lattice !== lattice || !e.data.includes(`"${name}`)) continue;
    const i = e.data.indexOf('"data"');
    lines.push([e.at, `evt ${e.type} ${e.data.slice(i, i + 160)}`]);
  }
  for (const [at, l] of lines.sort((a, b) => a[0] - b[0])) out.push(`  +${at - o.t0} ${l}`);
  return out.join('\n');
}

/** The app names listed in a lattice's index record in `wadm_manifests` (the Rust layout: key `{lattice}`). */
export async function manifestIndex(nc: NatsConnection, lattice: string): Promise<Set<string>> {
  const kv = await new Kvm(jetstream(nc)).open('wadm_manifests');
  const e = await kv.get(lattice);
  return new Set(e?.operation === 'PUT' ? (e.json<string[]>() ?? []) : []);
}
