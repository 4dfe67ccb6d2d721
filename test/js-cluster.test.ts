/**
 * wadm-ts on a 3-node JetStream cluster (real nats-server processes on loopback): 3 replicas started
 * together with the cluster, `--stream-replicas 3`, all come up although JetStream is still electing its
 * meta leader; every stream and bucket is R3; the node one replica is connected to is SIGKILLed in the
 * middle of deploying 60 apps, and all 60 still reach `deployed` with exactly the declared instances,
 * every manifest stored.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { LocalNatsCluster, LocalNatsClusterNode } from '@wadm-ts/dev';
import { SimulatedLattice } from '@wadm-ts/simulator';
import { createLogger } from '@wadm-ts/obs';
import { silent } from './harness/replicas.js';
import { startNatsCluster, waitFor } from './harness/nats.js';
import { RawApi } from './harness/api.js';
import { eventually } from './harness/cluster.js';
import { dumpLogs, httpStatus, killAll, spawnWadm, type WadmProcess } from './harness/processes.js';

const LATTICE = 'jscluster';
const APPS = 60;

let cluster: LocalNatsCluster;
let sim: SimulatedLattice | undefined;
const conns: NatsConnection[] = [];
const procs: WadmProcess[] = [];
const natsLog: string[] = [];

before(async () => {
  // A fresh cluster of which only n1 runs at first: no JetStream quorum, so every JetStream request
  // of a starting replica fails (times out) until n2 and n3 are started.
  cluster = await startNatsCluster({ nodes: 3, startNodes: 1, ...(process.env['WADM_TEST_DUMP'] ? { log: natsLog } : {}) });
});

after(async () => {
  killAll(procs);
  dumpLogs(procs, 'js-cluster', natsLog);
  await sim?.close({ graceful: false }).catch(() => undefined);
  await Promise.all(conns.map((c) => (c.isClosed() ? undefined : c.close())));
  await cluster?.stop();
});

const manifest = (i: number): string =>
  JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: `app${i}`, annotations: { version: 'v1' } },
    spec: { components: [{ name: 'c', type: 'component', properties: { image: `reg/app${i}:1` }, traits: [{ type: 'spreadscaler', properties: { instances: 2 } }] }] },
  });

/**
 * An API request that survives a failover the way a client should: a request whose reply was lost
 * (timeout, no responders while a node is down) is sent again, and so is one the API answered with its
 * "likely a transient error, so please retry" error or "Internal storage error" (a JetStream write that
 * failed during the failover; the replica logs the cause).
 */
const retriedReplies: string[] = [];
async function request(what: string, f: () => Promise<Record<string, any>>): Promise<Record<string, any>> {
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    try {
      const r = await f();
      if (r['result'] === 'error' && /transient error|internal storage error/i.test(String(r['message']))) {
        last = r['message'];
        retriedReplies.push(`${what}: ${String(r['message'])}`);
        await new Promise((res) => setTimeout(res, 200 * (i + 1)));
        continue;
      }
      return r;
    } catch (err) {
      last = err;
      await new Promise((res) => setTimeout(res, 200 * (i + 1)));
    }
  }
  throw new Error(`${what}: ${String(last)}`);
}

/** nats-server 2.9.21+ (and 2.10+) serialise compare-and-set on replicated streams (nats-io/nats-server#4320). */
function casSafe(nc: NatsConnection): boolean {
  const [maj = 0, min = 0, patch = 0] = String(nc.info?.version ?? '0.0.0').split(/[.-]/).map(Number);
  return maj > 2 || (maj === 2 && (min > 9 || (min === 9 && patch >= 21)));
}

