/**
 * Reconcile throughput and recovery times, against simulated hosts, with replicas as separate
 * `wadm serve` processes, each scenario on a fresh nats-server:
 *  1. N one-component apps (spreadscaler, 2 instances) on 100 hosts: time from the first deploy until
 *     every app's published status is `deployed`, with 1 and with 3 replicas.
 *  2. The floor: one client issuing, 64 in flight, the very `component.scale` requests that produced
 *     the placement wadm chose in (1), until the simulated hosts run them all.
 *  3. Rescheduling after a host goes away: cleanly (`host_stopped`) and silently (no event; the host
 *     expires after the cleanup interval).
 *  4. Takeover with 3 replicas: the replica that reconciled last is SIGKILLed between reconciles, then a
 *     replica is SIGKILLed while it holds the lattice's claim; each time a new app is deployed.
 * Prints one JSON object (the runner renders docs/benchmarks.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { RECONCILE_STREAM, freePort, reconcileSubject } from '@wadm-ts/store';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from '../harness/nats.js';
import { ctl, simLattice } from '../harness/lattice.js';
import { RawApi } from '../harness/api.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'bin', 'wadm.js');
const APPS = Number(process.env['BENCH_APPS'] ?? 1000);
const HOSTS = 100;
/** API calls in flight while deploying (more only queue: every deploy reads all stored manifests). */
const DEPLOY_CONCURRENCY = 8;
const LATTICE = 'bench';
const APPSPEC = 'wasmcloud.dev/appspec';
const log = (s: string): void => void process.stderr.write(`reconcile bench: ${s}\n`);
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const secondsSince = (t0: number): number => (now() - t0) / 1000;

async function pool(n: number, concurrency: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await f(next++);
  }));
}

// ---------- replicas as processes ----------

interface Serve {
  id: string;
  proc: ChildProcess;
  admin: string;
  exited: Promise<void>;
  tail: () => string;
}

async function startServe(url: string, id: string, flags: string[]): Promise<Serve> {
  const admin = `127.0.0.1:${await freePort()}`;
  const proc = spawn(process.execPath, [BIN, 'serve', '-s', url, '--host-id', id, '--structured-logging', '--http-admin', admin, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WADM_LOG_LEVEL: 'warn' },
  });
  let out = '';
  const keep = (b: Buffer): void => void (out = (out + b.toString()).slice(-4000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const s: Serve = { id, proc, admin, exited, tail: () => out };
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`${id} exited with ${proc.exitCode}: ${out}`);
    return (await fetch(`http://${admin}/readyz`)).ok;
  }, 30_000, `${id} to be ready`);
  return s;
}

async function stopServes(serves: Serve[]): Promise<void> {
  await Promise.all(serves.map(async (s) => {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
    s.proc.kill('SIGCONT'); // in case it was frozen
    s.proc.kill('SIGTERM');
    const t = setTimeout(() => s.proc.kill('SIGKILL'), 25_000);
    await s.exited;
    clearTimeout(t);
  }));
}

/** One sample of a metric from a replica's /metrics; `labels` (e.g. `lattice="x"`) must all be on the line. */
async function metric(s: Serve, name: string, ...labels: string[]): Promise<number> {
  const text = await (await fetch(`http://${s.admin}/metrics`)).text();
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && labels.every((x) => l.includes(x)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Until a replica has ingested every host of the lattice (so the first plans see all of them). */
async function hostsKnown(serves: Serve[], hosts: number): Promise<void> {
  await waitFor(async () => (await metric(serves[0]!, 'wadm_hosts_known', `lattice="${LATTICE}"`)) >= hosts, 60_000, `${hosts} hosts known`);
}

/** One scenario's fresh nats-server, with what the scenario starts on it. */
interface Run {
  nats: TestNats;
  nc: NatsConnection;
  /** Replicas the scenario started (push them here): stopped at the end, their output printed if it fails. */
  serves: Serve[];
  /** Starts the simulated lattice of `hosts` hosts, closed at the end. */
  lattice(hosts: number, heartbeatMs: number): Promise<SimulatedLattice>;
}

/** Runs one scenario on a fresh nats-server and stops everything it started, however it ends. */
async function onFreshServer<T>(scenario: (run: Run) => Promise<T>): Promise<T> {
  const nats = await startNats();
  const serves: Serve[] = [];
  let sim: SimulatedLattice | undefined;
  try {
    const nc = await nats.connect();
    return await scenario({ nats, nc, serves, lattice: async (hosts, heartbeatMs) => (sim = await simLattice(nats.url, LATTICE, hosts, heartbeatMs)) });
  } catch (err) {
    for (const s of serves) log(`${s.id} output: ${s.tail()}`);
    throw err;
  } finally {
    await stopServes(serves);
    await sim?.close({ graceful: false });
    await nats.stop();
  }
}

// ---------- apps and statuses ----------

function manifest(name: string, instances: number, image: string): string {
  return JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, annotations: { description: 'reconcile benchmark' } },
    spec: {
      components: [{ name: 'c', type: 'component', properties: { image }, traits: [{ type: 'spreadscaler', properties: { instances } }] }],
    },
  });
}

