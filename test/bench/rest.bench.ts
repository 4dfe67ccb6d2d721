/**
 * A replica at rest: 10 lattices of 10 simulated hosts each (heartbeat 30 s, as real hosts), 100 apps
 * per lattice (1,000 apps), replicas with default settings. Once every app is `deployed` and the hosts
 * got no control request for a while: the RSS of each `wadm serve` process (/proc/<pid>/status VmRSS),
 * then its CPU time over a window of at least 60 s (/proc/<pid>/stat utime + stime), with 1 and with 3
 * replicas, each on a fresh nats-server.
 * Prints JSON sections (the runner renders docs/benchmarks.md).
 */
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { RawApi } from '../harness/api.js';
import {
  Statuses,
  call,
  commandsOf,
  ctlSniffer,
  instancePeak,
  managedInstances,
  cpuSecondsOf,
  emit,
  env,
  fmt,
  histogram,
  histogramDelta,
  hostsKnown,
  logger,
  metric,
  manifest,
  now,
  ok,
  onFreshServer,
  pool,
  putRetrying,
  quiet,
  rssOf,
  secondsSince,
  sleep,
  startServe,
  waitFor,
  type Row,
} from './common.js';

const LATTICES = env('BENCH_REST_LATTICES', 10);
const HOSTS_PER = env('BENCH_REST_HOSTS', 10);
const APPS_PER = env('BENCH_REST_APPS', 100);
const WINDOW_S = env('BENCH_REST_WINDOW_S', 60);
/** Replica counts: BENCH_REPLICAS=1,3. */
const IN_FLIGHT = 64;
/** Put calls in flight while storing (not measured; see the deploy benchmark). */
const PUTS_IN_FLIGHT = 16;
const HEARTBEAT_MS = 30_000;
const DURATION = 'wadm_reconcile_duration_seconds';
const log = logger('rest');

interface RestResult {
  replicas: number;
  deploySeconds: number;
  rssMb: number[];
  /** V8 heap in use at the same moment (`wadm_process_nodejs_heap_size_used_bytes`). */
  heapMb: number[];
  hwmMb: number[];
  rssMaxDuringMb: number[];
  cpuPct: number[];
  natsCpuPct: number;
  windowS: number;
  passes: number;
  passMeanMs: number;
  commandsDuring: number;
  ctlDuring: string;
  declared: number;
  atDeployed: number;
  /** Seconds from the first deploy until the hosts ran exactly the declared instances (NaN: never). */
  exact: number;
  peakInstances: number;
  deployRequests: string;
  putErrors: number;
}

