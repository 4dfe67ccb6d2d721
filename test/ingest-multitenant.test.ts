/** Multitenant ingest: `{account}.wasmbus.evt.{lattice}.*` lands under the account's own keys. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger } from '@wadm-ts/obs';
import { SimulatedLattice } from '@wadm-ts/simulator';
import type { Replica } from '@wadm-ts/cli';
import { startNats, type TestNats } from './harness/nats.js';
import { silent, startReplicas } from './harness/replicas.js';
import { waitConverged } from './harness/lattice.js';

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
const sims: SimulatedLattice[] = [];

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(2, nats.url, { multitenant: true });
});

after(async () => {
  await Promise.all(sims.map((s) => s.close({ graceful: false })));
  await Promise.all(replicas.map((r) => r.stop()));
  await nats.stop();
});

test('two accounts with the same lattice id stay apart', async () => {
  const jsm = await jetstreamManager(nc);
  assert.deepEqual((await jsm.streams.info('wasmbus_events')).config.subjects, ['*.wasmbus.evt.*.>']);
  for (const account of ['ACCTONE', 'ACCTTWO']) {
    const sim = new SimulatedLattice({
      servers: nats.url,
      lattice: 'shared-id',
      multitenantAccount: account,
      heartbeatIntervalMs: 500,
      fetchDelayMs: 1,
      logger: createLogger({ replica: 'simulator', level: 'silent', destination: silent }),
    });
    sims.push(sim);
    await sim.ready();
    await sim.addHost({ labels: { owner: account } });
  }
  const [one] = sims;
  const host = one!.hostIds()[0]!;
  const m = await nc.request(`ACCTONE.wasmbus.ctl.v1.shared-id.component.scale.${host}`, JSON.stringify({ component_ref: 'img:1', component_id: 'c', count: 1, host_id: host }), {
    timeout: 5000,
  });
  const r = JSON.parse(m.string()) as { success: boolean };
  assert.ok(r.success);
  await waitConverged(replicas[0]!.state, sims[0]!, 'shared-id', 20_000, 'ACCTONE');
  await waitConverged(replicas[1]!.state, sims[1]!, 'shared-id', 20_000, 'ACCTTWO');
});