/** When `f` fails, print what the index, the app records and the consumers look like (then rethrow). */
async function diagnoseOnFailure(nc: NatsConnection, api: RawApi, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (err) {
    try {
      const { Kvm } = await import('@nats-io/kv');
      const kv = await new Kvm(nc).open('wadm_manifests');
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      const index = (await kv.get(LATTICE))?.string() ?? '(none)';
      const listed = ((await api.list())['models'] as Array<{ name: string }>).map((m) => m.name);
      const jsm = await jetstreamManager(nc);
      const consumers: string[] = [];
      for (const s of ['wadm_reconcile', 'wadm_commands', 'wasmbus_events']) {
        for await (const c of jsm.consumers.list(s)) consumers.push(`${s}/${c.name}: pending=${c.num_pending} ack_pending=${c.num_ack_pending} redelivered=${c.num_redelivered} waiting=${c.num_waiting} leader=${c.cluster?.leader}`);
      }
      process.stderr.write(`# diagnosis: ${keys.length} keys in wadm_manifests; index ${LATTICE} = ${index}; model.get lists ${listed.length}\n# consumers: ${consumers.join(' | ')}\n`);
    } catch (e) {
      process.stderr.write(`# diagnosis failed: ${String(e)}\n`);
    }
    throw err;
  }
}