async function restRun(replicas: number): Promise<RestResult> {
  return onFreshServer(log, async ({ nats, nc, serves, lattice }) => {
    for (let i = 0; i < replicas; i++) serves.push(await startServe(nats.url, `rest-${i}`));
    const names = Array.from({ length: LATTICES }, (_, i) => `rest${i}`);
    const sims: SimulatedLattice[] = [];
    for (const n of names) sims.push(await lattice(n, HOSTS_PER, HEARTBEAT_MS));
    await hostsKnown(serves, names.map((lattice) => ({ lattice, hosts: HOSTS_PER })));
    const apis = names.map((n) => new RawApi(nc, n));
    const all = LATTICES * APPS_PER;
    const at = (i: number): { api: RawApi; app: string } => ({ api: apis[i % LATTICES]!, app: `app${Math.floor(i / LATTICES)}` });
    let putErrors = 0;
    await pool(all, PUTS_IN_FLIGHT, async (i) => {
      const { api, app } = at(i);
      const errors = await putRetrying(api, manifest(app, 2, `reg.example/rest/${api.lattice}/${app}:1.0.0`), `put ${api.lattice}/${app}`);
      putErrors += errors;
    });
    const statuses = new Statuses(nc);
    const declared = all * 2;
    const peak = instancePeak(sims);
    const deployCtl = ctlSniffer(nc);
    const running = (): number => sims.reduce((n, sim) => n + managedInstances(sim), 0);
    const t0 = now();
    await pool(all, IN_FLIGHT, async (i) => {
      const { api, app } = at(i);
      ok(await call(api, 'deploy', app), 'acknowledged', `deploy ${api.lattice}/${app}`);
    });
    await waitFor(() => statuses.deployed() === all, 600_000, `${all} apps deployed`);
    const deploySeconds = secondsSince(t0);
    const atDeployed = running();
    log(`${replicas} replica(s): ${all} apps in ${LATTICES} lattices deployed in ${deploySeconds.toFixed(1)} s (${putErrors} failed puts retried before); ${atDeployed} instances running then`);
    // Converged: the hosts run exactly what is declared, and no control request for 5 s.
    const exact = await waitFor(() => running() === declared, 120_000, `${declared} instances`).then(() => secondsSince(t0), () => NaN);
    await quiet(sims, 5000, 120_000);
    const peakInstances = peak.stop();
    deployCtl.stop();
    const deployRequests = deployCtl.describe();
    log(`${replicas} replica(s): control requests of the deploy: ${deployRequests}; at most ${peakInstances} instances at once`);
    statuses.stop();
    const rss = serves.map((s) => rssOf(s.pid));
    const heapMb = await Promise.all(serves.map(async (s) => ((await metric(s, 'wadm_process_nodejs_heap_size_used_bytes')) ?? NaN) / 2 ** 20));
    log(`${replicas} replica(s): RSS ${rss.map((r) => r.rssMb.toFixed(0)).join(', ')} MB`);

    // At rest: heartbeats every 30 s, the resync timer (default 30 s), nothing else.
    const sniff = ctlSniffer(nc);
    const h0 = await histogram(serves, DURATION);
    const c0 = commandsOf(sims);
    const cpu0 = serves.map((s) => cpuSecondsOf(s.pid));
    const nats0 = nats.pid !== undefined ? cpuSecondsOf(nats.pid) : NaN;
    const w0 = now();
    const rssMax = rss.map((r) => r.rssMb);
    while (secondsSince(w0) < WINDOW_S) {
      await sleep(1000);
      serves.forEach((s, i) => (rssMax[i] = Math.max(rssMax[i]!, rssOf(s.pid).rssMb)));
    }
    const windowS = secondsSince(w0);
    const cpuPct = serves.map((s, i) => ((cpuSecondsOf(s.pid) - cpu0[i]!) / windowS) * 100);
    const natsCpuPct = nats.pid !== undefined ? ((cpuSecondsOf(nats.pid) - nats0) / windowS) * 100 : NaN;
    const d = histogramDelta(h0, await histogram(serves, DURATION));
    const commandsDuring = commandsOf(sims) - c0;
    sniff.stop();
    const ctlDuring = sniff.describe();
    if (sniff.samples.length > 0) log(`control requests at rest: ${ctlDuring}; first: ${sniff.samples.join(' | ')}`);
    log(`${replicas} replica(s): CPU ${cpuPct.map((x) => x.toFixed(2)).join(', ')} % over ${windowS.toFixed(0)} s; ${d.count} passes; ${commandsDuring} control requests`);
    return {
      replicas,
      deploySeconds,
      rssMb: rss.map((r) => r.rssMb),
      heapMb,
      hwmMb: serves.map((s) => rssOf(s.pid).hwmMb),
      rssMaxDuringMb: rssMax,
      cpuPct,
      natsCpuPct,
      windowS,
      passes: d.count,
      passMeanMs: d.count > 0 ? (d.sum / d.count) * 1000 : NaN,
      commandsDuring,
      ctlDuring,
      declared,
      atDeployed,
      exact,
      peakInstances,
      deployRequests,
      putErrors,
    };
  });
}

const results: RestResult[] = [];
for (const n of (process.env['BENCH_REPLICAS'] ?? '1,3').split(',').map(Number)) results.push(await restRun(n));