/** Latest published status type per app, from the core subscription to `wadm.status.{lattice}.*`. */
class Statuses {
  private readonly latest = new Map<string, string>();
  private deployedCount = 0;
  private readonly sub;
  constructor(nc: NatsConnection) {
    this.sub = nc.subscribe(`wadm.status.${LATTICE}.*`, {
      callback: (_e, m) => {
        const name = m.subject.slice(`wadm.status.${LATTICE}.`.length);
        let type = '';
        try {
          type = String((JSON.parse(m.string()) as { status?: { type?: string } }).status?.type ?? '');
        } catch {
          return;
        }
        const prev = this.latest.get(name);
        if (prev === 'deployed') this.deployedCount--;
        if (type === 'deployed') this.deployedCount++;
        this.latest.set(name, type);
      },
    });
  }
  deployed(): number {
    return this.deployedCount;
  }
  of(name: string): string | undefined {
    return this.latest.get(name);
  }
  stop(): void {
    this.sub.unsubscribe();
  }
}

function ok(r: Record<string, unknown>, want: string, what: string): void {
  if (r['result'] !== want) throw new Error(`${what}: ${JSON.stringify(r)}`);
}

/**
 * An API call with a long timeout: put and deploy read every stored manifest of the lattice (shared
 * component checks), so with hundreds of apps and many calls in flight one call can wait seconds.
 */
async function call(api: RawApi, op: 'put' | 'deploy', arg: string): Promise<Record<string, unknown>> {
  const m = op === 'put' ? await api.nc.request(api.subject('put'), arg, { timeout: 120_000 }) : await api.nc.request(api.subject('deploy', arg), '', { timeout: 120_000 });
  return JSON.parse(m.string()) as Record<string, unknown>;
}

/** Instances of `app` the simulated hosts run, by host. */
function running(sim: SimulatedLattice, app: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of sim.snapshot().hosts) {
    for (const c of h.components) if (c.annotations[APPSPEC] === app) out.set(h.id, (out.get(h.id) ?? 0) + c.count);
  }
  return out;
}
const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

// ---------- 1. N apps to deployed ----------

interface Placement {
  hostIndex: number;
  app: string;
  componentId: string;
  imageRef: string;
  count: number;
  annotations: Record<string, string>;
}

async function appsRun(replicas: number): Promise<{ seconds: number; deployCalls: number; commands: number; placement: Placement[] }> {
  return onFreshServer(async ({ nats, nc, serves, lattice }) => {
    for (let i = 0; i < replicas; i++) serves.push(await startServe(nats.url, `bench-${i}`, ['--cleanup-interval', '15', '--resync-interval-ms', '5000']));
    const sim = await lattice(HOSTS, 5000);
    await hostsKnown(serves, HOSTS);
    const api = new RawApi(nc, LATTICE);
    await pool(APPS, 8, async (i) => ok(await call(api, 'put', manifest(`app${i}`, 2, `reg.example/bench/app${i}:1.0.0`)), 'created', `put app${i}`));
    const statuses = new Statuses(nc);
    sim.resetCommandCounts();
    log(`${replicas} replica(s): ${APPS} apps stored, deploying`);
    const t0 = now();
    await pool(APPS, DEPLOY_CONCURRENCY, async (i) => ok(await call(api, 'deploy', `app${i}`), 'acknowledged', `deploy app${i}`));
    const deployCalls = secondsSince(t0);
    await waitFor(() => statuses.deployed() === APPS, 600_000, `${APPS} apps deployed (${replicas} replicas)`);
    const seconds = secondsSince(t0);
    log(`${replicas} replica(s): ${APPS} deployed in ${seconds.toFixed(2)} s (deploy calls took ${deployCalls.toFixed(2)} s)`);
    statuses.stop();
    const commands = sim.commandsReceived().total;
    const index = new Map(sim.hostIds().map((id, i) => [id, i]));
    const placement: Placement[] = sim.snapshot().hosts.flatMap((h) =>
      h.components.filter((c) => c.annotations[APPSPEC] !== undefined).map((c) => ({ hostIndex: index.get(h.id)!, app: c.annotations[APPSPEC]!, componentId: c.id, imageRef: c.imageRef, count: c.count, annotations: c.annotations })),
    );
    return { seconds, deployCalls, commands, placement };
  });
}

