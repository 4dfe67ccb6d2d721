/**
 * Shared pieces of the benchmarks (not a benchmark itself: the runner only runs `*.bench.js`):
 * replicas as separate `wadm serve` processes, their /metrics (counters, gauges, histograms), their
 * /proc figures (RSS, CPU time), app manifests and published statuses, and the result format the
 * runner renders into docs/benchmarks.md.
 *
 * Only the product's outside is used here (CLI flags, the API, status subjects, lattice subjects,
 * /metrics), so the same benchmarks run against any runtime behind it.
 */
import { APPSPEC_KEY } from '@wadm-ts/protocol';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { freePort } from '@wadm-ts/dev';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from '../harness/nats.js';
import { simLattice } from '../harness/lattice.js';
import type { RawApi } from '../harness/api.js';

export { waitFor };
export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'bin', 'wadm.js');
export const APPSPEC = APPSPEC_KEY;

export const env = (name: string, dflt: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number(v);
};
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;
export const secondsSince = (t0: number): number => (now() - t0) / 1000;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const fmt = (n: number): string => n.toLocaleString('en-US');
export function logger(bench: string): (s: string) => void {
  const t0 = Date.now();
  return (s) => void process.stderr.write(`${bench} bench [${((Date.now() - t0) / 1000).toFixed(1)} s]: ${s}\n`);
}

/** Runs `f(0..n-1)` with `concurrency` calls in flight. */
export async function pool(n: number, concurrency: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, async () => {
    while (next < n) await f(next++);
  }));
}

// ---------- results ----------

export type Unit = 's' | 'ms' | 'x' | 'MB' | '%' | 'apps/s' | 'events/s' | 'msgs/s' | 'ops/s' | 'count' | 'instances';

export interface Row {
  /** Stable id: the renderer matches it against the baseline run (before/after). */
  key: string;
  /** The measurement, short. */
  what: string;
  /** null: not measured in this run (`display` says why). */
  value: number | null;
  unit: Unit;
  /** Shown instead of the formatted value (e.g. with the histogram bucket it came from). */
  display?: string;
  /** Met when value ≤ max (< max when strict; `ideal` is shown alongside). */
  goal?: { max: number; ideal?: number; strict?: boolean };
  /** Raw samples behind the value, kept in the results file. */
  samples?: number[];
  /** What the row means: how it was measured, what is counted. */
  means: string;
}

export interface Section {
  bench: string;
  id: string;
  title: string;
  /** The sizes the rows depend on: a baseline section is compared only when they are the same. */
  params: Record<string, number>;
  /** The set-up common to the rows (markdown). */
  note: string;
  rows: Row[];
}

/** Prints one section (one JSON line on stdout; the runner renders it). */
export function emit(s: Section): void {
  process.stdout.write(`${JSON.stringify({ ...s, loadavg: loadavg().map((x) => Number(x.toFixed(2))) })}\n`);
}

