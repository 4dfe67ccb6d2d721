/**
 * The replica that owns a lattice is killed with SIGKILL mid-deploy: another replica takes the lattice
 * over within the takeover bound, the app converges, and at no moment does the lattice run more
 * instances than declared (in-flight commands are persisted, so the new owner does not re-issue them).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { SimulatedLattice } from '@wadm-ts/simulator';
import { createLogger } from '@wadm-ts/obs';
import { silent } from './harness/replicas.js';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { RawApi } from './harness/api.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'cli', 'bin', 'wadm.js');

let nats: TestNats;
let nc: NatsConnection;
let sim: SimulatedLattice;
const procs: Array<{ p: ChildProcess; id: string; lines: Array<Record<string, unknown>> }> = [];

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
});

after(async () => {
  await sim?.close({ graceful: false });
  for (const { p } of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await nats.stop();
});

function replica(id: string): (typeof procs)[number] {
  const p = spawn(process.execPath, [BIN, 'serve', '-s', nats.url, '--host-id', id, '--takeover-ms', '2000', '--resync-interval-ms', '1000', '--cleanup-interval', '5', '--structured-logging'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { p, id, lines: [] as Array<Record<string, unknown>> };
  let buf = '';
  p.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) if (l.startsWith('{')) entry.lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  procs.push(entry);
  return entry;
}

test('SIGKILL of the owning replica mid-deploy: takeover, convergence, never a surplus instance', async () => {
  const reps = ['owner-a', 'owner-b', 'owner-c'].map(replica);
  await waitFor(() => reps.every((r) => r.lines.some((l) => l['msg'] === 'replica ready')), 30_000, 'replicas ready');
  // Hosts take 4 s to fetch an image, so the deploy is still under way when the owner dies, even on a
  // loaded machine where noticing the owner takes a while.
  sim = new SimulatedLattice({
    servers: nats.url,
    lattice: 'takeover',
    heartbeatIntervalMs: 500,
    fetchDelayMs: 4000,
    logger: createLogger({ replica: 'simulator', level: 'silent', destination: silent }),
  });
  await sim.ready();
  for (let i = 0; i < 6; i++) await sim.addHost();
  const api = new RawApi(nc, 'takeover');
  const manifest = (version: string, instances: number): string =>
    JSON.stringify({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'victim', annotations: { version } },
      spec: {
        components: [
          { name: 'web', type: 'component', properties: { image: 'reg/web:1' }, traits: [{ type: 'spreadscaler', properties: { instances } }] },
          { name: 'http', type: 'capability', properties: { image: 'reg/http:1' }, traits: [{ type: 'daemonscaler', properties: { instances: 1 } }] },
        ],
      },
    });
  // Sample the ground truth continuously: the total must never exceed what is declared.
  let maxTotal = 0;
  let maxProviders = 0;
  const sampler = setInterval(() => {
    const s = sim.snapshot();
    const mine = s.hosts.flatMap((h) => h.components.filter((c) => c.annotations['wasmcloud.dev/appspec'] === 'victim'));
    maxTotal = Math.max(maxTotal, mine.reduce((n, c) => n + c.count, 0));
    maxProviders = Math.max(maxProviders, ...s.hosts.map((h) => h.providers.filter((p) => p.id === 'victim-http').length));
  }, 5);
  // Status is watched on its stream subject (what dashboards do), not through API requests that a dying
  // replica of the API queue group may swallow.
  let deployedSeenAt = 0;
  const statusSub = nc.subscribe('wadm.status.takeover.victim', {
    callback: (_e, m) => {
      if ((JSON.parse(m.string()) as { status: { type: string } }).status.type === 'deployed') deployedSeenAt = Date.now();
    },
  });
  try {
    assert.equal((await api.put(manifest('v1', 12), 'application/json'))['result'], 'created');
    assert.equal((await api.deploy('victim'))['result'], 'acknowledged');
    // The owner is the replica that issues the lattice's commands: kill it the moment it starts.
    const owner = await waitFor(() => reps.find((r) => r.lines.some((l) => l['lattice'] === 'takeover' && l['msg'] === 'commands issued')), 20_000, 'the owner issuing commands');
    owner.p.kill('SIGKILL');
    const killedAt = Date.now();
    const survivors = reps.filter((r) => r !== owner);
    const before = new Map(survivors.map((r) => [r.id, r.lines.length]));
    await waitFor(() => deployedSeenAt > killedAt, 60_000, 'deployed after the takeover');
    const deployedAt = deployedSeenAt;
    assert.ok(!owner.lines.some((l) => l['lattice'] === 'takeover' && l['status'] === 'deployed'), 'the owner died before the deploy completed');
    const taker = survivors.find((r) => r.lines.slice(before.get(r.id)).some((l) => l['lattice'] === 'takeover'));
    assert.ok(taker, `a surviving replica reconciled the lattice: ${JSON.stringify(survivors.map((r) => r.lines.filter((l) => l['lattice'] || l['level'] !== 30).slice(-5)))} owner: ${JSON.stringify(owner.lines.filter((l) => l['lattice']).slice(-5))}`);
    const s = sim.snapshot();
    const mine = s.hosts.flatMap((h) => h.components.filter((c) => c.annotations['wasmcloud.dev/appspec'] === 'victim'));
    assert.equal(mine.reduce((n, c) => n + c.count, 0), 12, 'exactly the declared instances');
    assert.equal(s.hosts.filter((h) => h.providers.some((p) => p.id === 'victim-http')).length, 6, 'the daemon provider on every host');
    assert.ok(maxTotal <= 12, `never more than 12 instances (max seen ${maxTotal})`);
    assert.ok(maxProviders <= 1, 'never two providers of one id on a host');
    process.stderr.write(`# takeover: owner ${owner.id} killed; ${taker.id} took over; deployed ${deployedAt - killedAt} ms after the kill (takeover bound 2000 ms)\n`);
    if (owner.p.exitCode === null && owner.p.signalCode === null) await once(owner.p, 'exit');
  } finally {
    clearInterval(sampler);
    statusSub.unsubscribe();
  }
  for (const r of reps) {
    if (r.p.exitCode !== null || r.p.signalCode !== null) continue;
    r.p.kill('SIGTERM');
    const [code] = (await once(r.p, 'exit')) as [number | null];
    assert.equal(code, 0);
  }
});
