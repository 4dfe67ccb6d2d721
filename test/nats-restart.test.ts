/**
 * The one nats-server wadm-ts runs against is restarted (SIGKILL, then started again on the same port and
 * store) while replicas (separate `wadm serve` processes) are deploying:
 * - file storage: every app converges, nothing is lost;
 * - memory storage: the server comes back empty. Manifests, lattice state and every stream are gone —
 *   that is what memory storage means — but the replicas re-create the streams, buckets and consumers
 *   they need, and a deploy made after the restart converges.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startLocalNats, type LocalNats } from '@wadm-ts/dev';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { simLattice } from './harness/lattice.js';
import { waitFor } from './harness/nats.js';
import { RawApi } from './harness/api.js';
import { eventually } from './harness/cluster.js';
import { dumpLogs, killAll, spawnWadm, type WadmProcess } from './harness/processes.js';

const procs: WadmProcess[] = [];
const servers: LocalNats[] = [];
const sims: SimulatedLattice[] = [];
const conns: NatsConnection[] = [];

after(async () => {
  killAll(procs);
  dumpLogs(procs, 'nats-restart');
  for (const s of sims) await s.close({ graceful: false }).catch(() => undefined);
  for (const c of conns) if (!c.isClosed()) await c.close();
  for (const s of servers) await s.stop();
});

const manifest = (name: string, instances = 2): string =>
  JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, annotations: { version: 'v1' } },
    spec: { components: [{ name: 'c', type: 'component', properties: { image: `reg/${name}:1` }, traits: [{ type: 'spreadscaler', properties: { instances } }] }] },
  });

/** An API request sent again while the server is away (timeouts, no responders, the API's transient errors). */
async function request(what: string, f: () => Promise<Record<string, any>>, timeoutMs = 30_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; Date.now() < deadline; i++) {
    try {
      const r = await f();
      if (r['result'] !== 'error' || !/transient error|internal storage error/i.test(String(r['message']))) return r;
      last = r['message'];
    } catch (err) {
      last = err;
    }
    await new Promise((res) => setTimeout(res, Math.min(100 * 2 ** i, 1000)));
  }
  throw new Error(`${what}: ${String(last)}`);
}

async function start(persistence: 'file' | 'memory', ids: string[]): Promise<{ server: LocalNats; nc: NatsConnection; reps: WadmProcess[] }> {
  const server = await startLocalNats();
  servers.push(server);
  const reps = ids.map((id) =>
    spawnWadm(id, ['-s', server.url, '--stream-persistence', persistence, '--resync-interval-ms', '1000', '--takeover-ms', '2000', '--cleanup-interval', '30']),
  );
  procs.push(...reps);
  await waitFor(() => reps.every((w) => w.logged('replica ready').length > 0 || w.exited()), 30_000, 'replicas ready');
  for (const w of reps) assert.ok(!w.exited(), `${w.id} exited: ${w.stderr.join('').slice(-400)}`);
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  conns.push(nc);
  return { server, nc, reps };
}

/** Every app deployed, with exactly `instances` instances each on the hosts. */
async function converged(api: RawApi, sim: SimulatedLattice, names: string[], instances = 2, timeoutMs = 60_000): Promise<void> {
  await eventually(
    `${names.length} apps deployed with exactly ${instances} instances each`,
    async () => {
      const types = await Promise.all(names.map(async (n) => [n, (await request(`status ${n}`, () => api.status(n)))['status']?.status?.type] as const));
      assert.deepEqual(types.filter(([, t]) => t !== 'deployed'), [], 'apps not deployed yet');
      const counts = new Map<string, number>();
      for (const h of sim.snapshot().hosts) for (const c of h.components) counts.set(c.annotations['wasmcloud.dev/appspec'] ?? '?', (counts.get(c.annotations['wasmcloud.dev/appspec'] ?? '?') ?? 0) + c.count);
      assert.deepEqual(names.map((n) => [n, counts.get(n) ?? 0]).filter(([, c]) => c !== instances), [], 'instance counts');
    },
    timeoutMs,
  );
}