const rep = (n: number): string => `${n} replica${n === 1 ? '' : 's'}`;
const max = (xs: number[]): number => Math.max(...xs);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const list = (xs: number[], d: number): string => xs.map((x) => x.toFixed(d)).join(', ');
const rows: Row[] = results.flatMap((r): Row[] => {
  const n = r.replicas;
  const each = n > 1 ? ` (each: ${list(r.rssMb, 0)} MB)` : '';
  return [
    { key: `rest.r${n}.rss`, what: `replica RSS after convergence, ${rep(n)}`, value: max(r.rssMb), unit: 'MB', goal: { max: 150 }, means: `VmRSS of the \`wadm serve\` process once the hosts run exactly the declared instances and got no control request for 5 s${n > 1 ? '; the largest replica' : ''}${each}. V8 heap in use then: ${list(r.heapMb, 0)} MB (\`wadm_process_nodejs_heap_size_used_bytes\`).` },
    { key: `rest.r${n}.rss.window`, what: `  RSS, largest during the ${r.windowS.toFixed(0)} s at rest, ${rep(n)}`, value: max(r.rssMaxDuringMb), unit: 'MB', means: 'VmRSS sampled every second during the CPU window below.' },
    { key: `rest.r${n}.hwm`, what: `  peak RSS over the whole run, ${rep(n)}`, value: max(r.hwmMb), unit: 'MB', means: 'VmHWM at the end: the high-water mark, including the deploy.' },
    { key: `rest.r${n}.cpu`, what: `replica CPU at rest, ${rep(n)}`, value: n > 1 ? max(r.cpuPct) : r.cpuPct[0]!, unit: '%', goal: { max: 5, strict: true }, means: `utime + stime of the \`wadm serve\` process over ${r.windowS.toFixed(0)} s, as % of one core${n > 1 ? `; the busiest replica (each: ${list(r.cpuPct, 2)} %, mean ${mean(r.cpuPct).toFixed(2)} %)` : ''}.` },
    { key: `rest.r${n}.passes`, what: `  reconcile passes in that window, ${rep(n)}`, value: r.passes, unit: 'count', means: `\`${DURATION}_count\` over the window, all replicas (mean pass ${Number.isNaN(r.passMeanMs) ? 'n/a' : `${r.passMeanMs.toFixed(0)} ms`} at ${APPS_PER} apps per lattice); control requests seen on the lattices in that window: ${r.ctlDuring}.` },
    { key: `rest.r${n}.nats`, what: `  nats-server CPU in that window, ${rep(n)}`, value: r.natsCpuPct, unit: '%', means: 'For context: the server carrying the heartbeats, KV and streams.' },
    { key: `rest.r${n}.deploy`, what: `  deploy of the ${fmt(LATTICES * APPS_PER)} apps, ${rep(n)}`, value: r.deploySeconds, unit: 's', means: `From the first deploy call until every app in the ${LATTICES} lattices is \`deployed\` (${IN_FLIGHT} deploy calls in flight; the manifests were stored first, ${PUTS_IN_FLIGHT} puts in flight; ${r.putErrors} puts answered with an error and were sent again).` },
    { key: `rest.r${n}.deploy.peak`, what: `  most instances running at once during the deploy, ${rep(n)}`, value: r.peakInstances, unit: 'instances', goal: { max: r.declared }, means: `Sampled every 100 ms over the ${LATTICES} lattices until the end of the quiet period; ${fmt(r.declared)} are declared. ${fmt(r.atDeployed)} ran when the last app became \`deployed\`; exactly ${fmt(r.declared)} ran ${Number.isNaN(r.exact) ? 'never within 120 s' : `${r.exact.toFixed(1)} s after the first deploy call`}. Control requests of the deploy: ${r.deployRequests}.` },
  ];
});
emit({
  bench: 'rest',
  id: 'rest',
  params: { lattices: LATTICES, hostsPerLattice: HOSTS_PER, appsPerLattice: APPS_PER, windowS: WINDOW_S },
  title: 'A replica at rest: memory and CPU',
  note:
    `${LATTICES} lattices × ${HOSTS_PER} simulated hosts (heartbeat 30 s, as real hosts) × ${APPS_PER} apps (one component, spreadscaler of 2, own image): ${fmt(LATTICES * APPS_PER)} apps on ${LATTICES * HOSTS_PER} hosts. ` +
    'Replicas are `wadm serve` processes with default settings (resync 30 s, cleanup interval 70 s), on a fresh nats-server per run. ' +
    `CPU is measured over ${WINDOW_S} s (BENCH_REST_WINDOW_S) after convergence: the heartbeats and the resync timer are all that happens.`,
  rows,
});
