/**
 * Recovery times, each scenario on a fresh nats-server with replicas as `wadm serve` processes:
 *  1. Rescheduling after a host goes away: cleanly (`host_stopped`) and silently (no event; the host
 *     expires after the cleanup interval).
 *  2. Takeover with 3 replicas: the replica that reconciled the lattice last is SIGKILLed once the deploy
 *     is done, then a replica is SIGKILLed while it holds the lattice; each time a new app is deployed.
 * Prints JSON sections (the runner renders docs/benchmarks.md).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { RawApi } from '../harness/api.js';
import type { TestNats } from '../harness/nats.js';
import {
  Statuses,
  metric,
  emit,
  histogram,
  hostsKnown,
  logger,
  manifest,
  now,
  ok,
  onFreshServer,
  running,
  secondsSince,
  sleep,
  startServe,
  total,
  waitFor,
  type Serve,
} from './common.js';

const LATTICE = 'bench';
const CLEANUP_S = 3;
const TAKEOVER_MS = 5000;
const log = logger('recovery');

// ---------- 1. rescheduling after a host stops or dies ----------

async function rescheduleRun(): Promise<{ clean: number; silent: number }> {
  return onFreshServer(log, async ({ nats, nc, serves, lattice }) => {
    serves.push(await startServe(nats.url, 'bench-0', ['--cleanup-interval', String(CLEANUP_S), '--resync-interval-ms', '5000']));
    // Heartbeats well inside the cleanup interval, so only the killed host expires.
    const sim = await lattice(LATTICE, 10, 1000);
    await hostsKnown(serves, [{ lattice: LATTICE, hosts: 10 }]);
    const api = new RawApi(nc, LATTICE);
    const statuses = new Statuses(nc);
    ok(await api.put(manifest('spread10', 10, 'reg.example/bench/spread10:1.0.0'), 'application/json'), 'created', 'put spread10');
    ok(await api.deploy('spread10'), 'acknowledged', 'deploy spread10');
    await waitFor(() => statuses.of(LATTICE, 'spread10') === 'deployed' && total(running(sim, 'spread10')) === 10, 60_000, 'spread10 deployed');
    const busiest = (): string => [...running(sim, 'spread10').entries()].sort((a, b) => b[1] - a[1])[0]![0];

    let victim = busiest();
    let t0 = now();
    await sim.stopHost(victim);
    await waitFor(() => total(running(sim, 'spread10')) === 10, 60_000, 'rescheduled after a clean stop');
    const clean = secondsSince(t0);
    log(`clean stop of a host: back to 10 in ${clean.toFixed(2)} s`);
    await waitFor(() => statuses.of(LATTICE, 'spread10') === 'deployed', 30_000, 'deployed again');

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

// ---------- 2. takeover ----------

/**
 * The runtime that claims a lattice with a reconcile signal held unacknowledged (one durable consumer
 * per lattice on the reconcile stream) exposes the stream's name; a runtime without it has none.
 */
async function signalClaims(): Promise<{ stream: string; subject: (lattice: string) => string } | undefined> {
  const store = (await import('@wadm-ts/protocol')) as unknown as Record<string, unknown>;
  const stream = store['RECONCILE_STREAM'];
  const subject = store['reconcileSubject'];
  if (typeof stream !== 'string' || typeof subject !== 'function') return undefined;
  return { stream, subject: (lattice) => (subject as (l: { lattice: string }) => string)({ lattice }) };
}

/** The claim consumer of the lattice (the one with a filter on its signal subject), if there is one. */
async function claimConsumer(nats: TestNats, claims: { stream: string; subject: (l: string) => string }): Promise<(() => Promise<{ pending: number; lastActive: number }>) | undefined> {
  const jsm = await jetstreamManager(await nats.connect());
  const subject = claims.subject(LATTICE);
  const name = await waitFor(async () => {
    for await (const c of jsm.consumers.list(claims.stream)) if (c.config.filter_subject === subject) return c.name;
    return undefined;
  }, 10_000, 'the lattice claim consumer').catch(() => undefined);
  if (name === undefined) return undefined;
  return async () => {
    const c = await jsm.consumers.info(claims.stream, name);
    // The server sends an RFC 3339 time (the client's type says nanoseconds).
    const la = c.delivered.last_active as unknown;
    return { pending: c.num_ack_pending, lastActive: typeof la === 'string' ? Date.parse(la) : Number(la ?? 0) / 1e6 };
  };
}

interface Takeover {
  term: number;
  between: number;
  holding: number;
  stall: number;
  /** How the replica was caught holding the lattice. */
  how: string;
  /** Deploy calls a frozen replica swallowed (sent again). */
  swallowed: number;
  /** Whether the runtime has leases (the owner is then the lease holder). */
  leases: boolean;
}

