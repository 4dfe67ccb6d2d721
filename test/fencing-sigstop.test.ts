/**
 * Epoch fencing against a stalled owner (a GC pause, a frozen VM, SIGSTOP): the owner of a lattice is
 * frozen in the middle of reconciling a deploy burst, another replica takes the lease over (higher
 * epoch) and finishes the deploy, 20 of the apps are undeployed and torn down, and only then does the
 * stalled replica resume — still holding a plan computed before the undeploy, commands it had not
 * published yet, and commands its worker had pulled but not executed. None of that may reach the
 * hosts: after an app's undeploy is acknowledged, no control request that starts or scales up a piece
 * of it (component.scale with count > 0, provider.start, link.put) may arrive on the lattice, and the
 * lattice converges exactly (the 20 remaining apps at their declared counts, the undeployed ones at 0).
 *
 * Why the undeploy waits for the new owner to converge: a pass of the *new* owner that read the
 * manifests just before the undeploy was written may legitimately still scale the app up afterwards
 * (nothing fences a current owner against its own slightly old read). Undeploying only once everything
 * is converged leaves the stalled replica as the only possible source of such a request.
 *
 * WADM_TEST_FENCING_OFF=1 starts the replicas with WADM_UNSAFE_DISABLE_FENCING=1 and expects the
 * violation instead: the point of this test is that it fails when fencing is disabled. (If a run with
 * fencing off sees no violation, the stall missed the owner's work and the run says so.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { SimulatedLattice } from '@wadm-ts/simulator';
import { createLogger } from '@wadm-ts/obs';
import { silent } from './harness/replicas.js';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { eventually } from './harness/cluster.js';
import { ReplicaFleet, logged, reconcilePasses } from './harness/procs.js';
import {
  PatientApi,
  appManifest,
  appOf,
  appOfGeneratedId,
  expectedFootprint,
  footprint,
  isStartOrScaleUp,
  openLeases,
  readLease,
  recordCtl,
  waitLease,
  type AppSpec,
  type CtlRecord,
} from './harness/runtime.js';

const LATTICE = 'fence';
const HOSTS = 10;
const APPS = 40;
const UNDEPLOY = 20;
const TAKEOVER_MS = 2000;
const FENCING_OFF = process.env['WADM_TEST_FENCING_OFF'] === '1';

let nats: TestNats;
let nc: NatsConnection;
let jsm: JetStreamManager;
let leases: KV;
let sim: SimulatedLattice | undefined;
let fleet: ReplicaFleet;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  jsm = await jetstreamManager(nc);
  fleet = new ReplicaFleet({
    natsUrl: nats.url,
    args: ['--stream-persistence', 'memory', '--takeover-ms', String(TAKEOVER_MS), '--resync-interval-ms', '1000', '--cleanup-interval', '30', '--ingest-ack-wait-ms', '2000', '--signal-interval-ms', '300'],
    env: FENCING_OFF ? { WADM_UNSAFE_DISABLE_FENCING: '1' } : {},
  });
});

after(async () => {
  await sim?.close({ graceful: false });
  fleet?.killAll();
  await nats?.stop();
});

const names = Array.from({ length: APPS }, (_, i) => `fa${String(i).padStart(2, '0')}`);
const spec = (name: string): AppSpec => ({ name, version: 'v1', image: `reg/${name}-web:1`, instances: HOSTS, provider: { image: `reg/${name}-cap:1`, instances: 1 } });

/** The app a command envelope on `wadm.cmd.*.{lattice}` is for (the runtime's envelope, read loosely). */
function appOfCommand(data: string): string | undefined {
  try {
    const env = JSON.parse(data) as Record<string, any>;
    const c = env['command'] ?? env;
    return typeof c['model_name'] === 'string' ? c['model_name'] : undefined;
  } catch {
    return undefined;
  }
}