/** Nearest-rank percentile of samples (p in 0..100); with 20 samples p99 is the largest. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

// ---------- replicas as processes ----------

export interface Serve {
  id: string;
  proc: ChildProcess;
  pid: number;
  admin: string;
  exited: Promise<void>;
  tail: () => string;
}

export async function startServe(url: string, id: string, flags: string[] = []): Promise<Serve> {
  const admin = `127.0.0.1:${await freePort()}`;
  // BENCH_SERVE_NODE_ARGS: extra node flags for the replicas (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them).
  const nodeArgs = (process.env['BENCH_SERVE_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '-s', url, '--host-id', id, '--structured-logging', '--http-admin', admin, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WADM_LOG_LEVEL: 'warn' },
  });
  let out = '';
  const keep = (b: Buffer): void => void (out = (out + b.toString()).slice(-4000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const s: Serve = { id, proc, pid: proc.pid!, admin, exited, tail: () => out };
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`${id} exited with ${proc.exitCode}: ${out}`);
    return (await fetch(`http://${admin}/readyz`)).ok;
  }, 30_000, `${id} to be ready`);
  return s;
}

export async function stopServe(s: Serve): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  s.proc.kill('SIGCONT'); // in case it was frozen
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 25_000);
  await s.exited;
  clearTimeout(t);
}

export async function stopServes(serves: readonly Serve[]): Promise<void> {
  await Promise.all(serves.map(stopServe));
}

// ---------- /metrics ----------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of a replica's /metrics (Prometheus text format). */
export async function scrape(s: Serve): Promise<Sample[]> {
  const text = await (await fetch(`http://${s.admin}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of a metric's samples whose labels include `labels`; undefined when the replica has no such series. */
export async function metric(s: Serve, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const xs = (await scrape(s)).filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return xs.length === 0 ? undefined : xs.reduce((n, x) => n + x.value, 0);
}

export async function metricSum(serves: readonly Serve[], name: string, labels: Record<string, string> = {}): Promise<number> {
  let n = 0;
  for (const s of serves) n += (await metric(s, name, labels)) ?? 0;
  return n;
}

/** A histogram summed over its series (and over replicas): cumulative bucket counts by upper bound. */
export interface Histogram {
  buckets: Array<{ le: number; count: number }>;
  sum: number;
  count: number;
}

export async function histogram(serves: readonly Serve[], name: string): Promise<Histogram> {
  const byLe = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const s of serves) {
    for (const x of await scrape(s)) {
      if (x.name === `${name}_bucket`) {
        const le = x.labels['le'] === '+Inf' ? Infinity : Number(x.labels['le']);
        byLe.set(le, (byLe.get(le) ?? 0) + x.value);
      } else if (x.name === `${name}_sum`) sum += x.value;
      else if (x.name === `${name}_count`) count += x.value;
    }
  }
  return { buckets: [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, c]) => ({ le, count: c })), sum, count };
}

/** What was observed between two readings of the same histogram. */
export function histogramDelta(a: Histogram, b: Histogram): Histogram {
  const before = new Map(a.buckets.map((x) => [x.le, x.count]));
  return { buckets: b.buckets.map((x) => ({ le: x.le, count: x.count - (before.get(x.le) ?? 0) })), sum: b.sum - a.sum, count: b.count - a.count };
}

/**
 * Quantile q (0..1) from cumulative buckets, interpolating linearly inside the bucket (as Prometheus'
 * histogram_quantile does), with the bucket's bounds: the value is only known to lie between them.
 */
export function histogramQuantile(h: Histogram, q: number): { value: number; lower: number; upper: number } | undefined {
  if (h.count <= 0) return undefined;
  const target = q * h.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= target) {
      if (b.le === Infinity) return { value: prevLe, lower: prevLe, upper: Infinity };
      const inBucket = b.count - prevCount;
      const frac = inBucket > 0 ? (target - prevCount) / inBucket : 1;
      return { value: prevLe + (b.le - prevLe) * frac, lower: prevLe, upper: b.le };
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return undefined;
}

// ---------- /proc ----------

/** Resident set size of a process, MB (VmRSS), and its peak (VmHWM). */
export function rssOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

let clkTck: number | undefined;
/** CPU time (user + system) a process has used so far, seconds, from /proc/<pid>/stat utime + stime. */
export function cpuSecondsOf(pid: number): number {
  clkTck ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3: utime is 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / clkTck;
}

// ---------- scenario scaffolding ----------

/** One scenario's fresh nats-server, with what the scenario starts on it. */
export interface Run {
  nats: TestNats;
  nc: NatsConnection;
  /** Replicas the scenario started (push them here): stopped at the end, their output printed if it fails. */
  serves: Serve[];
  /** Starts a simulated lattice of `hosts` hosts, closed at the end. */
  lattice(name: string, hosts: number, heartbeatMs: number): Promise<SimulatedLattice>;
}

/** Runs one scenario on a fresh nats-server and stops everything it started, however it ends. */
export async function onFreshServer<T>(log: (s: string) => void, scenario: (run: Run) => Promise<T>): Promise<T> {
  const nats = await startNats();
  const serves: Serve[] = [];
  const sims: SimulatedLattice[] = [];
  try {
    const nc = await nats.connect();
    return await scenario({
      nats,
      nc,
      serves,
      lattice: async (name, hosts, heartbeatMs) => {
        const sim = await simLattice(nats.url, name, hosts, heartbeatMs);
        sims.push(sim);
        return sim;
      },
    });
  } catch (err) {
    for (const s of serves) log(`${s.id} output: ${s.tail()}`);
    throw err;
  } finally {
    await stopServes(serves);
    await Promise.all(sims.map((s) => s.close({ graceful: false })));
    await nats.stop();
  }
}

/**
 * Until the replicas have ingested every host of the lattices (so the first plans see all of them): the
 * `host_started` events ingested (shared consumer: summed over replicas) reach the number of hosts, or
 * every replica's `wadm_hosts_known` gauge (refreshed by the expiry scan) does.
 */
export async function hostsKnown(serves: readonly Serve[], lattices: ReadonlyArray<{ lattice: string; hosts: number }>): Promise<void> {
  const want = lattices.reduce((n, l) => n + l.hosts, 0);
  await waitFor(async () => {
    let started = 0;
    let gauges = true;
    for (const s of serves) {
      const xs = await scrape(s);
      started += xs.filter((x) => x.name === 'wadm_ingest_events_total' && (x.labels['type'] ?? '').includes('host_started') && ['changed', 'unchanged'].includes(x.labels['result'] ?? '')).reduce((n, x) => n + x.value, 0);
      for (const l of lattices) {
        const g = xs.find((x) => x.name === 'wadm_hosts_known' && x.labels['lattice'] === l.lattice);
        if ((g?.value ?? 0) < l.hosts) gauges = false;
      }
    }
    return started >= want || gauges;
  }, 60_000, `${want} hosts known`);
}

// ---------- apps and statuses ----------

export function manifest(name: string, instances: number, image: string): string {
  return JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, annotations: { description: 'benchmark app' } },
    spec: {
      components: [{ name: 'c', type: 'component', properties: { image }, traits: [{ type: 'spreadscaler', properties: { instances } }] }],
    },
  });
}

/** `p`'s value, or undefined when it has not settled within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Latest published status type per lattice and app, from the core subscription to `wadm.status.*.*`. */
export class Statuses {
  private readonly latest = new Map<string, string>();
  private deployedCount = 0;
  /** When (`now()`) each app (`{lattice}.{name}`) was first seen `deployed` (the deploy's timeline). */
  readonly firstDeployedAt = new Map<string, number>();
  /** Waiters for a number of apps `deployed` at once (`whenDeployed`). */
  private readonly waiters: Array<{ n: number; resolve: (at: number) => void }> = [];
  private readonly sub;
  constructor(nc: NatsConnection) {
    this.sub = nc.subscribe('wadm.status.*.*', {
      callback: (_e, m) => {
        const key = m.subject.slice('wadm.status.'.length);
        let type = '';
        try {
          type = String((JSON.parse(m.string()) as { status?: { type?: string } }).status?.type ?? '');
        } catch {
          return;
        }
        if (this.latest.get(key) === 'deployed') this.deployedCount--;
        if (type === 'deployed') {
          this.deployedCount++;
          if (!this.firstDeployedAt.has(key)) this.firstDeployedAt.set(key, now());
        }
        this.latest.set(key, type);
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          const w = this.waiters[i]!;
          if (this.deployedCount < w.n) continue;
          this.waiters.splice(i, 1);
          w.resolve(now());
        }
      },
    });
  }
  /**
   * When (`now()`) `n` apps are `deployed` at once: taken in the status message's callback, so a deploy's
   * end is timed to the message and not to the next poll of a `waitFor` (which sleeps up to 100 ms).
   */
  whenDeployed(n: number): Promise<number> {
    if (this.deployedCount >= n) return Promise.resolve(now());
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
  /** Apps whose latest status is `deployed`, over every lattice. */
  deployed(): number {
    return this.deployedCount;
  }
  of(lattice: string, name: string): string | undefined {
    return this.latest.get(`${lattice}.${name}`);
  }
  stop(): void {
    this.sub.unsubscribe();
  }
}

export function ok(r: Record<string, unknown>, want: string, what: string): void {
  if (r['result'] !== want) throw new Error(`${what}: ${JSON.stringify(r)}`);
}

/** An API call with a long timeout (with many calls in flight one can wait a while). */
export async function call(api: RawApi, op: 'put' | 'deploy', arg: string): Promise<Record<string, unknown>> {
  const m = op === 'put' ? await api.nc.request(api.subject('put'), arg, { timeout: 120_000 }) : await api.nc.request(api.subject('deploy', arg), '', { timeout: 120_000 });
  return JSON.parse(m.string()) as Record<string, unknown>;
}

/**
 * Stores a manifest. A put answered with an error (e.g. it lost too many compare-and-sets on the
 * lattice's index) is sent again, as an operator's tooling would, up to 5 times; returns the errors.
 */
export async function putRetrying(api: RawApi, body: string, what: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const r = await call(api, 'put', body);
    if (r['result'] === 'created' || (attempt > 1 && r['result'] === 'newversion')) return attempt - 1;
    if (attempt === 5) ok(r, 'created', `${what} (attempt ${attempt})`);
  }
}

/** How many apps the API lists for the lattice (`model.get` without a name). */
export async function listedApps(api: RawApi): Promise<number> {
  const m = await api.nc.request(api.subject('get'), '', { timeout: 60_000 });
  return ((JSON.parse(m.string()) as { models?: unknown[] }).models ?? []).length;
}

/** Instances the simulated hosts run of every app (by the appspec annotation), by host. */
export function instancesByHost(sim: SimulatedLattice): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of sim.snapshot().hosts) out.set(h.id, h.components.reduce((n, c) => n + (c.annotations[APPSPEC] !== undefined ? c.count : 0), 0));
  return out;
}

/** Instances of wadm-managed components the simulated hosts run (a count, cheap enough to sample while measuring). */
export const managedInstances = (sim: SimulatedLattice): number => sim.componentInstances(APPSPEC);

/** Instances of `app` the simulated hosts run, by host. */
export function running(sim: SimulatedLattice, app: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of sim.snapshot().hosts) {
    for (const c of h.components) if (c.annotations[APPSPEC] === app) out.set(h.id, (out.get(h.id) ?? 0) + c.count);
  }
  return out;
}
export const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** Control requests the simulated hosts received, summed over lattices. */
/** Control requests that change something (queries, which only read, are left out). */
export const commandsOf = (sims: readonly SimulatedLattice[]): number => sims.reduce((n, s) => n + s.commandsReceived().actions, 0);

/**
 * Control requests on the lattices' subjects while it runs (core subscription on `wasmbus.ctl.v1.>`), by
 * operation (`component.scale`, `host.ping`, …), with the first few requests kept for the log.
 */
export function ctlSniffer(nc: NatsConnection): { byOp(): Record<string, number>; samples: string[]; stop(): void; describe(): string } {
  const counts: Record<string, number> = {};
  const samples: string[] = [];
  const sub = nc.subscribe('wasmbus.ctl.v1.>', {
    callback: (_e, m) => {
      const parts = m.subject.split('.');
      let op = parts.slice(4, 6).join('.');
      if (op === 'component.scale') {
        try {
          if (Number((JSON.parse(m.string()) as { count?: number }).count) === 0) op = 'component.scale to 0';
        } catch {
          // counted as a scale
        }
      }
      counts[op] = (counts[op] ?? 0) + 1;
      if (samples.length < 5) samples.push(`${m.subject} ${m.string().slice(0, 300)}`);
    },
  });
  return {
    byOp: () => ({ ...counts }),
    samples,
    stop: () => sub.unsubscribe(),
    describe: () => Object.entries(counts).map(([k, v]) => `${fmt(v)} \`${k}\``).join(', ') || 'none',
  };
}

/** The most instances (of every app) the simulated hosts ran at once, sampled every 100 ms while it runs. */
export function instancePeak(sims: readonly SimulatedLattice[]): { max(): number; stop(): number } {
  let max = 0;
  const sample = (): void => void (max = Math.max(max, sims.reduce((n, sim) => n + managedInstances(sim), 0)));
  const timer = setInterval(sample, 100);
  return {
    max: () => max,
    stop: () => {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}

/** Waits until `sims` received no control request for `quietMs` (at most `timeoutMs`). */
export async function quiet(sims: readonly SimulatedLattice[], quietMs: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = commandsOf(sims);
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`no quiet period of ${quietMs} ms within ${timeoutMs} ms`);
    await sleep(100);
    const n = commandsOf(sims);
    if (n !== last) {
      last = n;
      since = Date.now();
    }
  }
}