async function takeoverRun(): Promise<Takeover> {
  return onFreshServer(log, async ({ nats, nc, serves, lattice }) => {
    const flags = ['--cleanup-interval', String(CLEANUP_S), '--resync-interval-ms', '5000', '--takeover-ms', String(TAKEOVER_MS)];
    let next = 0;
    const addReplica = async (): Promise<Serve> => {
      const s = await startServe(nats.url, `bench-${next++}`, flags);
      serves.push(s);
      return s;
    };
    for (let i = 0; i < 3; i++) await addReplica();
    const sim = await lattice(LATTICE, 5, 1000);
    await hostsKnown(serves, [{ lattice: LATTICE, hosts: 5 }]);
    const api = new RawApi(nc, LATTICE);
    const statuses = new Statuses(nc);
    for (const a of ['a1', 'a2', 'a3', 'a4', 'a5']) ok(await api.put(manifest(a, 2, `reg.example/bench/${a}:1.0.0`), 'application/json'), 'created', `put ${a}`);
    let swallowed = 0;
    const live = (): Serve[] => serves.filter((s) => s.proc.exitCode === null && s.proc.signalCode === null);
    const passes = async (s: Serve): Promise<number> => (await histogram([s], 'wadm_reconcile_duration_seconds')).count;
    const deployed = (app: string): Promise<unknown> => waitFor(() => statuses.of(LATTICE, app) === 'deployed' && total(running(sim, app)) === 2, 60_000, `${app} deployed`);
    // A runtime with leases says which replica holds the lattice (`wadm_lattices_owned` stays 1 on the
    // owner between passes); otherwise the owner is the replica that ran the most passes for a deploy.
    const leases = (await metric(serves[0]!, 'wadm_lease_valid')) !== undefined;
    const holder = (exclude?: Serve): Promise<Serve> =>
      waitFor(async () => {
        const xs = await Promise.all(live().filter((s) => s !== exclude).map(async (s) => ({ s, n: (await metric(s, 'wadm_lattices_owned')) ?? 0 })));
        const holders = xs.filter((x) => x.n > 0);
        return holders.length === 1 ? holders[0]!.s : undefined;
      }, 30_000, 'the lease holder');
    /** Deploys `app` (timed from `t0`) and returns the time and the replica that owns the lattice afterwards. */
    const deployTimed = async (app: string, t0: number, exclude?: Serve): Promise<{ t: number; owner: Serve }> => {
      const candidates = live().filter((s) => s !== exclude);
      const before = await Promise.all(candidates.map(passes));
      // A frozen replica still in the API queue group swallows the requests it is handed: a deploy call
      // unanswered after 1 s is sent again (the retries count in the time).
      for (let attempt = 1; ; attempt++) {
        const r = await nc.request(api.subject('deploy', app), '', { timeout: 1000 }).then(
          (m) => JSON.parse(m.string()) as Record<string, unknown>,
          () => undefined,
        );
        if (r) {
          ok(r, 'acknowledged', `deploy ${app}`);
          break;
        }
        swallowed++;
        if (attempt === 10) throw new Error(`deploy ${app}: no answer in 10 attempts`);
      }
      await deployed(app);
      const t = secondsSince(t0);
      if (leases) return { t, owner: await holder(exclude) };
      const after = await Promise.all(candidates.map(passes));
      return { t, owner: candidates.map((s, i) => ({ s, d: after[i]! - before[i]! })).sort((x, y) => y.d - x.d)[0]!.s };
    };
    /**
     * Signals `victim`, deploys `app` and times until it runs; a frozen victim stays frozen meanwhile and
     * is SIGKILLed after. A new replica keeps 3 running; 1 s passes before the next step.
     */
    const step = async (victim: Serve, signal: NodeJS.Signals, app: string): Promise<{ t: number; owner: Serve }> => {
      const t0 = now();
      victim.proc.kill(signal);
      if (signal !== 'SIGSTOP') await victim.exited;
      const r = await deployTimed(app, t0, victim);
      if (signal === 'SIGSTOP') {
        victim.proc.kill('SIGKILL');
        await victim.exited;
      }
      await addReplica();
      await sleep(1000);
      return r;
    };

    let { owner } = await deployTimed('a1', now());
    await sleep(1000);

    // (1) The owner stops cleanly (SIGTERM).
    const victim1 = owner;
    const s1 = await step(victim1, 'SIGTERM', 'a2');
    owner = s1.owner;
    log(`${victim1.id} (owner) SIGTERMed: next app deployed ${s1.t.toFixed(2)} s after`);

    // (2) The owner is SIGKILLed 1 s after its last deploy finished.
    const victim2 = owner;
    const s2 = await step(victim2, 'SIGKILL', 'a3');
    owner = s2.owner;
    log(`${victim2.id} (owner) SIGKILLed after its deploy: next app deployed ${s2.t.toFixed(2)} s after the kill`);

    // (3) A replica is SIGKILLed while it holds the lattice.
    let victim3: Serve;
    let how: string;
    const claims = leases ? undefined : await signalClaims();
    const claim = claims ? await claimConsumer(nats, claims) : undefined;
    if (claims && claim) {
      // Signal claims: freeze a replica (SIGSTOP: its connection stays up, so the queue group still
      // hands it signals) and publish reconcile signals until one stays unacknowledged; then SIGKILL it.
      victim3 = live().find((s) => s !== owner)!;
      const js = jetstream(nc);
      victim3.proc.kill('SIGSTOP');
      let held: { pending: number; lastActive: number } | undefined;
      for (let attempt = 0; attempt < 40 && !held; attempt++) {
        await js.publish(claims.subject(LATTICE), JSON.stringify({ lattice: LATTICE, reasons: ['bench'], at: new Date().toISOString() }));
        const c1 = await waitFor(async () => {
          const c = await claim();
          return c.pending === 1 ? c : undefined;
        }, 2000, 'a delivered signal').catch(() => undefined);
        if (!c1) continue;
        // The live replicas acknowledge a signal within milliseconds; one still held half a second later
        // (same delivery) is the frozen replica's.
        await sleep(500);
        const c2 = await claim();
        if (c2.pending === 1 && c2.lastActive === c1.lastActive) held = c2;
      }
      if (!held) throw new Error('the frozen replica never received a reconcile signal');
      how = `a replica frozen with SIGSTOP until a reconcile signal stayed unacknowledged (its claim), SIGKILLed ${((Date.now() - held.lastActive) / 1000).toFixed(1)} s after it took the signal`;
    } else {
      // A standing owner: the lease holder, frozen for 0.5 s, then SIGKILLed.
      victim3 = owner;
      victim3.proc.kill('SIGSTOP');
      await sleep(500);
      how = 'the lease holder, frozen with SIGSTOP for 0.5 s, then SIGKILLed';
    }
    const s3 = await step(victim3, 'SIGKILL', 'a4');
    owner = s3.owner;
    log(`${victim3.id} SIGKILLed holding the lattice (${how}): next app deployed ${s3.t.toFixed(2)} s after the kill`);

    // (4) The owner stalls (SIGSTOP, not killed) and stays frozen while the next app is deployed.
    const victim4 = owner;
    const s4 = await step(victim4, 'SIGSTOP', 'a5');
    log(`${victim4.id} (owner) frozen: next app deployed ${s4.t.toFixed(2)} s after the freeze`);
    statuses.stop();
    return { term: s1.t, between: s2.t, holding: s3.t, stall: s4.t, how, leases, swallowed };
  });
}

