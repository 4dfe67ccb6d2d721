/**
 * Multitenancy on a real multi-account nats-server (issue 9, item 8), set up as the Rust wadm's
 * multitenant deployment is: the WADM account imports each tenant's events (`wasmbus.evt.*.>`, with the
 * account as prefix) and control interface (`wasmbus.ctl.>` as `{account}.wasmbus.ctl.>`), and exports
 * `{account}.wadm.api.>`, which each tenant imports as its own `wadm.api.>`. Two tenants with the same
 * lattice id and app name never see or change each other's manifests, hosts or statuses.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { simLattice } from './harness/lattice.js';
import { startLocalNats, type LocalNats } from '@wadm-ts/dev';
import { waitFor } from './harness/nats.js';
import { ReplicaFleet } from './harness/procs.js';

const CONFIG = `
accounts {
  WADM: {
    jetstream: enabled
    users: [ { user: wadm, password: wadm-pw } ]
    exports: [ { service: "TENANT_A.wadm.api.>" }, { service: "TENANT_B.wadm.api.>" } ]
    imports: [
      { stream: { account: TENANT_A, subject: "wasmbus.evt.*.>" }, prefix: "TENANT_A" }
      { stream: { account: TENANT_B, subject: "wasmbus.evt.*.>" }, prefix: "TENANT_B" }
      { service: { account: TENANT_A, subject: "wasmbus.ctl.>" }, to: "TENANT_A.wasmbus.ctl.>" }
      { service: { account: TENANT_B, subject: "wasmbus.ctl.>" }, to: "TENANT_B.wasmbus.ctl.>" }
    ]
  }
  TENANT_A: {
    users: [ { user: a, password: a-pw } ]
    exports: [ { stream: "wasmbus.evt.*.>" }, { service: "wasmbus.ctl.>" } ]
    imports: [ { service: { account: WADM, subject: "TENANT_A.wadm.api.>" }, to: "wadm.api.>" } ]
  }
  TENANT_B: {
    users: [ { user: b, password: b-pw } ]
    exports: [ { stream: "wasmbus.evt.*.>" }, { service: "wasmbus.ctl.>" } ]
    imports: [ { service: { account: WADM, subject: "TENANT_B.wadm.api.>" }, to: "wadm.api.>" } ]
  }
}
`;

let server: LocalNats;
let fleet: ReplicaFleet;
const sims: SimulatedLattice[] = [];
const tenants = new Map<string, NatsConnection>();

before(async () => {
  server = await startLocalNats({ config: CONFIG });
  const at = `${server.host}:${server.port}`;
  fleet = new ReplicaFleet({ natsUrl: `nats://wadm:wadm-pw@${at}`, args: ['--stream-persistence', 'memory', '--multitenant', '--resync-interval-ms', '1000'] });
  const r = fleet.spawn('tenants-0');
  await fleet.ready([r]);
  for (const [t, user] of [['A', 'a'], ['B', 'b']] as const) {
    const nc = await connect({ servers: `nats://${at}`, user, pass: `${user}-pw` });
    tenants.set(t, nc);
    sims.push(await simLattice(nc, 'shared', 1, 1000, () => ({ tenant: t })));
  }
});

after(async () => {
  for (const s of sims) await s.close({ graceful: false });
  fleet?.killAll();
  for (const nc of tenants.values()) await nc.close();
  await server?.stop();
});

async function api(t: string, op: string, name?: string, body = ''): Promise<Record<string, unknown>> {
  const m = await tenants.get(t)!.request(`wadm.api.shared.model.${op}${name ? `.${name}` : ''}`, body, { timeout: 5000 });
  return JSON.parse(m.string()) as Record<string, unknown>;
}

const manifest = (image: string, instances: number): string =>
  JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'same', annotations: { version: 'v1' } },
    spec: { components: [{ name: 'web', type: 'component', properties: { image }, traits: [{ type: 'spreadscaler', properties: { instances } }] }] },
  });

const status = async (t: string): Promise<string | undefined> => ((await api(t, 'status', 'same'))['status'] as { status?: { type?: string } } | undefined)?.status?.type;

test('two tenants, one lattice id and app name: manifests, hosts and statuses stay apart', async () => {
  assert.equal((await api('A', 'put', undefined, manifest('reg/a:1', 1)))['result'], 'created');
  assert.equal((await api('B', 'put', undefined, manifest('reg/b:1', 2)))['result'], 'created');
  assert.equal((await api('A', 'deploy', 'same'))['result'], 'acknowledged');
  await waitFor(async () => (await status('A')) === 'deployed', 30_000, "tenant A's app deployed");
  assert.notEqual(await status('B'), 'deployed', "tenant B's undeployed app has its own status");
  const [simA, simB] = sims as [SimulatedLattice, SimulatedLattice];
  await waitFor(() => simA.snapshot().hosts.some((h) => h.components.some((c) => c.imageRef === 'reg/a:1')), 20_000, "tenant A's host runs A's app");
  assert.ok(!simB.snapshot().hosts.some((h) => h.components.length > 0), "tenant B's host runs nothing");
  assert.equal((await api('B', 'deploy', 'same'))['result'], 'acknowledged');
  await waitFor(async () => (await status('B')) === 'deployed', 30_000, "tenant B's app deployed");
  await waitFor(() => simB.snapshot().hosts.some((h) => h.components.some((c) => c.imageRef === 'reg/b:1' && c.count === 2)), 20_000, "B's host runs B's app");
  assert.ok(!simA.snapshot().hosts.some((h) => h.components.some((c) => c.imageRef === 'reg/b:1')), "A's host never runs B's app");
  // Undeploying in A changes nothing in B.
  assert.equal((await api('A', 'undeploy', 'same'))['result'], 'acknowledged');
  await waitFor(async () => (await status('A')) === 'undeployed', 30_000, "tenant A's app undeployed");
  assert.equal(await status('B'), 'deployed');
  const listA = (await api('A', 'get'))['models'] as Array<{ name: string; deployed_version?: string | null }>;
  const listB = (await api('B', 'get'))['models'] as Array<{ name: string; deployed_version?: string | null }>;
  assert.deepEqual(listA.map((m) => m.deployed_version ?? null), [null]);
  assert.deepEqual(listB.map((m) => m.deployed_version ?? null), ['v1']);
});