// ---------- 2. the floor: one client, the same scale requests ----------

async function floorRun(placement: Placement[]): Promise<{ seconds: number; requests: number }> {
  return onFreshServer(async ({ nc, lattice }) => {
    const sim = await lattice(HOSTS, 5000);
    const hosts = sim.hostIds();
    const want = placement.reduce((n, p) => n + p.count, 0);
    const countAll = (): number => sim.snapshot().hosts.reduce((n, h) => n + h.components.reduce((m, c) => m + (c.annotations[APPSPEC] !== undefined ? c.count : 0), 0), 0);
    const t0 = now();
    await pool(placement.length, 64, async (i) => {
      const p = placement[i]!;
      const host = hosts[p.hostIndex]!;
      const r = await ctl(nc, LATTICE, `component.scale.${host}`, { component_ref: p.imageRef, component_id: p.componentId, annotations: p.annotations, count: p.count, host_id: host, config: [], allow_update: false });
      if (!r.success) throw new Error(`scale failed: ${r.message}`);
    });
    await waitFor(() => countAll() === want, 120_000, `${want} instances running`);
    return { seconds: secondsSince(t0), requests: placement.length };
  });
}

// ---------- 3. rescheduling after a host stops or dies ----------

const CLEANUP_S = 3;

async function rescheduleRun(): Promise<{ clean: number; silent: number }> {
  return onFreshServer(async ({ nats, nc, serves, lattice }) => {
    serves.push(await startServe(nats.url, 'bench-0', ['--cleanup-interval', String(CLEANUP_S), '--resync-interval-ms', '5000']));
    // Heartbeats well inside the cleanup interval, so only the killed host expires.
    const sim = await lattice(10, 1000);
    await hostsKnown(serves, 10);
    const api = new RawApi(nc, LATTICE);
    const statuses = new Statuses(nc);
    ok(await api.put(manifest('spread10', 10, 'reg.example/bench/spread10:1.0.0'), 'application/json'), 'created', 'put spread10');
    ok(await api.deploy('spread10'), 'acknowledged', 'deploy spread10');
    await waitFor(() => statuses.of('spread10') === 'deployed' && total(running(sim, 'spread10')) === 10, 60_000, 'spread10 deployed');
    const busiest = (): string => [...running(sim, 'spread10').entries()].sort((a, b) => b[1] - a[1])[0]![0];

    let victim = busiest();
    let t0 = now();
    await sim.stopHost(victim);
    await waitFor(() => total(running(sim, 'spread10')) === 10, 60_000, 'rescheduled after a clean stop');
    const clean = secondsSince(t0);
    log(`clean stop of a host with ${CLEANUP_S}s cleanup: back to 10 in ${clean.toFixed(2)} s`);
    await waitFor(() => statuses.of('spread10') === 'deployed', 30_000, 'deployed again');

    victim = busiest();
    t0 = now();
    sim.killHost(victim);
    await waitFor(() => total(running(sim, 'spread10')) === 10, 60_000, 'rescheduled after a silent death');
    const silent = secondsSince(t0);
    log(`silent death of a host: back to 10 in ${silent.toFixed(2)} s`);
    statuses.stop();
    return { clean, silent };
  });
}

// ---------- 4. takeover ----------

const TAKEOVER_MS = 5000;

