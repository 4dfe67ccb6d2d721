/**
 * 1,000 apps on 100 simulated hosts (one lattice), with 1 and with 3 replicas (`wadm serve` processes),
 * each on a fresh nats-server:
 *  1. Deploy: every app (one component, spreadscaler of 2, its own image) is stored, then deployed with
 *     64 API calls in flight; timed from the first deploy call until every app's published status is
 *     `deployed`. Then, on another fresh server and lattice, the floor: one client issuing the very
 *     `component.scale` requests that produced wadm's placement, 64 in flight, until the hosts run them.
 *     How the instances were spread over the hosts.
 *  2. Host stops: hosts are stopped cleanly one at a time; from the `host_stopped` event to the first
 *     `component.scale` request that places an instance of an affected app on another host (both seen by
 *     core subscriptions of this process), waiting for convergence between samples.
 *  3. (1 replica) Reconcile pass time at 1,000 apps after convergence: the replica is restarted with a
 *     1 s resync interval and `wadm_reconcile_duration_seconds` is read from its /metrics.
 * Prints JSON sections (the runner renders docs/benchmarks.md).
 */
import { cpus } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { ctl } from '../harness/lattice.js';
import { RawApi } from '../harness/api.js';
import {
  APPSPEC,
  Statuses,
  call,
  emit,
  env,
  fmt,
  histogram,
  histogramDelta,
  histogramQuantile,
  hostsKnown,
  instancePeak,
  instancesByHost,
  managedInstances,
  logger,
  manifest,
  metric,
  metricSum,
  now,
  ok,
  onFreshServer,
  percentile,
  pool,
  putRetrying,
  listedApps,
  quiet,
  rssOf,
  cpuSecondsOf,
  secondsSince,
  sleep,
  startServe,
  stopServe,
  waitFor,
  withTimeout,
  type Histogram,
  type Row,
  type Serve,
} from './common.js';

const APPS = env('BENCH_APPS', 1000);
const HOSTS = env('BENCH_HOSTS', 100);
/** Deploy calls in flight (operators' tooling runs many in parallel). */
const IN_FLIGHT = env('BENCH_DEPLOY_IN_FLIGHT', 64);
/**
 * Put calls in flight while the manifests are stored first (not measured). With 64, the lattice index's
 * compare-and-sets can run out of attempts on a loaded machine, and such an app is never deployed.
 */
const PUTS_IN_FLIGHT = env('BENCH_PUTS_IN_FLIGHT', 16);
/** Host stops per replica count. */
const STOPS = env('BENCH_STOPS', 20);
/** A deploy not finished after this long is reported as such. */
const DEPLOY_TIMEOUT_S = env('BENCH_DEPLOY_TIMEOUT_S', 300);
/** Host stops stop early after this long (per replica count); the rows say how many were taken. */
const STOPS_BUDGET_S = env('BENCH_STOPS_BUDGET_S', 60);
/** A host stop whose instances do not all run again within this long ends the sampling (reported). */
const SAMPLE_TIMEOUT_S = 90;
/** Deploy runs per replica count (their median is the time recorded; the first also samples passes and host stops). */
const DEPLOY_RUNS = env('BENCH_DEPLOY_RUNS', 3);
/** Floor runs after each deploy run (the median of all of a replica count's is its floor). */
const FLOORS = env('BENCH_FLOORS', 3);
/**
 * Floor-shaped runs before the first deploy run, not recorded: the simulated hosts and the client run in
 * this process, and every floor run after a deploy run finds their code compiled already; without a
 * warm-up only the first deploy run would meet them cold.
 */
const WARMUPS = env('BENCH_WARMUPS', 1);
/**
 * Apps deployed, undeployed and deleted on the benchmark's lattice before its manifests are stored (not
 * recorded): a replica in service has run its deploy paths many times, as the simulated hosts have by
 * the floor-shaped warm-up; a replica started just before the burst meets it with its code not compiled
 * yet. 0: measure replicas cold. With BENCH_COLD=1 (default), each replica count is also run once cold,
 * recorded beside the warm run.
 */
const REPLICA_WARMUP_APPS = env('BENCH_REPLICA_WARMUP_APPS', 200);
const COLD = env('BENCH_COLD', 1) === 1 && REPLICA_WARMUP_APPS > 0;
/** Replica counts to run (BENCH_REPLICAS=1,3). */
const REPLICAS = (process.env['BENCH_REPLICAS'] ?? '1,3').split(',').map(Number);
/** Reconcile passes sampled after convergence. */
const PASSES = env('BENCH_PASSES', 20);
/** Real hosts heartbeat every 30 s. */
const HEARTBEAT_MS = 30_000;
const RESYNC_FOR_PASSES_MS = 1000;
/** Pass sampling stops early after this long (with at least one pass). */
const PASSES_BUDGET_S = env('BENCH_PASSES_BUDGET_S', 60);
const LATTICE = 'bench';
const DURATION = 'wadm_reconcile_duration_seconds';
const log = logger('deploy');
const apps = fmt(APPS);

interface Placement {
  hostIndex: number;
  app: string;
  componentId: string;
  imageRef: string;
  count: number;
  annotations: Record<string, string>;
}

