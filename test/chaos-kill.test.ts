/**
 * Chaos: three replicas, and for 60 s a random one is SIGKILLed every 2 s and started again (under the
 * same id or a new one), while 120 apps over three lattices are deployed, upgraded (a new version with a
 * different image and instance count) and undeployed. Once the killing stops:
 *  - every app converges exactly: a deployed app runs its final version's image at the declared count
 *    (and its provider and link), an undeployed app runs nothing;
 *  - nothing surplus at rest: the simulator's ground truth, sampled continuously over several resync
 *    passes after convergence, never deviates;
 *  - no manifest lost: every version whose put was acknowledged is stored, the deployed one marked;
 *  - no command at rest: consumer `wadm_command_workers` has nothing pending or unacknowledged.
 * The schedule (which replica, which app, which operation) comes from a seeded PRNG (WADM_TEST_SEED).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { eventually } from './harness/cluster.js';
import { rng, pick, simLattice } from './harness/lattice.js';
import { diagnose, fleetMetric, reconcilePasses, withFleet, type ReplicaProc } from './harness/procs.js';
import { PatientApi, manifestIndex, openLeases, readLease, explainApp, recordCtl, recordEvents, appManifest, expectedFootprint, footprint, type AppFootprint, type AppSpec } from './harness/runtime.js';

const LATTICES = ['chaos0', 'chaos1', 'chaos2'];
const HOSTS_PER_LATTICE = 4;
const APPS_PER_LATTICE = 40;
const CHAOS_MS = Number(process.env['WADM_TEST_CHAOS_MS'] ?? 60_000);
const KILL_EVERY_MS = 2000;
const OP_EVERY_MS = 60; // one API operation started every 60 ms: ~1000 operations over the minute
const SEED = Number(process.env['WADM_TEST_SEED'] ?? 20261201);

const fx = withFleet({ args: ['--stream-persistence', 'memory', '--takeover-ms', '2000', '--resync-interval-ms', '1000', '--cleanup-interval', '30', '--ingest-ack-wait-ms', '2000'] });
let simNc: NatsConnection;
let jsm: JetStreamManager;
const sims = new Map<string, SimulatedLattice>();

before(async () => {
  await fx.started;
  simNc = await fx.nats.connect();
  jsm = await jetstreamManager(fx.nc);
});

interface AppModel {
  lattice: string;
  name: string;
  /** Versions whose put was acknowledged, in order. */
  versions: string[];
  specs: Map<string, AppSpec>;
  /** The deployed version (after the last acknowledged deploy/undeploy), or null. */
  deployed: string | null;
  busy: boolean;
  /** `+ms op` of every acknowledged operation, for failure reports. */
  history: string[];
}

/** The chaos schedule (a kill every 2 s, an operation every 60 ms) is paced by the clock; nothing waits for a condition this way. */
const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