/** The reconcile claim consumer of the lattice: the one with a filter on its signal subject. */
async function claimConsumer(nats: TestNats): Promise<() => Promise<{ pending: number; lastActive: number }>> {
  const jsm = await jetstreamManager(await nats.connect());
  const subject = reconcileSubject({ lattice: LATTICE });
  const name = await waitFor(async () => {
    for await (const c of jsm.consumers.list(RECONCILE_STREAM)) if (c.config.filter_subject === subject) return c.name;
    return undefined;
  }, 30_000, 'the lattice claim consumer');
  return async () => {
    const c = await jsm.consumers.info(RECONCILE_STREAM, name);
    // The server sends an RFC 3339 time (the client's type says nanoseconds).
    const la = c.delivered.last_active as unknown;
    return { pending: c.num_ack_pending, lastActive: typeof la === 'string' ? Date.parse(la) : Number(la ?? 0) / 1e6 };
  };
}

async function takeoverRun(): Promise<{ between: number; holding: number; held: number; victims: string[] }> {
  return onFreshServer(async ({ nats, nc, serves, lattice }) => {
    const flags = ['--cleanup-interval', String(CLEANUP_S), '--resync-interval-ms', '5000', '--takeover-ms', String(TAKEOVER_MS)];
    for (let i = 0; i < 3; i++) serves.push(await startServe(nats.url, `bench-${i}`, flags));
    const sim = await lattice(5, 1000);
    await hostsKnown(serves, 5);
    const api = new RawApi(nc, LATTICE);
    const statuses = new Statuses(nc);
    for (const a of ['first', 'second', 'third']) ok(await api.put(manifest(a, 2, `reg.example/bench/${a}:1.0.0`), 'application/json'), 'created', `put ${a}`);
    const reconciled = (s: Serve): Promise<number> => metric(s, 'wadm_reconcile_signals_handled_total', 'outcome="reconciled"');
    const deployed = (app: string): Promise<unknown> => waitFor(() => statuses.of(app) === 'deployed' && total(running(sim, app)) === 2, 60_000, `${app} deployed`);
    /** Seconds from SIGKILLing `s` until `app`, deployed right after, runs. */
    const killThenDeploy = async (s: Serve, app: string): Promise<number> => {
      const t0 = now();
      s.proc.kill('SIGKILL');
      await s.exited;
      ok(await api.deploy(app), 'acknowledged', `deploy ${app}`);
      await deployed(app);
      return secondsSince(t0);
    };

    // (a) The replica that reconciled the first app's deploy is SIGKILLed once it has let go of the claim
    // (a replica publishes statuses before it acknowledges the signal, so `deployed` is seen while it
    // still holds the claim).
    const claim = await claimConsumer(nats);
    const before = await Promise.all(serves.map(reconciled));
    ok(await api.deploy('first'), 'acknowledged', 'deploy first');
    await deployed('first');
    const after = await Promise.all(serves.map(reconciled));
    const owner = serves.map((s, i) => ({ s, d: after[i]! - before[i]! })).sort((x, y) => y.d - x.d)[0]!.s;
    await waitFor(async () => (await claim()).pending === 0, 30_000, 'the claim to be released');
    const between = await killThenDeploy(owner, 'second');
    log(`${owner.id} (reconciled last) SIGKILLed between reconciles: second app deployed ${between.toFixed(2)} s after the kill`);

    // (b) A replica dies while it holds the lattice's claim. To catch it holding the claim, it is frozen
    // (SIGSTOP: its connection stays up, so the queue group still hands it signals) and reconcile signals
    // are published until one stays unacknowledged; then it is SIGKILLed and the third app deployed.
    const victim = serves.find((s) => s !== owner)!;
    const js = jetstream(nc);
    victim.proc.kill('SIGSTOP');
    let held: { pending: number; lastActive: number } | undefined;
    for (let attempt = 0; attempt < 40 && !held; attempt++) {
      await js.publish(reconcileSubject({ lattice: LATTICE }), JSON.stringify({ lattice: LATTICE, reasons: ['bench'], at: new Date().toISOString() }));
      const c1 = await waitFor(async () => {
        const c = await claim();
        return c.pending === 1 ? c : undefined;
      }, 2000, 'a delivered signal').catch(() => undefined);
      if (!c1) continue;
      // The live replica acknowledges a signal within milliseconds; one still held half a second later
      // (same delivery) is the frozen replica's. This wait is the measurement itself.
      await new Promise((r) => setTimeout(r, 500));
      const c2 = await claim();
      if (c2.pending === 1 && c2.lastActive === c1.lastActive) held = c2;
    }
    if (!held) throw new Error('the frozen replica never received a reconcile signal');
    const heldFor = (Date.now() - held.lastActive) / 1000;
    const holding = await killThenDeploy(victim, 'third');
    log(`${victim.id} SIGKILLed holding the claim (${heldFor.toFixed(2)} s after taking it): third app deployed ${holding.toFixed(2)} s after the kill`);
    statuses.stop();
    return { between, holding, held: heldFor, victims: [owner.id, victim.id] };
  });
}