interface Spread {
  max: number;
  mean: number;
  min: number;
  /** Apps with their 2 instances on two hosts. */
  split: number;
}

interface StopSamples {
  /** ms from host_stopped to the first replacement request, per sample. */
  first: number[];
  /** ms from host_stopped until every affected app had a replacement request. */
  all: number[];
  /** ms from host_stopped until the hosts run every instance again. */
  restored: number[];
  affected: number[];
  /** Why sampling ended early, if it failed. */
  failure?: string;
}

interface DeployResult {
  replicas: number;
  seconds: number;
  deployCalls: number;
  putSeconds: number;
  putRetries: number;
  putErrors: number;
  /** Apps the API lists after the puts. */
  listed: number;
  commands: number;
  placement: Placement[];
  spread: Spread;
  rssMb: number;
  /** CPU seconds used from the first deploy call until every app was deployed: each replica, nats-server, this process (the simulated hosts). */
  cpu?: { replicas: number[]; nats: number; bench: number };
  stops: StopSamples;
  passes?: { delta: Histogram; commandsDuring: number };
  peakInstances?: number;
  atDeployed?: number;
  /** Set when not every app was deployed within BENCH_DEPLOY_TIMEOUT_S. */
  failed?: { deployed: number; instances: number; listed: number; log: string };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function placementOf(sim: SimulatedLattice): Placement[] {
  const index = new Map(sim.hostIds().map((id, i) => [id, i]));
  return sim.snapshot().hosts.flatMap((h) =>
    h.components
      .filter((c) => c.annotations[APPSPEC] !== undefined)
      .map((c) => ({ hostIndex: index.get(h.id)!, app: c.annotations[APPSPEC]!, componentId: c.id, imageRef: c.imageRef, count: c.count, annotations: c.annotations })),
  );
}

function spreadOf(sim: SimulatedLattice, placement: Placement[]): Spread {
  const perHost = [...instancesByHost(sim).values()];
  const hostsOf = new Map<string, number>();
  for (const p of placement) hostsOf.set(p.app, (hostsOf.get(p.app) ?? 0) + 1);
  return {
    max: Math.max(...perHost),
    min: Math.min(...perHost),
    mean: perHost.reduce((a, b) => a + b, 0) / perHost.length,
    split: [...hostsOf.values()].filter((n) => n === 2).length,
  };
}

/**
 * Stops hosts cleanly, one at a time, and times the reaction. The replacement request is the first
 * `component.scale` (count > 0) for an app that had an instance on the stopped host, sent to another host.
 */
async function hostStops(nc: NatsConnection, sim: SimulatedLattice, statuses: Statuses, samples: number): Promise<StopSamples> {
  interface Current {
    victim: string;
    affected: Set<string>;
    tEvent?: number;
    tFirst?: number;
    tAll?: number;
    seen: Set<string>;
  }
  let cur: Current | undefined;
  const evSub = nc.subscribe(`wasmbus.evt.${LATTICE}.host_stopped`, {
    callback: (_e, m) => {
      const t = now();
      let source = '';
      try {
        source = String((JSON.parse(m.string()) as { source?: string }).source ?? '');
      } catch {
        return;
      }
      if (cur && cur.tEvent === undefined && source === cur.victim) cur.tEvent = t;
    },
  });
  const ctlSub = nc.subscribe(`wasmbus.ctl.v1.${LATTICE}.component.scale.>`, {
    callback: (_e, m) => {
      const t = now();
      if (!cur || cur.tEvent === undefined) return;
      const host = m.subject.slice(m.subject.lastIndexOf('.') + 1);
      let body: { annotations?: Record<string, string>; count?: number };
      try {
        body = JSON.parse(m.string()) as typeof body;
      } catch {
        return;
      }
      const app = body.annotations?.[APPSPEC];
      if (app === undefined || !cur.affected.has(app) || host === cur.victim || !(Number(body.count) > 0)) return;
      cur.tFirst ??= t;
      cur.seen.add(app);
      if (cur.tAll === undefined && cur.seen.size === cur.affected.size) cur.tAll = t;
    },
  });
  await nc.flush();
  const out: StopSamples = { first: [], all: [], restored: [], affected: [] };
  const want = APPS * 2;
  const t0 = now();
  try {
    for (let i = 0; i < samples && secondsSince(t0) < STOPS_BUDGET_S; i++) {
      const snap = sim.snapshot();
      const victimHost = snap.hosts.find((h) => h.components.some((c) => c.annotations[APPSPEC] !== undefined));
      if (!victimHost) throw new Error('no host runs an app instance');
      log(`stop ${i + 1}: host with ${victimHost.components.length} instances`);
      const c: Current = { victim: victimHost.id, affected: new Set(victimHost.components.map((x) => x.annotations[APPSPEC]!).filter((x) => x !== undefined)), seen: new Set() };
      cur = c;
      await sim.stopHost(c.victim);
      const tRestored = await waitFor(() => {
        if (c.tEvent === undefined || c.tAll === undefined) return undefined;
        return managedInstances(sim) === want ? now() : undefined;
      }, SAMPLE_TIMEOUT_S * 1000, `instances restored after stopping host ${i + 1}`).catch(() => undefined);
      if (tRestored === undefined) {
        out.failure = `stop ${i + 1}: the hosts did not run all ${fmt(want)} instances again within ${SAMPLE_TIMEOUT_S} s (${fmt(managedInstances(sim))} running, ${c.tFirst === undefined ? 'no' : fmt(c.seen.size)} of ${fmt(c.affected.size)} affected apps had a replacement request)`;
        log(out.failure);
        break;
      }
      out.first.push(c.tFirst! - c.tEvent!);
      out.all.push(c.tAll! - c.tEvent!);
      out.restored.push(tRestored - c.tEvent!);
      out.affected.push(c.affected.size);
      cur = undefined;
      // Converged before the next sample: every app deployed again and no control request for 1 s.
      const again = await waitFor(() => statuses.deployed() === APPS, SAMPLE_TIMEOUT_S * 1000, 'every app deployed again').catch(() => undefined);
      if (!again) {
        out.failure = `stop ${i + 1}: not every app was \`deployed\` again within ${SAMPLE_TIMEOUT_S} s (${fmt(statuses.deployed())} of ${apps})`;
        log(out.failure);
        break;
      }
      await quiet([sim], 1000);
    }
  } finally {
    evSub.unsubscribe();
    ctlSub.unsubscribe();
  }
  return out;
}

/** NATS messages the replicas received and sent so far (every connection). */
async function natsTraffic(serves: readonly Serve[]): Promise<[number, number]> {
  return [await metricSum(serves, 'wadm_nats_messages_total', { direction: 'in' }), await metricSum(serves, 'wadm_nats_messages_total', { direction: 'out' })];
}

/**
 * The replica warm-up (REPLICA_WARMUP_APPS): those apps are stored, deployed, undeployed and deleted on the
 * benchmark's lattice, so its owner and every replica's API, ingest and command workers have run the
 * deploy paths; then until the hosts run nothing of them and 1 s passes without control requests.
 */
async function warmReplicas(api: RawApi, sim: SimulatedLattice, replicas: number): Promise<void> {
  const t = now();
  const statuses = new Statuses(api.nc);
  const name = (i: number): string => `warmup${i}`;
  try {
    await pool(REPLICA_WARMUP_APPS, PUTS_IN_FLIGHT, async (i) => void (await putRetrying(api, manifest(name(i), 2, `reg.example/warmup/${name(i)}:1.0.0`), `put ${name(i)}`)));
    await pool(REPLICA_WARMUP_APPS, IN_FLIGHT, async (i) => ok(await call(api, 'deploy', name(i)), 'acknowledged', `deploy ${name(i)}`));
    await waitFor(() => statuses.deployed() === REPLICA_WARMUP_APPS, DEPLOY_TIMEOUT_S * 1000, `${REPLICA_WARMUP_APPS} warm-up apps deployed`);
    await pool(REPLICA_WARMUP_APPS, IN_FLIGHT, async (i) => void (await api.nc.request(api.subject('del', name(i)), '', { timeout: 120_000 })));
    await waitFor(() => managedInstances(sim) === 0, DEPLOY_TIMEOUT_S * 1000, 'warm-up apps gone from the hosts');
    await quiet([sim], 1000);
  } finally {
    statuses.stop();
  }
  log(`${replicas} replica(s): warm-up of ${REPLICA_WARMUP_APPS} apps deployed and deleted in ${secondsSince(t).toFixed(1)} s (not recorded)`);
}

/** `full`: also the pass-time sampling (1 replica) and the host stops after the deploy. */
async function deployRun(replicas: number, warm: boolean, full = true): Promise<DeployResult> {
  return onFreshServer(log, async ({ nats, nc, serves, lattice }) => {
    for (let i = 0; i < replicas; i++) serves.push(await startServe(nats.url, `bench-${i}`));
    const sim = await lattice(LATTICE, HOSTS, HEARTBEAT_MS);
    await hostsKnown(serves, [{ lattice: LATTICE, hosts: HOSTS }]);
    const api = new RawApi(nc, LATTICE);
    if (warm) await warmReplicas(api, sim, replicas);
    const retriesBefore = await metricSum(serves, 'wadm_manifest_cas_retries_total');
    const tPut = now();
    let putErrors = 0;
    await pool(APPS, PUTS_IN_FLIGHT, async (i) => {
      const errors = await putRetrying(api, manifest(`app${i}`, 2, `reg.example/bench/app${i}:1.0.0`), `put app${i}`);
      putErrors += errors;
    });
    const listed = await listedApps(api);
    const putSeconds = secondsSince(tPut);
    const putRetries = (await metricSum(serves, 'wadm_manifest_cas_retries_total')) - retriesBefore;
    log(`${replicas} replica(s): ${APPS} puts in ${putSeconds.toFixed(1)} s (${putRetries} manifest CAS retries, ${putErrors} failed puts retried; ${listed} apps listed)`);
    const statuses = new Statuses(nc);
    sim.resetCommandCounts();
    log(`${replicas} replica(s): ${APPS} apps stored, deploying`);
    const peak = instancePeak([sim]);
    const natsBefore = await natsTraffic(serves);
    const cpuAt = (): { replicas: number[]; nats: number; bench: number } => {
      const u = process.cpuUsage();
      return { replicas: serves.map((x) => cpuSecondsOf(x.pid)), nats: nats.pid !== undefined ? cpuSecondsOf(nats.pid) : NaN, bench: (u.user + u.system) / 1e6 };
    };
    // Counters over the measured window only (the warm-up ran before it).
    const windowed = async (): Promise<number[]> => [
      await metricSum(serves, 'wadm_reconcile_duration_seconds_count'),
      await metricSum(serves, 'wadm_reconcile_duration_seconds_sum'),
      await metricSum(serves, 'wadm_state_cas_retries_total'),
      await metricSum(serves, 'wadm_scaler_evaluations_reused_total', { kind: 'pinned' }),
      await metricSum(serves, 'wadm_scaler_evaluations_reused_total', { kind: 'converged' }),
    ];
    const before = await windowed();
    const cpu0 = cpuAt();
    const allDeployed = statuses.whenDeployed(APPS);
    const t0 = now();
    await pool(APPS, IN_FLIGHT, async (i) => ok(await call(api, 'deploy', `app${i}`), 'acknowledged', `deploy app${i}`));
    const deployCalls = secondsSince(t0);
    // An app stored but missing from the lattice's index is never reconciled: do not wait for it.
    const doneAt = listed < APPS ? undefined : await withTimeout(allDeployed, DEPLOY_TIMEOUT_S * 1000);
    const converged = doneAt !== undefined;
    const seconds = ((doneAt ?? now()) - t0) / 1000;
    if (!converged) {
      // Reported as such; nothing after a deploy that did not finish would mean much.
      if (listed < APPS) await sleep(10_000);
      const failed = { deployed: statuses.deployed(), instances: managedInstances(sim), listed, log: serves.map((x) => x.tail().slice(-1500)).join('\n') };
      log(`${replicas} replica(s): only ${failed.deployed} of ${APPS} apps deployed after ${seconds.toFixed(0)} s (${failed.instances} instances running); replica output: ${failed.log}`);
      statuses.stop();
      peak.stop();
      return { replicas, seconds, deployCalls, putSeconds, putRetries, putErrors, listed, commands: sim.commandsReceived().actions, placement: [], spread: { max: NaN, mean: NaN, min: NaN, split: 0 }, rssMb: Math.max(...serves.map((x) => rssOf(x.pid).rssMb)), stops: { first: [], all: [], restored: [], affected: [] }, failed };
    }
    const cpu1 = cpuAt();
    {
      // The deploy's timeline: when the apps reached `deployed`, from the first deploy call.
      const at = [...statuses.firstDeployedAt.values()].map((x) => (x - t0) / 1000).sort((a, b) => a - b);
      const q = (f: number): string => (at[Math.min(at.length - 1, Math.floor(f * at.length))] ?? NaN).toFixed(2);
      log(`${replicas} replica(s): timeline: deploy calls done at ${deployCalls.toFixed(2)} s; deployed 10% ${q(0.1)}, 50% ${q(0.5)}, 90% ${q(0.9)}, 100% ${q(1)} s`);
    }
    const cpu = { replicas: cpu1.replicas.map((v, i) => v - cpu0.replicas[i]!), nats: cpu1.nats - cpu0.nats, bench: cpu1.bench - cpu0.bench };
    const [passesDuring, passSeconds, casLost, pinned, convergedReuses] = (await windowed()).map((v, i) => v - before[i]!) as [number, number, number, number, number];
    const traffic = (await natsTraffic(serves)).map((v, i) => v - natsBefore[i]!);
    log(`${replicas} replica(s)${warm ? '' : ' cold'}: ${APPS} deployed in ${seconds.toFixed(2)} s (deploy calls took ${deployCalls.toFixed(2)} s; ${passesDuring} passes, ${passSeconds.toFixed(2)} s in passes; NATS messages per app: ${(traffic[0]! / APPS).toFixed(1)} in, ${(traffic[1]! / APPS).toFixed(1)} out; ${casLost} state compare-and-sets lost; scaler evaluations reused: ${pinned} pinned, ${convergedReuses} converged; CPU s: replicas ${cpu.replicas.map((v) => v.toFixed(2)).join(' ')}, nats-server ${cpu.nats.toFixed(2)}, hosts ${cpu.bench.toFixed(2)})`);
    const atDeployed = managedInstances(sim);
    await waitFor(() => managedInstances(sim) === APPS * 2, 60_000, 'exactly the declared instances running');
    await quiet([sim], 2000);
    const peakInstances = peak.stop();
    const commands = sim.commandsReceived().actions;
    const placement = placementOf(sim);
    const spread = spreadOf(sim, placement);
    const rssMb = Math.max(...serves.map((s) => rssOf(s.pid).rssMb));
    log(`${replicas} replica(s): spread max ${spread.max} mean ${spread.mean.toFixed(1)} per host; ${commands} control requests; RSS ${rssMb.toFixed(0)} MB`);

    let passes: DeployResult['passes'];
    if (replicas === 1 && full) {
      // Passes after convergence, driven by the resync timer alone: the replica is replaced by one with a 1 s resync.
      await stopServe(serves[0]!);
      const s: Serve = await startServe(nats.url, 'bench-passes', ['--resync-interval-ms', String(RESYNC_FOR_PASSES_MS)]);
      serves.push(s);
      const count = async (): Promise<number> => (await histogram([s], DURATION)).count;
      await waitFor(async () => (await count()) >= 2, 180_000, 'the first reconcile passes of the restarted replica');
      const before = await histogram([s], DURATION);
      const c0 = sim.commandsReceived().actions;
      const tp = now();
      await waitFor(async () => {
        const n = (await count()) - before.count;
        return n >= PASSES || (n >= 1 && secondsSince(tp) >= PASSES_BUDGET_S);
      }, (PASSES_BUDGET_S + 120) * 1000, 'reconcile passes after convergence');
      const delta = histogramDelta(before, await histogram([s], DURATION));
      passes = { delta, commandsDuring: sim.commandsReceived().actions - c0 };
      log(`reconcile passes: ${delta.count}, mean ${((delta.sum / delta.count) * 1000).toFixed(0)} ms`);
      // Back to default settings for the host stops.
      await stopServe(s);
      const fresh = await startServe(nats.url, 'bench-stops');
      serves.push(fresh);
      // A runtime with leases: until the new replica holds the lattice (and ran its first pass).
      if ((await metric(fresh, 'wadm_lease_valid')) !== undefined) {
        await waitFor(async () => ((await metric(fresh, 'wadm_lattices_owned')) ?? 0) >= 1 && (await histogram([fresh], DURATION)).count >= 1, 60_000, 'the restarted replica to hold the lattice');
      }
    }
    const stops: StopSamples = full ? await hostStops(nc, sim, statuses, STOPS) : { first: [], all: [], restored: [], affected: [] };
    if (full) log(`${replicas} replica(s): host_stopped → first replacement request p50 ${percentile(stops.first, 50).toFixed(0)} ms, p99 ${percentile(stops.first, 99).toFixed(0)} ms`);

    statuses.stop();
    return { replicas, seconds, deployCalls, putSeconds, putRetries, putErrors, listed, commands, placement, spread, rssMb, cpu, stops, passes, peakInstances, atDeployed };
  });
}

async function floorRun(placement: Placement[]): Promise<{ seconds: number; requests: number }> {
  return onFreshServer(log, async ({ nc, lattice }) => {
    const sim = await lattice(LATTICE, HOSTS, HEARTBEAT_MS);
    const hosts = sim.hostIds();
    const want = placement.reduce((n, p) => n + p.count, 0);
    // The end is timed to the host event that completes the placement (as the deploy's is to its last
    // status), not to the next poll of a `waitFor`. Counting the hosts' instances walks every host, so it
    // runs at most every CHECK_MS, and once more after the last event of a burst: the end is known to
    // within CHECK_MS.
    const CHECK_MS = 2;
    let doneAt: number | undefined;
    let checkedAt = -Infinity;
    let lastEventAt = 0;
    let trailing: NodeJS.Timeout | undefined;
    const check = (at: number): void => {
      checkedAt = now();
      if (doneAt === undefined && managedInstances(sim) === want) doneAt = at;
    };
    const events = nc.subscribe(`wasmbus.evt.${LATTICE}.component_scaled`, {
      callback: () => {
        if (doneAt !== undefined) return;
        lastEventAt = now();
        if (lastEventAt - checkedAt >= CHECK_MS) check(lastEventAt);
        else
          trailing ??= setTimeout(() => {
            trailing = undefined;
            check(lastEventAt);
          }, CHECK_MS);
      },
    });
    await nc.flush();
    const t0 = now();
    await pool(placement.length, 64, async (i) => {
      const p = placement[i]!;
      const host = hosts[p.hostIndex]!;
      const r = await ctl(nc, LATTICE, `component.scale.${host}`, { component_ref: p.imageRef, component_id: p.componentId, annotations: p.annotations, count: p.count, host_id: host, config: [], allow_update: false });
      if (!r.success) throw new Error(`scale failed: ${r.message}`);
    });
    await waitFor(() => doneAt !== undefined, 120_000, `${want} instances running`);
    events.unsubscribe();
    clearTimeout(trailing);
    return { seconds: (doneAt! - t0) / 1000, requests: placement.length };
  });
}

const runs: Array<{ r: DeployResult; floor: { seconds: number; requests: number; all: number[] }; all: number[] }> = [];
const warmups: number[] = [];
for (let k = 0; k < WARMUPS; k++) {
  // The deploy's shape: every app's 2 instances on 2 hosts, each host with its share.
  const placement: Placement[] = Array.from({ length: APPS * 2 }, (_, j) => {
    const app = `warm${Math.floor(j / 2)}`;
    return { hostIndex: j % HOSTS, app, componentId: `${app}-c`, imageRef: `reg.example/bench/${app}:1.0.0`, count: 1, annotations: { [APPSPEC]: app, 'wasmcloud.dev/managed-by': 'wadm' } };
  });
  warmups.push((await floorRun(placement)).seconds);
}
if (warmups.length > 0) log(`warm-up: ${warmups.length} floor-shaped run(s) of the simulated hosts, not recorded (${warmups.map((x) => x.toFixed(2)).join(', ')} s)`);
/** Per replica count, the cold run (replicas started just before the deploy), when BENCH_COLD. */
const coldRuns = new Map<number, DeployResult>();
for (const replicas of REPLICAS) {
  if (COLD) coldRuns.set(replicas, await deployRun(replicas, false, false));
  // This machine is shared and its speed moves from minute to minute: DEPLOY_RUNS runs, each followed by
  // FLOORS floors on fresh servers; the medians are recorded. The first run also samples passes and stops.
  let r: DeployResult | undefined;
  const times: number[] = [];
  const floors: number[] = [];
  for (let k = 0; k < DEPLOY_RUNS; k++) {
    const x = await deployRun(replicas, REPLICA_WARMUP_APPS > 0, k === 0);
    if (k === 0 || x.failed) r = x;
    if (x.failed) break;
    times.push(x.seconds);
    for (let j = 0; j < FLOORS; j++) floors.push((await floorRun(x.placement)).seconds);
  }
  if (r === undefined) throw new Error('no deploy run');
  const floor = { seconds: floors.length ? percentile(floors, 50) : NaN, requests: r.placement.length, all: floors };
  if (!r.failed) r = { ...r, seconds: percentile(times, 50) };
  log(`${replicas} replica(s): deploys in ${times.map((x) => x.toFixed(2)).join(', ')} s, floors ${floors.map((x) => x.toFixed(2)).join(', ')} s; ratio of the medians ${(r.seconds / floor.seconds).toFixed(1)}x`);
  runs.push({ r, floor, all: times });
}

// ---------- results ----------

const rep = (n: number): string => `${n} replica${n === 1 ? '' : 's'}`;
/** The cold run of `n` replicas (BENCH_COLD), against the floor of the warm run. */
function coldRows(n: number, floorSeconds: number): Row[] {
  const c = coldRuns.get(n);
  if (!c) return [];
  if (c.failed) return [{ key: `deploy.r${n}.cold.seconds`, what: `  the same, ${rep(n)} started cold`, value: null, unit: 's', display: `**not finished**: ${fmt(c.failed.deployed)} of ${apps} deployed after ${c.seconds.toFixed(0)} s`, means: 'Replicas started just before the puts, without the warm-up.' }];
  return [
    { key: `deploy.r${n}.cold.seconds`, what: `  the same, ${rep(n)} started cold`, value: c.seconds, unit: 's', means: `A run of its own on a fresh server, replicas started just before the puts, without the warm-up: the first burst of a replica meets its deploy paths not compiled yet (CPU s: replicas ${c.cpu ? c.cpu.replicas.map((v) => v.toFixed(2)).join(' + ') : 'n/a'}).` },
    { key: `deploy.r${n}.cold.ratio`, what: `  its ratio to the floor, ${rep(n)} started cold`, value: c.seconds / floorSeconds, unit: 'x', means: 'Divided by the floor of the warm run (the same placement shape: 2 instances per app on 2 hosts).' },
  ];
}
const deployRows: Row[] = runs.flatMap(({ r, floor, all }): Row[] => {
  const n = r.replicas;
  return [
    r.failed
      ? { key: `deploy.r${n}.seconds`, what: `${apps} apps to deployed, ${rep(n)}`, value: null, unit: 's', display: `**not finished**: ${fmt(r.failed.deployed)} of ${apps} deployed after ${r.seconds.toFixed(0)} s (${fmt(r.failed.instances)} instances running${r.failed.listed < APPS ? `; only ${fmt(r.failed.listed)} apps listed after the puts` : ''})`, means: `From the first deploy call until every app's published status (\`wadm.status.${LATTICE}.*\`) is \`deployed\`; given up after BENCH_DEPLOY_TIMEOUT_S.` }
      : { key: `deploy.r${n}.seconds`, what: `${apps} apps to deployed, ${rep(n)}`, value: r.seconds, unit: 's', means: `The median of ${all.length} run(s) (${all.map((x) => x.toFixed(2)).join(', ')} s), each on a fresh server: from the first deploy call until every app's published status (\`wadm.status.${LATTICE}.*\`) is \`deployed\`${REPLICA_WARMUP_APPS > 0 ? `; the replicas were warmed up first by ${fmt(REPLICA_WARMUP_APPS)} apps deployed and deleted on the same lattice (BENCH_REPLICA_WARMUP_APPS)` : ''}.` },
    ...coldRows(n, floor.seconds),
    { key: `deploy.r${n}.calls`, what: `  the deploy calls alone, ${rep(n)}`, value: r.deployCalls, unit: 's', means: `From the first deploy call until the last of the ${apps} replies (${IN_FLIGHT} in flight), in the first run; part of the row above.` },
    { key: `deploy.r${n}.floor`, what: `  floor for that placement`, value: floor.seconds, unit: 's', means: `One client sends the ${fmt(floor.requests)} \`component.scale\` requests that produced wadm's placement in this run (64 in flight) to a fresh lattice of ${HOSTS} hosts on a fresh server, until the hosts run all ${fmt(APPS * 2)} instances; the median of ${floor.all.length} such runs (${floor.all.map((x) => x.toFixed(2)).join(', ')} s), ${FLOORS} after each deploy run.` },
    { key: `deploy.r${n}.ratio`, what: `  ratio to the floor, ${rep(n)}`, value: r.seconds / floor.seconds, unit: 'x', goal: { max: 5, ideal: 3 }, means: 'Time to deployed divided by the floor (both medians): what wadm adds over issuing the same control calls directly. The rows below are of the first run too.' },
    { key: `deploy.r${n}.commands`, what: `  control requests sent to hosts, ${rep(n)}`, value: r.commands, unit: 'count', means: `Every control request the hosts received during the deploy (the placement needs ${fmt(r.placement.length)} scale requests).` },
    { key: `deploy.r${n}.peak`, what: `  most instances running at once, ${rep(n)}`, value: r.peakInstances ?? null, unit: 'instances', goal: { max: APPS * 2 }, means: `Sampled every 100 ms from the first deploy call until 2 s without control requests; ${fmt(APPS * 2)} are declared (${r.atDeployed === undefined ? 'n/a' : fmt(r.atDeployed)} ran when the last app became \`deployed\`).` },
    { key: `deploy.r${n}.spread.max`, what: `  instances per host: max, ${rep(n)}`, value: r.spread.max, unit: 'instances', means: `The most instances any host runs after the deploy (min ${r.spread.min}; ${fmt(r.spread.split)} of ${apps} apps have their 2 instances on two hosts).` },
    { key: `deploy.r${n}.spread.mean`, what: `  instances per host: mean, ${rep(n)}`, value: r.spread.mean, unit: 'instances', means: `${fmt(APPS * 2)} instances over ${HOSTS} hosts.` },
    { key: `deploy.r${n}.puts.${PUTS_IN_FLIGHT}`, what: `  storing the ${apps} manifests first, ${rep(n)}`, value: r.putSeconds, unit: 's', means: `${PUTS_IN_FLIGHT} put calls in flight (BENCH_PUTS_IN_FLIGHT), before the clock starts: ${fmt(r.putRetries)} lost compare-and-sets retried inside wadm (\`wadm_manifest_cas_retries_total\`), ${fmt(r.putErrors)} puts answered with an error and were sent again; the API then listed ${fmt(r.listed)} apps.` },
    ...(r.cpu
      ? [
          {
            key: `deploy.r${n}.cpu`,
            what: `  CPU used during the deploy, ${rep(n)}`,
            value: sum(r.cpu.replicas) + r.cpu.nats + r.cpu.bench,
            unit: 's' as const,
            means: `CPU seconds (user + system) from the first deploy call until every app was \`deployed\`: replicas ${r.cpu.replicas.map((v) => v.toFixed(2)).join(' + ')} s, nats-server ${r.cpu.nats.toFixed(2)} s, the simulated hosts (this process) ${r.cpu.bench.toFixed(2)} s; ${((sum(r.cpu.replicas) + r.cpu.nats + r.cpu.bench) / r.seconds).toFixed(2)} of the machine's ${cpus().length} cores busy on average. With every core busy, the time to deployed cannot be shorter than this total divided by the cores.`,
          },
        ]
      : []),
    { key: `deploy.r${n}.rss`, what: `  replica RSS after the deploy, ${rep(n)}`, value: r.rssMb, unit: 'MB', means: `VmRSS of the \`wadm serve\` process (the largest of the replicas), one lattice of ${apps} apps and ${HOSTS} hosts, right after the deploy.` },
  ];
});
emit({
  bench: 'deploy',
  id: 'deploy',
  params: { apps: APPS, hosts: HOSTS, inFlight: IN_FLIGHT },
  title: `${apps} apps on ${HOSTS} hosts to deployed`,
  note:
    `One lattice of ${HOSTS} simulated hosts (heartbeat 30 s, as real hosts), ${apps} apps (BENCH_APPS), each one component with a spreadscaler of 2 instances and its own image. ` +
    `Replicas are \`wadm serve\` processes with default settings, on a fresh nats-server per run; all manifests are stored first (${PUTS_IN_FLIGHT} puts in flight), then deployed with ${IN_FLIGHT} deploy calls in flight. ` +
    `Before the first deploy run, ${WARMUPS} floor-shaped run(s) on a fresh server (BENCH_WARMUPS, not recorded) warm up the simulated hosts, which run in the benchmark's process as the floor's client does. ` +
    (REPLICA_WARMUP_APPS > 0
      ? `The replicas are warmed up too, as replicas in service are: before the manifests are stored, ${fmt(REPLICA_WARMUP_APPS)} other apps are stored, deployed and deleted on the same lattice (BENCH_REPLICA_WARMUP_APPS, not recorded)${COLD ? '; each replica count also runs once without it, on a fresh server with replicas started just before the puts (the "started cold" rows, BENCH_COLD)' : ''}. `
      : 'The replicas are started just before the puts (no warm-up, BENCH_REPLICA_WARMUP_APPS=0). ') +
    `Per replica count, ${DEPLOY_RUNS} deploy runs (BENCH_DEPLOY_RUNS), each on a fresh server and followed by ${FLOORS} floor run(s) on another (BENCH_FLOORS): this machine's speed moves from minute to minute, so the time and the floor recorded are medians. The 3 replicas share the 2 cores with nats-server and the simulated hosts, so they add availability rather than speed here.`,
  rows: deployRows,
});

const one = runs.find((x) => x.r.passes)?.r;
const p = one?.passes ?? { delta: { buckets: [], sum: 0, count: 0 }, commandsDuring: 0 };
const q50 = histogramQuantile(p.delta, 0.5);
const q99 = histogramQuantile(p.delta, 0.99);
const inBucket = (q: ReturnType<typeof histogramQuantile>): string =>
  q === undefined ? 'n/a' : `≈ ${fmt(Math.round(q.value * 1000))} ms (bucket ${fmt(Math.round(q.lower * 1000))}–${q.upper === Infinity ? '∞' : fmt(Math.round(q.upper * 1000))} ms)`;
const passNote = p.commandsDuring === 0 ? 'no control request was sent during them' : `${p.commandsDuring} control requests were sent during them (not at rest)`;
emit({
  bench: 'deploy',
  id: 'passes',
  params: { apps: APPS, hosts: HOSTS },
  title: `Reconcile pass time at ${apps} apps`,
  note:
    `In the 1-replica run above, once the ${apps} apps are deployed on the ${HOSTS} hosts, the replica is replaced by one started with \`--resync-interval-ms ${RESYNC_FOR_PASSES_MS}\` so that the resync timer alone drives passes; ` +
    `after its first 2 passes, up to ${PASSES} passes (BENCH_PASSES; fewer if they take more than ${PASSES_BUDGET_S} s, BENCH_PASSES_BUDGET_S) are read from the histogram \`${DURATION}\` on its /metrics (${passNote}). ` +
    '(Then it is replaced again by one with default settings for the host stops.) p50 and p99 come from the histogram buckets, interpolated inside the bucket as Prometheus does: the true value lies within the bucket shown.',
  rows: [
    { key: 'passes.mean', what: `pass time, mean (${p.delta.count} passes)`, value: (p.delta.sum / p.delta.count) * 1000, unit: 'ms', means: 'Sum over count of the passes after convergence.' },
    { key: 'passes.p50', what: 'pass time, p50', value: q50 ? q50.value * 1000 : null, unit: 'ms', display: inBucket(q50), means: 'Median pass, from the buckets.' },
    { key: 'passes.p99', what: 'pass time, p99', value: q99 ? q99.value * 1000 : null, unit: 'ms', display: inBucket(q99), means: `From the buckets (with ${p.delta.count} passes, close to the slowest one).` },
  ],
});

const stopRows: Row[] = runs.flatMap(({ r }): Row[] => {
  const n = r.replicas;
  const s = r.stops;
  const meanAffected = s.affected.reduce((a, b) => a + b, 0) / s.affected.length;
  if (s.first.length === 0) {
    return [{ key: `stop.r${n}.first.p99`, what: `host_stopped → first replacement request, p99, ${rep(n)}`, value: null, unit: 'ms', display: 'not measured', goal: { max: 250, strict: true }, means: 'The deploy did not finish, so no host was stopped.' }];
  }
  return [
    { key: `stop.r${n}.first.p50`, what: `host_stopped → first replacement request, p50, ${rep(n)}`, value: percentile(s.first, 50), unit: 'ms', means: `Median over ${s.first.length} clean host stops (${fmt(Math.round(meanAffected))} affected apps per stop on average).` },
    { key: `stop.r${n}.first.p99`, what: `host_stopped → first replacement request, p99, ${rep(n)}`, value: percentile(s.first, 99), unit: 'ms', goal: { max: 250, strict: true }, samples: s.first.map((x) => Math.round(x)), means: `Nearest rank: with ${s.first.length} samples, the slowest stop (all, ms: ${s.first.map((x) => Math.round(x)).join(', ')}).` },
    { key: `stop.r${n}.all.p50`, what: `  → every affected app has its request, p50, ${rep(n)}`, value: percentile(s.all, 50), unit: 'ms', means: 'Until the last affected app got its replacement request.' },
    ...(s.failure ? [{ key: `stop.r${n}.failure`, what: `  sampling ended early, ${rep(n)}`, value: null, unit: 'count' as const, display: '**failed**', means: s.failure }] : []),
    { key: `stop.r${n}.restored.p50`, what: `  → hosts run every instance again, p50, ${rep(n)}`, value: percentile(s.restored, 50), unit: 'ms', means: `Until the simulated hosts run all ${fmt(APPS * 2)} instances again (polled).` },
  ];
});
emit({
  bench: 'deploy',
  id: 'host-stop',
  params: { apps: APPS, hosts: HOSTS },
  title: `Clean host stop → replacement, ${apps} apps deployed`,
  note:
    `In each run above, after the deploy: up to ${STOPS} hosts (BENCH_STOPS; fewer if they take more than ${STOPS_BUDGET_S} s, BENCH_STOPS_BUDGET_S) are stopped cleanly one at a time, each time the first host (by id) that runs an instance. ` +
    `The clock starts when this process receives the \`host_stopped\` event (\`wasmbus.evt.${LATTICE}.host_stopped\`) and stops when it receives the first \`component.scale\` request (core subscription on \`wasmbus.ctl.v1.${LATTICE}.component.scale.>\`) ` +
    'with a count above 0 for an app that had an instance on the stopped host, sent to another host. Between samples: every app `deployed` again and 1 s without control requests.',
  rows: stopRows,
});