describe('nats-server restarts', () => {
  test('file storage: the server restarted mid-deploy of 30 apps; all converge, nothing lost', async () => {
    const t0 = Date.now();
    const { server, nc, reps } = await start('file', ['rs-file-a', 'rs-file-b']);
    const sim = await simLattice(server.url, 'restart-file', 3, 1000);
    sims.push(sim);
    const api = new RawApi(nc, 'restart-file');
    const names = Array.from({ length: 30 }, (_, i) => `app${i}`);
    let restartedAt = 0;
    for (let i = 0; i < names.length; i++) {
      const put = await request(`put ${names[i]}`, () => api.put(manifest(names[i]!), 'application/json'));
      assert.ok(put['result'] === 'created' || /already exists/.test(String(put['message'])), `put ${names[i]}: ${JSON.stringify(put)}`);
      assert.equal((await request(`deploy ${names[i]}`, () => api.deploy(names[i]!)))['result'], 'acknowledged');
      if (i === 14) {
        await server.restart(); // SIGKILL, then the same port and store
        restartedAt = Date.now();
      }
    }
    await converged(api, sim, names);
    const convergedAt = Date.now();
    const listed = ((await request('list', () => api.list()))['models'] as Array<{ name: string }>).map((m) => m.name).sort();
    assert.deepEqual(listed, [...names].sort(), 'every manifest is still stored');
    for (const w of reps) assert.ok(!w.exited(), `${w.id} survived the restart`);
    process.stderr.write(`# nats-restart file: restart ${restartedAt - t0} ms in; all 30 deployed ${convergedAt - restartedAt} ms after it; ${reps.map((w) => `${w.id}: ${w.logged('consumer session ended; restarting').length} consumer restarts`).join(', ')}\n`);
    for (const w of reps) assert.equal(await w.stop(), 0, `${w.id} drains and exits 0`);
  });

  // Shared by the two memory-storage tests: the second deploys into the lattice the first used before the restart.
  let mem: { server: LocalNats; nc: NatsConnection; reps: WadmProcess[]; sim: SimulatedLattice; api: RawApi } | undefined;

  test('memory storage: after a restart the streams, buckets and consumers are re-created and a new deploy converges', async () => {
    const t0 = Date.now();
    const { server, nc, reps } = await start('memory', ['rs-mem-a', 'rs-mem-b']);
    const sim = await simLattice(server.url, 'restart-mem', 3, 1000);
    sims.push(sim);
    const api = new RawApi(nc, 'restart-mem');
    mem = { server, nc, reps, sim, api };
    const before = ['before0', 'before1', 'before2'];
    for (const n of before) {
      assert.equal((await request(`put ${n}`, () => api.put(manifest(n), 'application/json')))['result'], 'created');
      assert.equal((await request(`deploy ${n}`, () => api.deploy(n)))['result'], 'acknowledged');
    }
    await converged(api, sim, before);
    const jsm0 = await jetstreamManager(nc);
    const wanted: string[] = [];
    for await (const si of jsm0.streams.list()) wanted.push(si.config.name);
    const wantedConsumers = new Map<string, string[]>();
    for (const s of wanted) {
      const cs: string[] = [];
      for await (const c of jsm0.consumers.list(s)) cs.push(c.name);
      wantedConsumers.set(s, cs.sort());
    }

    await server.restart(); // memory storage: everything JetStream held is gone
    const restartedAt = Date.now();

    // What the replicas need comes back: every stream and bucket, and the durable consumers.
    await eventually(
      'streams, buckets and consumers re-created',
      async () => {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        const now: string[] = [];
        for await (const si of jsm.streams.list()) now.push(si.config.name);
        for (const s of wanted) assert.ok(now.includes(s), `stream ${s} re-created (have ${now.join(', ')})`);
        for (const s of ['wasmbus_events', 'wadm_commands']) {
          const cs: string[] = [];
          for await (const c of jsm.consumers.list(s)) cs.push(c.name);
          for (const c of wantedConsumers.get(s) ?? []) assert.ok(cs.includes(c), `consumer ${s}/${c} re-created (have ${cs.join(', ')})`);
        }
      },
      30_000,
    );
    const recreatedAt = Date.now();

    // The manifests went with the server (memory storage: expected).
    const listed = ((await request('list', () => api.list()))['models'] as unknown[]).length;
    assert.equal(listed, 0, 'memory storage: the manifests did not survive the restart (expected)');
    // A deploy made now, in a lattice first seen after the restart, converges.
    const fresh = await simLattice(server.url, 'restart-mem-new', 3, 1000);
    sims.push(fresh);
    const apiNew = new RawApi(nc, 'restart-mem-new');
    assert.equal((await request('put after', () => apiNew.put(manifest('after', 3), 'application/json')))['result'], 'created');
    assert.equal((await request('deploy after', () => apiNew.deploy('after')))['result'], 'acknowledged');
    // 60 s: on the current runtime the command worker's consume() can sit in the client's own backoff
    // (jitter(30 s) after a failed consumer info on reconnect) for up to ~45 s before it pulls again.
    await converged(apiNew, fresh, ['after'], 3, 60_000);
    const convergedAt = Date.now();
    for (const w of reps) assert.ok(!w.exited(), `${w.id} survived the restart`);
    process.stderr.write(
      `# nats-restart memory: restart ${restartedAt - t0} ms in; resources re-created ${recreatedAt - restartedAt} ms after it; the new deploy converged ${convergedAt - recreatedAt} ms after that; ` +
        `${reps.map((w) => `${w.id}: ${w.logged('consumer session ended; restarting').length} consumer restarts`).join(', ')}\n`,
    );
  });

  // A lattice that was reconciled before the restart: its lease, state and signal went with the memory
  // store; the replicas re-create the shared consumers, rebuild their views and take the lattice again.
  test('memory storage: a deploy after the restart converges in a lattice reconciled before it', async () => {
    assert.ok(mem, 'the previous test set up the memory-storage server');
    const { api, sim, reps } = mem;
    const t0 = Date.now();
    assert.equal((await request('put again', () => api.put(manifest('again', 3), 'application/json')))['result'], 'created');
    assert.equal((await request('deploy again', () => api.deploy('again')))['result'], 'acknowledged');
    await converged(api, sim, ['again'], 3, 20_000);
    process.stderr.write(`# nats-restart memory, same lattice: converged ${Date.now() - t0} ms after the deploy\n`);
    for (const w of reps) assert.equal(await w.stop(), 0, `${w.id} drains and exits 0`);
  });
});