const one = await appsRun(1);
const floor = await floorRun(one.placement);
log(`floor: ${floor.requests} scale requests in ${floor.seconds.toFixed(2)} s`);
const three = await appsRun(3);
const resched = await rescheduleRun();
const takeover = await takeoverRun();

const split = new Map<string, number>();
for (const p of one.placement) split.set(p.app, (split.get(p.app) ?? 0) + 1);
const onTwoHosts = [...split.values()].filter((n) => n === 2).length;
const apps = APPS.toLocaleString('en-US');
const fmt = (n: number): string => n.toLocaleString('en-US');
const placed = onTwoHosts === APPS ? `every app 1 + 1 on two hosts` : `${fmt(onTwoHosts)} apps 1 + 1 on two hosts and ${fmt(APPS - onTwoHosts)} with 2 on one host`;
process.stdout.write(
  `${JSON.stringify({
    bench: 'reconcile',
    note:
      `${apps} apps (BENCH_APPS), each one component (spreadscaler, 2 instances, its own image), on one lattice of ${HOSTS} simulated hosts (heartbeat 5 s; replicas with --cleanup-interval 15 --resync-interval-ms 5000): ` +
      `all manifests are stored first, then deployed (${DEPLOY_CONCURRENCY} API calls in flight); the clock runs from the first deploy until every app's published status is \`deployed\`. ` +
      `The deploy calls themselves are shown in each row (put and deploy read the lattice's other apps only for manifests with explicit ids or shared references, so an ordinary deploy costs the same however many apps are stored). 3 replicas share 2 cores with nats-server and the simulator here, so they add availability more than speed. ` +
      `wadm placed ${placed}, with ${fmt(one.commands)} control requests (1 replica; ${fmt(one.placement.length)} scale requests is the minimum for that placement). ` +
      `The floor replays exactly those scale requests from one client, 64 in flight, on a fresh server and lattice, until the hosts run them all. ` +
            `Rescheduling: 1 replica (--cleanup-interval ${CLEANUP_S}), 10 hosts (heartbeat 1 s), an app of 10 instances; the host running the most is stopped cleanly (\`host_stopped\`), then the next busiest is killed silently; timed until the hosts run 10 again (the silent case waits out the ${CLEANUP_S} s cleanup interval). ` +
      `Takeover: 3 replica processes (--takeover-ms ${TAKEOVER_MS}), 5 hosts. A lattice has no sticky owner: each reconcile signal goes to one replica of a queue group and is held only while that reconcile runs, so killing the replica that reconciled last, once it let go, costs nothing. ` +
      `A replica killed while it holds the claim (caught by freezing it with SIGSTOP until a signal stayed unacknowledged, ${takeover.held.toFixed(1)} s before the kill) blocks the lattice until the claim is redelivered, ${TAKEOVER_MS / 1000} s after it was taken.`,
    apps: APPS,
    rows: [
      { what: `${apps} apps to deployed, 1 replica (the deploy calls alone: ${one.deployCalls.toFixed(1)} s)`, rate: APPS / one.seconds, unit: 'apps/s', seconds: one.seconds },
      { what: `${apps} apps to deployed, 3 replicas (the deploy calls alone: ${three.deployCalls.toFixed(1)} s)`, rate: APPS / three.seconds, unit: 'apps/s', seconds: three.seconds },
      { what: `floor: one client, the same ${floor.requests.toLocaleString('en-US')} scale requests, 64 in flight`, rate: APPS / floor.seconds, unit: 'apps/s', seconds: floor.seconds },
      { what: 'clean host stop → instances rescheduled', rate: resched.clean, unit: 's', seconds: resched.clean },
      { what: `silent host death → rescheduled (cleanup interval ${CLEANUP_S} s)`, rate: resched.silent, unit: 's', seconds: resched.silent },
      { what: 'replica SIGKILLed between reconciles → next app deployed', rate: takeover.between, unit: 's', seconds: takeover.between },
      { what: 'replica SIGKILLed holding the lattice claim → next app deployed', rate: takeover.holding, unit: 's', seconds: takeover.holding },
    ],
  })}\n`,
);