const resched = await rescheduleRun();
const takeover = await takeoverRun();
const owner = takeover.leases ? 'The lease holder (`wadm_lattices_owned` 1)' : 'The replica that ran the most reconcile passes for the last deploy';

emit({
  bench: 'recovery',
  id: 'recovery',
  params: {},
  title: 'Rescheduling and takeover',
  note:
    `Rescheduling: 1 replica (\`--cleanup-interval ${CLEANUP_S}\`), 10 hosts (heartbeat 1 s), one app of 10 instances; the host running the most is stopped cleanly (\`host_stopped\`), then the next busiest is killed silently (no event); timed until the hosts run 10 again. ` +
    `Takeover: 3 replicas (\`--takeover-ms ${TAKEOVER_MS}\`; a new one is started after each victim, so 3 keep running), 5 hosts, apps of 2 instances; each row acts on one replica, deploys the next app right after and times until it is \`deployed\` and running. ` +
      `A frozen replica stays in the API queue group and swallows the calls it is handed: a deploy call unanswered after 1 s is sent again, and that counts in the time (${takeover.swallowed} call${takeover.swallowed === 1 ? ' was' : 's were'} sent again in this run).`,
  rows: [
    { key: 'recovery.clean', what: 'clean host stop → instances rescheduled', value: resched.clean, unit: 's', means: 'From `stopHost` until the hosts run 10 instances again.' },
    { key: 'recovery.silent', what: `silent host death → rescheduled (cleanup interval ${CLEANUP_S} s)`, value: resched.silent, unit: 's', means: `Includes waiting out the ${CLEANUP_S} s without events after which a host is gone.` },
    { key: 'takeover.term', what: 'owner stopped cleanly (SIGTERM) → next app deployed', value: takeover.term, unit: 's', means: `${owner} is stopped 1 s after its deploy finished; timed from the signal.` },
    { key: 'takeover.between', what: 'owner SIGKILLed after its deploy → next app deployed', value: takeover.between, unit: 's', means: `${owner} is killed 1 s after its deploy finished. Costs nothing when no replica keeps the lattice between passes; up to the takeover time when the killed one still owns it.` },
    { key: 'takeover.holding', what: 'replica SIGKILLed while it holds the lattice → next app deployed', value: takeover.holding, unit: 's', means: `The victim was ${takeover.how}. The lattice waits until another replica may take it (\`--takeover-ms ${TAKEOVER_MS}\`).` },
    { key: 'takeover.stall', what: 'owner frozen (SIGSTOP, not killed) → next app deployed', value: takeover.stall, unit: 's', means: `${owner} is frozen and stays frozen (a GC pause, a VM freeze) while the next app is deployed; timed from the freeze.` },
  ],
});