test('a SIGSTOPped owner that resumes after losing its lease changes nothing: no start or scale-up of an undeployed app, exact convergence', async () => {
  const reps = ['fence-a', 'fence-b', 'fence-c'].map((id) => fleet.spawn(id));
  await fleet.ready(reps);
  leases = await openLeases(nc);

  // Hosts take 1.5 s to fetch an image, so the deploy keeps the owner and the workers busy.
  sim = new SimulatedLattice({
    servers: nats.url,
    lattice: LATTICE,
    heartbeatIntervalMs: 1000,
    fetchDelayMs: 1500,
    healthCheckDelayMs: 100,
    healthCheckIntervalMs: 1000,
    logger: createLogger({ replica: 'simulator', level: 'silent', destination: silent }),
  });
  await sim.ready();
  for (let i = 0; i < HOSTS; i++) await sim.addHost({ labels: { zone: i % 2 ? 'east' : 'west' } });

  const api = new PatientApi(nc, LATTICE, 2000);
  const ctl = recordCtl(nc, LATTICE);
  // Commands as the owner writes them (a core subscription sees the JetStream publishes), per app.
  const commanded = new Map<string, number>();
  const cmdSub = nc.subscribe(`wadm.cmd.*.${LATTICE}`, {
    callback: (_e, m) => {
      const app = appOfCommand(m.string());
      if (app) commanded.set(app, (commanded.get(app) ?? 0) + 1);
    },
  });
  const statusOf = new Map<string, string>();
  const statusSub = nc.subscribe(`wadm.status.${LATTICE}.*`, {
    callback: (_e, m) => {
      try {
        statusOf.set(m.subject.split('.')[3]!, String((JSON.parse(m.string()) as { status: { type: string } }).status.type));
      } catch {
        /* not a status */
      }
    },
  });
  try {
    // Every app is stored first; then one burst of deploys, the last one (fa00) sent last.
    await Promise.all(names.map((n) => api.put(appManifest(spec(n)))));
    const last = names[0]!;
    await Promise.all([...names].reverse().map((n) => api.deploy(n)));

    // Freeze the owner the moment it starts on the pass that contains the whole burst (its first command for
    // the last-deployed app): the rest of that pass, and whatever its worker pulled, is still to come.
    const seenFor = (app: string): boolean => (commanded.get(app) ?? 0) > 0 || ctl.records.some((r) => appOf(r, appOfGeneratedId) === app);
    await waitFor(() => seenFor(last), 30_000, `the owner's first command for ${last}`);
    const lease1 = await waitLease(leases, LATTICE, () => true, 5000, `a lease on ${LATTICE}`);
    const owner = reps.find((r) => r.id === lease1.owner);
    assert.ok(owner, `the lease names one of the replicas: ${JSON.stringify(lease1)}`);
    fleet.sigstop(owner);
    const stalledAt = Date.now();
    const stalledLines = owner.lines.length;
    // Undeploy the apps the burst had commanded least when the owner froze (its pending work, most likely).
    const byProgress = [...names].sort((a, b) => (commanded.get(a) ?? 0) - (commanded.get(b) ?? 0) || (a < b ? -1 : 1));
    const gone = new Set(byProgress.slice(0, UNDEPLOY));
    const kept = names.filter((n) => !gone.has(n));
    const progress = Object.fromEntries(names.map((n) => [n, commanded.get(n) ?? 0]));

    const lease2 = await waitLease(leases, LATTICE, (l) => l.owner !== owner.id && l.epoch > lease1.epoch, TAKEOVER_MS * 5, 'another owner with a higher epoch');
    const takeoverMs = Date.now() - stalledAt;
    const live = reps.filter((r) => r !== owner);

    // The new owner finishes the deploy: every app at its declared counts, every status deployed.
    await eventually(
      'all 40 apps deployed by the new owner',
      () => {
        const s = sim!.snapshot();
        for (const n of names) assert.deepEqual(footprint(s, n), expectedFootprint(spec(n)), n);
        for (const n of names) assert.equal(statusOf.get(n), 'deployed', `status of ${n}`);
      },
      60_000,
    );
    await reconcilePasses(live, 2);

    // Undeploy 20, recording when each was acknowledged.
    const ackAt = new Map<string, number>();
    await Promise.all([...gone].map(async (n) => ackAt.set(n, (await api.undeploy(n)).at)));
    await eventually(
      'the 20 undeployed apps torn down',
      () => {
        const s = sim!.snapshot();
        for (const n of gone) assert.deepEqual(footprint(s, n), expectedFootprint(undefined), n);
      },
      60_000,
    );

    // Resume the stalled replica and let it find out.
    const resumedAt = Date.now();
    fleet.sigcont(owner);
    await waitFor(
      () => logged(owner, (l) => (l.msg === 'lattice lost' || l.msg === 'lattice released') && l.lattice === LATTICE, stalledLines).length > 0,
      30_000,
      `'lattice lost' from the resumed ${owner.id}`,
    );
    await reconcilePasses(reps, 4);
    await eventually(
      'the command stream drained',
      async () => {
        const ci = await jsm.consumers.info('wadm_commands', 'wadm_command_workers');
        assert.equal(ci.num_pending, 0, 'num_pending');
        assert.equal(ci.num_ack_pending, 0, 'num_ack_pending');
      },
      30_000,
    );
    await reconcilePasses(reps, 2);

    const violations = ctl.records.filter((r: CtlRecord) => {
      const app = appOf(r, appOfGeneratedId);
      return app !== undefined && gone.has(app) && isStartOrScaleUp(r) && r.at > ackAt.get(app)!;
    });
    const describe = (r: CtlRecord): string => `${r.op} ${appOf(r, appOfGeneratedId)} count=${String(r.body?.['count'] ?? '-')} ${r.at - ackAt.get(appOf(r, appOfGeneratedId)!)!} ms after its undeploy ack (${r.at - resumedAt} ms after SIGCONT)`;
    const fencingLogs = fleet.all.flatMap((r) => r.lines.filter((l) => /fenc|stale|epoch/i.test(String(l.msg))).map((l) => `${r.id}: ${String(l.msg)}`));
    process.stderr.write(
      `# fencing${FENCING_OFF ? ' (DISABLED)' : ''}: ${owner.id} stalled at epoch ${lease1.epoch}, ${lease2.owner} took over at epoch ${lease2.epoch} after ${takeoverMs} ms; ` +
        `commands per app at the stall ${JSON.stringify(progress)}; ${violations.length} violations; fencing log lines: ${fencingLogs.length} ${JSON.stringify([...new Set(fencingLogs)].slice(0, 5))}\n`,
    );
    if (FENCING_OFF) {
      assert.ok(violations.length > 0, 'with fencing disabled the stalled owner is expected to start or scale up an undeployed app after its undeploy (none seen: the stall missed its pending work)');
    } else {
      assert.deepEqual(violations.map(describe), [], 'no start or scale-up of an undeployed app after its undeploy was acknowledged');
    }

    // Exact convergence, and it holds.
    await eventually(
      'the lattice converged exactly',
      () => {
        const s = sim!.snapshot();
        for (const n of kept) assert.deepEqual(footprint(s, n), expectedFootprint(spec(n)), n);
        for (const n of gone) assert.deepEqual(footprint(s, n), expectedFootprint(undefined), n);
      },
      60_000,
    );
    const final = await readLease(leases, LATTICE);
    assert.ok(final && final.owner !== null && final.epoch >= lease2.epoch, `the lease is held at epoch >= ${lease2.epoch}: ${JSON.stringify(final)}`);
  } finally {
    ctl.stop();
    cmdSub.unsubscribe();
    statusSub.unsubscribe();
  }
  const codes = await fleet.shutdown();
  for (const [id, code] of Object.entries(codes)) assert.equal(code, 0, `${id} drains and exits 0`);
});