test('3 replicas started with a fresh 3-node cluster wait (not ready) for JetStream, come up with R3 resources; a node killed mid-deploy of 60 apps loses nothing', async () => {
  const t0 = Date.now();
  // Started together, every replica given all three URLs, while the cluster has no JetStream quorum.
  for (const id of ['jsc-a', 'jsc-b', 'jsc-c']) {
    procs.push(spawnWadm(id, ['-s', cluster.urls.join(','), '--stream-replicas', '3', '--http-admin', '127.0.0.1:0', '--resync-interval-ms', '2000', '--takeover-ms', '2000', '--cleanup-interval', '30']));
  }
  // /readyz is watched from the moment it listens: 503 until the replica is up, then 200.
  const readySeen = new Map<string, number[]>();
  await waitFor(() => procs.every((w) => w.logged('admin endpoint listening').length > 0 || w.exited()), 20_000, 'admin endpoints');
  const pollers = procs.map(async (w) => {
    const url = `${String(w.logged('admin endpoint listening')[0]?.['url'])}/readyz`;
    const seen: number[] = [];
    readySeen.set(w.id, seen);
    for (;;) {
      const s = await httpStatus(url);
      if (seen.at(-1) !== s) seen.push(s);
      if (s === 200 || w.exited()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  const retried = (w: WadmProcess): number => w.lines.filter((l) => String(l['msg']).endsWith('failed transiently; retrying')).length;
  await waitFor(() => procs.every((w) => retried(w) > 0 || w.exited()), 30_000, 'every replica retrying a transient JetStream failure');
  for (const w of procs) assert.ok(!w.exited(), `replica ${w.id} exited at start: ${w.stderr.join('').slice(-500)}`);
  assert.ok(procs.every((w) => w.logged('replica ready').length === 0), 'no replica is ready without JetStream');
  const quorumAt = Date.now();
  await Promise.all([cluster.node(1).restart(), cluster.node(2).restart()]);
  await waitFor(() => procs.every((w) => w.logged('replica ready').length > 0 || w.exited()), 60_000, 'all replicas ready');
  await Promise.all(pollers);
  const readyAt = Date.now();
  for (const w of procs) assert.ok(!w.exited(), `replica ${w.id} exited at start: ${w.stderr.join('').slice(-500)} ${JSON.stringify(w.lines.filter((l) => Number(l['level']) >= 40).slice(-5))}`);
  for (const [id, seen] of readySeen) {
    assert.equal(seen.at(-1), 200, `${id} /readyz ends 200 (${seen.join(' → ')})`);
    assert.ok(!seen.slice(0, -1).includes(200), `${id} /readyz was not 200 before it was up`);
  }
  const retries = procs.reduce((n, w) => n + retried(w), 0);
  const retryWhat = [...new Set(procs.flatMap((w) => w.lines.filter((l) => String(l['msg']).endsWith('failed transiently; retrying')).map((l) => `${String(l['what'])}: ${String(l['reason'])}`)))];

  // Every stream and bucket wadm-ts made is R3.
  const admin = await connect({ servers: cluster.urls });
  conns.push(admin);
  const jsm = await jetstreamManager(admin);
  const names: string[] = [];
  for await (const si of jsm.streams.list()) names.push(si.config.name);
  for (const s of ['wadm_status', 'wadm_events', 'KV_wadm_manifests', 'KV_wadm_state', 'wadm_reconcile', 'wasmbus_events', 'wadm_dead_letters']) {
    assert.ok(names.includes(s), `stream ${s} exists (${names.join(', ')})`);
    assert.equal((await jsm.streams.info(s)).config.num_replicas, 3, `${s} has 3 replicas`);
  }
  for (const s of names) assert.equal((await jsm.streams.info(s)).config.num_replicas, 3, `${s} has 3 replicas`);

  // The victim: the node the first replica is connected to. Hosts and the test client use other nodes.
  const serverOf = (w: WadmProcess): string => String(w.logged('connected to NATS')[0]?.['server']);
  const victim: LocalNatsClusterNode = cluster.nodeByUrl(serverOf(procs[0]!)) ?? assert.fail(`no node for ${serverOf(procs[0]!)}`);
  const others = cluster.nodes.filter((n) => n !== victim);
  const onVictim = procs.filter((w) => cluster.nodeByUrl(serverOf(w)) === victim).map((w) => w.id);
  const nc = await connect({ servers: others.map((n) => n.url) });
  conns.push(nc);
  sim = new SimulatedLattice({
    servers: others[1]!.url,
    lattice: LATTICE,
    heartbeatIntervalMs: 1000,
    healthCheckDelayMs: 100,
    healthCheckIntervalMs: 2000,
    fetchDelayMs: 300,
    logger: createLogger({ replica: 'simulator', level: 'silent', destination: silent }),
  });
  await sim.ready();
  for (let i = 0; i < 4; i++) await sim.addHost({ labels: { zone: i % 2 ? 'east' : 'west' } });
  const api = new RawApi(nc, LATTICE);

  // Deploy 60 apps; the victim node dies once a third of them is under way. Concurrent puts are
  // compare-and-set writes of one lattice index key from three replicas: only a server where CAS on a
  // replicated stream is serialisable (2.9.21+) can take them in parallel (see the test below).
  const parallel = casSafe(nc) ? 10 : 1;
  let killedAt = 0;
  let deployedBeforeKill = 0;
  const deployStart = Date.now();
  for (let b = 0; b < APPS; b += 10) {
    for (let p = 0; p < 10; p += parallel) await Promise.all(
      Array.from({ length: parallel }, async (_, k) => {
        const i = b + p + k;
        const put = await request(`put app${i}`, () => api.put(manifest(i), 'application/json'));
        assert.ok(put['result'] === 'created' || /already exists/.test(String(put['message'])), `put app${i}: ${JSON.stringify(put)}`);
        const dep = await request(`deploy app${i}`, () => api.deploy(`app${i}`));
        assert.equal(dep['result'], 'acknowledged', `deploy app${i}: ${JSON.stringify(dep)}`);
      }),
    );
    if (b === 20) {
      deployedBeforeKill = (await Promise.all(Array.from({ length: 30 }, async (_, i) => (await request('status', () => api.status(`app${i}`)))['status']?.status?.type))).filter((t) => t === 'deployed').length;
      await victim.kill('SIGKILL');
      killedAt = Date.now();
    }
  }
  assert.ok(killedAt > 0);

  // All 60 converge, exactly 2 instances each, on the surviving two nodes.
  await diagnoseOnFailure(admin, api, () => eventually(
    'all 60 apps deployed with exactly 2 instances each',
    async () => {
      const types = await Promise.all(Array.from({ length: APPS }, async (_, i) => (await request('status', () => api.status(`app${i}`)))['status']?.status?.type as string));
      const notYet = types.map((t, i) => [i, t] as const).filter(([, t]) => t !== 'deployed');
      assert.deepEqual(notYet, [], 'apps not deployed yet');
      const counts = new Map<string, number>();
      for (const h of sim!.snapshot().hosts) for (const c of h.components) counts.set(c.annotations['wasmcloud.dev/appspec'] ?? '?', (counts.get(c.annotations['wasmcloud.dev/appspec'] ?? '?') ?? 0) + c.count);
      const wrong = Array.from({ length: APPS }, (_, i) => [`app${i}`, counts.get(`app${i}`) ?? 0] as const).filter(([, n]) => n !== 2);
      assert.deepEqual(wrong, [], 'instance counts');
      assert.equal([...counts.keys()].filter((k) => !/^app\d+$/.test(k)).length, 0, 'no foreign instances');
    },
    75_000,
  ));
  const convergedAt = Date.now();
  const list = await request('list', () => api.list());
  assert.deepEqual((list['models'] as Array<{ name: string }>).map((m) => m.name).sort(), Array.from({ length: APPS }, (_, i) => `app${i}`).sort(), 'model.get lists all 60');
  for (const w of procs) assert.ok(!w.exited(), `replica ${w.id} is still running (${w.stderr.join('').slice(-300)})`);
  const storageErrors = procs.flatMap((w) => w.logged('storage error while handling API request').map((l) => `${w.id}: ${JSON.stringify((l['err'] as { message?: string } | undefined)?.message)}`));

  // The killed node comes back with its store and catches up.
  await victim.restart();
  await cluster.waitHealthy(30_000);
  process.stderr.write(
    `# js-cluster (nats-server ${nc.info?.version}, API writes ${parallel} at a time): n2 and n3 started ${quorumAt - t0} ms after the replicas, which were ready ${readyAt - quorumAt} ms later (${retries} transient retries logged: ${retryWhat.join('; ')}; readyz ${[...readySeen].map(([id, s]) => `${id}:${s.join('→')}`).join(' ')}); ` +
      `killed ${victim.name} (replicas on it: ${onVictim.join(', ') || 'none'}) ${killedAt - deployStart} ms into the deploy, ${deployedBeforeKill}/30 of the first apps deployed by then; ` +
      `all ${APPS} deployed ${convergedAt - killedAt} ms after the kill; API replies retried by the client: ${retriedReplies.length} (${[...new Set(retriedReplies.map((r) => r.replace(/^\S+ app\d+: /, '')))].join('; ')}); storage errors logged: ${[...new Set(storageErrors)].slice(0, 5).join(' | ')}\n`,
  );
  for (const w of procs) assert.equal(await w.stop(), 0, `${w.id} drains and exits 0`);
});

test('compare-and-set on an R3 bucket from three nodes is serialisable (nats-server 2.9.21+; nats-io/nats-server#4320)', async (t) => {
  const ncs = await Promise.all(cluster.nodes.filter((n) => n.running()).map((n) => connect({ servers: n.url })));
  conns.push(...ncs);
  await cluster.waitHealthy(30_000);
  const { Kvm } = await import('@nats-io/kv');
  const kv0 = await new Kvm(ncs[0]!).create('cas_probe', { history: 1, replicas: 3 });
  const kvs = await Promise.all(ncs.map((nc) => new Kvm(nc).open('cas_probe')));
  await kv0.put('k', '[]');
  let conflicts = 0;
  // 30 writers, spread over the nodes, each adds its number to one set with CAS, retrying on conflict.
  await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const kv = kvs[i % kvs.length]!;
      for (;;) {
        const e = await kv.get('k');
        const set = JSON.parse(e!.string()) as number[];
        try {
          await kv.update('k', JSON.stringify([...set, i]), e!.revision);
          return;
        } catch (err) {
          if (!/wrong last sequence/.test((err as Error).message)) throw err;
          conflicts++;
        }
      }
    }),
  );
  const kept = (JSON.parse((await kv0.get('k'))!.string()) as number[]).length;
  const version = ncs[0]!.info?.version;
  process.stderr.write(`# cas-probe: nats-server ${version}: 30 CAS updates accepted, ${conflicts} conflicts, ${kept}/30 kept (${30 - kept} lost)\n`);
  if (!casSafe(ncs[0]!)) {
    t.skip(`nats-server ${version} predates the fix of nats-io/nats-server#4320: ${30 - kept} of 30 concurrent compare-and-set updates were lost`);
    return;
  }
  assert.equal(kept, 30, 'no compare-and-set update lost');
});
