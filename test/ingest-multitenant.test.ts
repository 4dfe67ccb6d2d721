/** Multitenant ingest: `{account}.wasmbus.evt.{lattice}.*` lands under the account's own keys. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger } from '@wadm-ts/obs';
import { SimulatedLattice } from '@wadm-ts/simulator';
import type { Replica } from '@wadm-ts/cli';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
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

test('two tenants with the same lattice id and app name keep their own manifests and statuses', async () => {
  const call = async (account: string, op: string, name?: string, body = ''): Promise<Record<string, unknown>> => {
    const m = await nc.request(`${account}.wadm.api.shared-id.model.${op}${name ? `.${name}` : ''}`, body, { timeout: 5000 });
    return JSON.parse(m.string()) as Record<string, unknown>;
  };
  const manifest = (instances: number, image: string): string =>
    JSON.stringify({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'same', annotations: { version: 'v1' } },
      spec: { components: [{ name: 'web', type: 'component', properties: { image }, traits: [{ type: 'spreadscaler', properties: { instances } }] }] },
    });
  assert.equal((await call('ACCTONE', 'put', undefined, manifest(1, 'reg/one:1')))['result'], 'created');
  assert.equal((await call('ACCTTWO', 'put', undefined, manifest(2, 'reg/two:1')))['result'], 'created');
  assert.equal((await call('ACCTONE', 'deploy', 'same'))['result'], 'acknowledged');
  const statusOf = async (account: string): Promise<string | undefined> => ((await call(account, 'status', 'same'))['status'] as { status?: { type?: string } } | undefined)?.status?.type;
  await waitFor(async () => (await statusOf('ACCTONE')) === 'deployed', 20_000, 'the first tenant deployed');
  // The other tenant's app of the same name is not deployed: its status is its own.
  assert.notEqual(await statusOf('ACCTTWO'), 'deployed', "the second tenant does not see the first one's status");
  const jsm = await jetstreamManager(nc);
  const own = await jsm.streams.getMessage('wadm_status_tenants', { last_by_subj: 'ACCTONE.wadm.status.shared-id.same' });
  assert.ok(own, 'published per account');
  const models = (await call('ACCTTWO', 'get'))['models'] as Array<{ name: string; deployed_version?: string | null }>;
  assert.deepEqual(models.map((x) => [x.name, x.deployed_version ?? null]), [['same', null]], 'manifests stay apart');
  // Each tenant's hosts run only its own app.
  await waitFor(() => sims[0]!.snapshot().hosts.some((h) => h.components.some((c) => c.imageRef === 'reg/one:1')), 20_000, 'tenant one runs its app');
  assert.ok(!sims[1]!.snapshot().hosts.some((h) => h.components.length > 0), "tenant two's hosts run nothing");
});