test('SIGKILL/restart of a random replica every 2 s for 60 s under deploys, upgrades and undeploys of 120 apps: exact convergence, nothing surplus, nothing lost, no command left', async () => {
  const r = rng(SEED); // the operators' choices
  const rk = rng(SEED + 1); // the killer's choices
  let nextId = 3;
  const current: ReplicaProc[] = [0, 1, 2].map((i) => fx.fleet.spawn(`chaos-${i}`));
  await fx.fleet.ready(current);
  for (const lattice of LATTICES) {
    sims.set(lattice, fx.track(await simLattice(simNc, lattice, HOSTS_PER_LATTICE, 1000, () => ({}), { fetchDelayMs: 50 })));
  }
  const apis = new Map(LATTICES.map((l) => [l, new PatientApi(fx.nc, l, 2000, 120_000)]));
  const apps: AppModel[] = LATTICES.flatMap((lattice, li) =>
    Array.from({ length: APPS_PER_LATTICE }, (_, i) => ({ lattice, name: `c${li}a${String(i).padStart(2, '0')}`, versions: [], specs: new Map(), deployed: null, busy: false, history: [] })),
  );
  const newSpec = (a: AppModel, n: number): AppSpec => ({
    name: a.name,
    version: `v${n}`,
    image: `reg/${a.name}-web:${n}`,
    instances: 1 + Math.floor(r() * 4),
    provider: { image: `reg/${a.name}-cap:1`, instances: 1 },
  });

  const stats = { puts: 0, deploys: 0, undeploys: 0, kills: 0, sameId: 0, newId: 0, opErrors: [] as string[] };
  const tries = (n: number): string => (n > 1 ? `, ${n} attempts` : '');
  /** One operation on an app, retried until acknowledged; the model changes only after the acknowledgement. */
  async function operate(a: AppModel): Promise<void> {
    const api = apis.get(a.lattice)!;
    const x = r();
    if (a.versions.length === 0 || (a.deployed !== null && x < 0.55)) {
      // Upgrade (or first deploy): a new version with another image and instance count, deployed.
      const s = newSpec(a, a.versions.length + 1);
      const p = await api.put(appManifest(s));
      a.versions.push(s.version);
      a.specs.set(s.version, s);
      stats.puts++;
      const d = await api.deploy(a.name, s.version);
      a.deployed = s.version;
      a.history.push(`+${d.at - t0} put+deploy ${s.version} (${s.instances} instances${tries(p.attempts + d.attempts - 1)})`);
      stats.deploys++;
    } else if (a.deployed !== null) {
      const u = await api.undeploy(a.name);
      a.deployed = null;
      a.history.push(`+${u.at - t0} undeploy${tries(u.attempts)}`);
      stats.undeploys++;
    } else {
      // Redeploy a stored version (usually the latest, sometimes an older one).
      const v = x < 0.8 ? a.versions[a.versions.length - 1]! : pick(r, a.versions);
      const d = await api.deploy(a.name, v);
      a.deployed = v;
      a.history.push(`+${d.at - t0} deploy ${v}${tries(d.attempts)}`);
      stats.deploys++;
    }
  }

  const t0 = Date.now();
  // For failure reports only: every control request and lattice event, to tell an app's story.
  const ctl = recordCtl(fx.nc);
  const events = recordEvents(fx.nc);
  // The killer: every 2 s one random replica dies (SIGKILL) and a replacement starts at once.
  const killer = (async () => {
    for (let k = 1; Date.now() - t0 < CHAOS_MS; k++) {
      await sleep(Math.max(0, t0 + k * KILL_EVERY_MS - Date.now()));
      if (Date.now() - t0 >= CHAOS_MS) break;
      const victim = pick(rk, current);
      await fx.fleet.sigkill(victim);
      stats.kills++;
      const sameId = rk() < 0.5;
      const id = sameId ? victim.id : `chaos-${nextId++}`;
      if (sameId) stats.sameId++;
      else stats.newId++;
      current[current.indexOf(victim)] = fx.fleet.spawn(id);
    }
  })();
  // The operators: one operation started every OP_EVERY_MS on a random app that is not mid-operation.
  const inflight = new Set<Promise<void>>();
  for (let i = 0; Date.now() - t0 < CHAOS_MS; i++) {
    await sleep(Math.max(0, t0 + i * OP_EVERY_MS - Date.now()));
    const idle = apps.filter((a) => !a.busy);
    if (idle.length === 0) continue;
    const a = pick(r, idle);
    a.busy = true;
    const p = operate(a)
      .catch((err: unknown) => void stats.opErrors.push(`${a.lattice}/${a.name}: ${(err as Error).message}`))
      .finally(() => {
        a.busy = false;
        inflight.delete(p);
      });
    inflight.add(p);
  }
  await killer;
  await Promise.all([...inflight]);
  assert.deepEqual(stats.opErrors, [], 'every API operation was acknowledged eventually');
  await fx.fleet.ready(current, 60_000);
  const chaosEnd = Date.now();

  const expected = (a: AppModel): AppFootprint => expectedFootprint(a.deployed === null ? undefined : a.specs.get(a.deployed));
  const deviations = (): string[] => {
    const out: string[] = [];
    const snaps = new Map(LATTICES.map((l) => [l, sims.get(l)!.snapshot()]));
    for (const a of apps) {
      const got = footprint(snaps.get(a.lattice)!, a.name);
      const want = expected(a);
      if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${a.lattice}/${a.name}@${a.deployed ?? 'undeployed'}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    return out;
  };
  try {
    await eventually('every app converged exactly', () => assert.deepEqual(deviations().slice(0, 10), []), 120_000);
  } catch (err) {
    const leaseKv = await openLeases(fx.nc);
    const leases = await Promise.all(LATTICES.map(async (l) => `${l}: ${JSON.stringify(await readLease(leaseKv, l))}`));
    (err as Error).message += `\n${deviations().length} apps off; leases ${leases.join(' ')}; replicas:\n${await diagnose(fx.fleet.all.filter((x) => x.alive()))}`;
    // Sort the apps that are off: missing from their lattice's index in wadm_manifests (so no replica
    // lists them), or fixed by replicas that build their in-memory views afresh from KV, or neither.
    const offIds = deviations().map((d) => d.split('@')[0]!);
    const indexes = new Map(await Promise.all(LATTICES.map(async (l) => [l, await manifestIndex(fx.nc, l)] as const)));
    const unlisted = offIds.filter((id) => !indexes.get(id.split('/')[0]!)!.has(id.split('/')[1]!));
    const believed: string[] = [];
    for (const l of LATTICES) {
      const truth = apps.filter((a) => a.lattice === l && a.deployed !== null).length;
      const views = await Promise.all(current.map(async (r) => `${r.id}:${await fleetMetric([r], 'wadm_apps_by_status', { lattice: l })}`));
      believed.push(`${l}: ${truth} deployed, ${indexes.get(l)!.size}/${APPS_PER_LATTICE} in the index, wadm_apps_by_status ${views.join(' ')}`);
    }
    // What the owners say about the apps that are off (their status reflects their views).
    const said = await Promise.all(offIds.filter((id) => !unlisted.includes(id)).slice(0, 8).map(async (id) => {
      const [lat, name] = id.split('/') as [string, string];
      const st = (await apis.get(lat)!.call('status', name)).reply['status'] as { status?: { type?: string; message?: string } } | undefined;
      return `${id}: ${st?.status?.type}${st?.status?.message ? ` (${st.status.message})` : ''}`;
    }));
    (err as Error).message += `\nowners' status of the listed apps that are off: ${said.join('; ')}`;
    // Their stories as KV holds them now, while the owners are stuck (explained again below if still off after the restart).
    const story = async (id: string): Promise<string> => {
      const [lat, name] = id.split('/') as [string, string];
      const hist = apps.find((a) => a.lattice === lat && a.name === name)?.history.join(', ');
      return explainApp(fx.nc, lat, name, { t0, ctl: ctl.records, events: events.records, api: apis.get(lat)!, extra: `operations: ${hist}` });
    };
    const before = await Promise.all(offIds.filter((id) => !unlisted.includes(id)).slice(0, 2).map(story));
    const stale = [...current];
    await fx.fleet.shutdown(25_000).catch(() => undefined);
    const fresh = [0, 1, 2].map((i) => fx.fleet.spawn(`chaos-fresh-${i}`));
    current.splice(0, current.length, ...fresh);
    await fx.fleet.ready(fresh, 60_000).catch(() => undefined);
    const stillOff = (): string[] => deviations().map((d) => d.split('@')[0]!).filter((id) => offIds.includes(id));
    await eventually('fresh replicas converge', () => assert.deepEqual(stillOff().filter((id) => !unlisted.includes(id)), []), 45_000).catch(() => undefined);
    const after = stillOff();
    (err as Error).message +=
      `\n${offIds.length} apps off: ${unlisted.length} missing from their lattice index in wadm_manifests (${unlisted.slice(0, 6).join(' ')}); ` +
      `after replacing every replica (${stale.map((r) => r.id).join(', ')}) by fresh ones, ${offIds.length - after.length} converged (${offIds.filter((id) => !after.includes(id)).slice(0, 6).join(' ')}), ` +
      `${after.filter((id) => !unlisted.includes(id)).length} listed apps still off (${after.filter((id) => !unlisted.includes(id)).slice(0, 6).join(' ')})\nper lattice: ${believed.join('; ')}`;
    (err as Error).message += `\n--- while the owners were stuck:\n${before.join('\n')}`;
    const later = [...new Set([...after.filter((id) => !unlisted.includes(id)), ...unlisted])].slice(0, 2);
    if (later.length) (err as Error).message += `\n--- still off after fresh replicas:\n${(await Promise.all(later.map(story))).join('\n')}`;
    throw err;
  }
  const convergedAfter = Date.now() - chaosEnd;
  ctl.stop();
  events.stop();

  // At rest: sample the ground truth continuously over several resync passes; it must never deviate.
  let samples = 0;
  const seen: string[] = [];
  const sampler = setInterval(() => {
    samples++;
    const d = deviations();
    if (d.length > 0 && seen.length < 10) seen.push(`sample ${samples}: ${d.slice(0, 3).join('; ')}`);
  }, 10);
  try {
    await reconcilePasses(current, 3 * LATTICES.length * 2, 60_000);
  } finally {
    clearInterval(sampler);
  }
  assert.ok(samples > 50, `sampled continuously (${samples} samples)`);
  assert.deepEqual(seen, [], 'no surplus or missing instance at rest');

  // No manifest lost: every acknowledged version stored, the deployed one marked.
  for (const a of apps) {
    const v = await apis.get(a.lattice)!.versions(a.name);
    const stored = ((v['versions'] ?? []) as Array<{ version: string; deployed: boolean }>);
    assert.deepEqual(stored.map((x) => x.version).sort(), [...a.versions].sort(), `${a.lattice}/${a.name}: every version put is stored`);
    assert.deepEqual(stored.filter((x) => x.deployed).map((x) => x.version), a.deployed === null ? [] : [a.deployed], `${a.lattice}/${a.name}: the deployed version`);
  }

  // No command at rest.
  await eventually(
    'no command pending or unacknowledged',
    async () => {
      const ci = await jsm.consumers.info('wadm_commands', 'wadm_command_workers');
      assert.equal(ci.num_pending, 0, 'num_pending');
      assert.equal(ci.num_ack_pending, 0, 'num_ack_pending');
    },
    15_000,
  );
  const deployed = apps.filter((a) => a.deployed !== null).length;
  process.stderr.write(
    `# chaos (seed ${SEED}): ${stats.kills} kills (${stats.sameId} restarted under the same id, ${stats.newId} under a new one), ${stats.puts} puts, ${stats.deploys} deploys, ${stats.undeploys} undeploys; ` +
      `${deployed}/${apps.length} apps deployed at the end; converged ${convergedAfter} ms after the chaos; ${samples} samples at rest\n`,
  );
  const codes = await fx.fleet.shutdown();
  for (const [id, code] of Object.entries(codes)) assert.equal(code, 0, `${id} drains and exits 0`);
});
