/**
 * Non-destructive undeploy with adoption, end to end: a real nats-server, one replica (then another one
 * in its place: a new owner), three simulated hosts. An app with a spread of 3 over the 3 hosts, a
 * provider, a link and a managed config is deployed; `model.undeploy` with `{"non_destructive": true}`
 * leaves everything running (0 control actions, also once the replica is replaced); a redeploy of the
 * same version is `deployed` with 0 control actions; `wadm app undeploy --non-destructive` does the same
 * from the CLI; a plain undeploy of the app left running then removes everything.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { LatticeSnapshot, SimulatedLattice } from '@wadm-ts/simulator';
import { runWadm as wadm } from './harness/cli.js';
import { publishCommand } from '@wadm-ts/reconcile';
import { jetStreamContext } from '@wadm-ts/store';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { RawApi } from './harness/api.js';
import { simLattice } from './harness/lattice.js';
import { eventually, metricSum, settle } from './harness/cluster.js';

const LATTICE = 'nondestructive';
const APP = 'keeper';
const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const HTTP = 'ghcr.io/wasmcloud/http-server:0.23.0';
const LEFT = 'Undeployed non-destructively: 3 instances, 1 provider, 1 link and 1 config left running';
const MANIFEST = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: ${APP}
  annotations: { version: v1 }
spec:
  components:
    - name: hello
      type: component
      properties: { image: ${HELLO}, id: keeper_hello }
      traits:
        - type: spreadscaler
          properties: { instances: 3 }
    - name: httpserver
      type: capability
      properties: { image: ${HTTP}, id: keeper_http }
      traits:
        - type: spreadscaler
          properties: { instances: 1 }
        - type: link
          properties:
            target: { name: hello }
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            source:
              config:
                - name: addr
                  properties: { address: '0.0.0.0:8080' }
`;
const OPTS = { resyncIntervalMs: 500, signalIntervalMs: 50, takeoverMs: 1500, cleanupIntervalS: 30 };

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[] = [];
let sim: SimulatedLattice;
let api: RawApi;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(1, nats.url, { ...OPTS, replicaId: 'nd-first' });
  sim = await simLattice(nats.url, LATTICE, 3, 500);
  api = new RawApi(nc, LATTICE);
});

after(async () => {
  await sim?.close({ graceful: false });
  await Promise.all(replicas.map((r) => r.stop()));
  await nc?.close();
  await nats?.stop();
});

/** What runs, as the hosts hold it: every instance with its host and annotations, links, configs. */
function running(s: LatticeSnapshot): unknown {
  return {
    components: s.hosts.flatMap((h) => h.components.map((c) => ({ host: h.id, id: c.id, count: c.count, annotations: c.annotations }))),
    providers: s.hosts.flatMap((h) => h.providers.map((p) => ({ host: h.id, id: p.id, annotations: p.annotations }))),
    links: s.links,
    configs: s.configs,
  };
}

async function status(): Promise<{ type: string; message?: string }> {
  const r = await api.status(APP);
  return (r['status'] as { status: { type: string; message?: string } }).status;
}

async function waitStatus(type: string, message?: string, timeoutMs = 20_000): Promise<void> {
  await eventually(
    `status ${type}${message ? ` (${message})` : ''}`,
    async () => {
      const s = await status();
      assert.equal(s.type, type, JSON.stringify(s));
      if (message !== undefined) assert.equal(s.message, message);
    },
    timeoutMs,
  );
}

/** Control requests that are not queries (`actions`), and the kinds that stop or delete among them. */
function actions(): Record<string, number> {
  const c = sim.commandsReceived();
  return { actions: c.actions, 'component.scale': c['component.scale'], 'provider.stop': c['provider.stop'], 'link.del': c['link.del'], 'config.del': c['config.del'], 'host.stop': c['host.stop'] };
}


test('non-destructive undeploy leaves everything running across a new owner; redeploy adopts with 0 actions; a plain undeploy cleans up', async () => {
  const put = await api.put(MANIFEST);
  assert.equal(put['result'], 'created', JSON.stringify(put));
  assert.equal((await api.deploy(APP, 'v1'))['result'], 'acknowledged');
  await waitStatus('deployed');
  const deployedTruth = sim.snapshot();
  // A spread of 3 over 3 hosts, one provider, one link, one managed config.
  assert.deepEqual(deployedTruth.hosts.map((h) => h.components.reduce((n, c) => n + c.count, 0)), [1, 1, 1]);
  assert.equal(deployedTruth.hosts.flatMap((h) => h.providers).length, 1);
  assert.equal(deployedTruth.links.length, 1);
  assert.deepEqual(Object.keys(deployedTruth.configs), ['keeper-addr']);
  await settle(replicas, 2);
  const before = running(sim.snapshot());
  const base = actions();
  // Commands the reconcilers wrote (the workers would also drop a stop for a released app: this says the planner asked for none).
  const issued = (): Promise<number> => metricSum(replicas, 'wadm_commands_issued_total');
  const issuedBase = await issued();

  // Undeploy non-destructively, over raw NATS with the body the Rust wadm's API had.
  const und = await api.raw(api.subject('undeploy', APP), JSON.stringify({ non_destructive: true }));
  assert.equal(und['result'], 'acknowledged', JSON.stringify(und));
  assert.equal(und['version'], null);
  await waitStatus('undeployed', LEFT);
  const listed = ((await api.list())['models'] as Array<Record<string, unknown>>).find((m) => m['name'] === APP)!;
  assert.equal(listed['deployed_version'], null);
  assert.equal(listed['status'], 'undeployed');
  await settle(replicas, 4);
  assert.deepEqual(running(sim.snapshot()), before, 'everything still runs, annotations included');
  assert.deepEqual(actions(), base, 'no control action (no stop, no delete) after a non-destructive undeploy');
  assert.equal(await issued(), issuedBase, 'no command planned after a non-destructive undeploy');

  // Replace the replica: the new one owns the lattice from the stored marker alone.
  await replicas[0]!.stop();
  replicas = await startReplicas(1, nats.url, { ...OPTS, replicaId: 'nd-second' });
  await waitFor(async () => (await metricSum(replicas, 'wadm_lattices_owned')) >= 1, 20_000, 'the new replica to own the lattice');
  await waitFor(async () => (await metricSum(replicas, 'wadm_host_queries_total', { kind: 'host_get' })) >= 3, 20_000, 'the new owner to ask the hosts');
  await settle(replicas, 4);
  await waitStatus('undeployed', LEFT);
  assert.deepEqual(running(sim.snapshot()), before, 'everything still runs after a change of owner');
  assert.deepEqual(actions(), base, 'no control action after a change of owner');
  assert.equal(await issued(), 0, 'the new owner planned no command');

  // A stop for it still queued from before (e.g. planned while it was deployed) is dropped by the workers.
  const prov = sim.snapshot().hosts.flatMap((h) => h.providers.map((p) => ({ host: h.id, id: p.id })))[0]!;
  const dropped = await metricSum(replicas, 'wadm_commands_total', { type: 'StopProvider', result: 'app_undeployed' });
  await publishCommand(await jetStreamContext(nc), { lattice: LATTICE }, [{ kind: 'StopProvider', provider_id: prov.id, host_id: prov.host, model_name: APP }], 'nd-queued-stop');
  await waitFor(async () => (await metricSum(replicas, 'wadm_commands_total', { type: 'StopProvider', result: 'app_undeployed' })) === dropped + 1, 10_000, 'the queued stop dropped');
  assert.deepEqual(running(sim.snapshot()), before);
  assert.deepEqual(actions(), base, 'the queued stop never reached the host');

  // Redeploy the same version: adopted, 0 actions.
  assert.equal((await api.deploy(APP, 'v1'))['result'], 'acknowledged');
  await waitStatus('deployed');
  await settle(replicas, 4);
  assert.equal((await status()).type, 'deployed');
  assert.deepEqual(running(sim.snapshot()), before);
  assert.deepEqual(actions(), base, 'a redeploy of the same version issues no control action');
  assert.equal(await issued(), 0, 'nothing planned for the redeploy');

  // The CLI flag: the same non-destructive undeploy.
  const r = await wadm(['app', 'undeploy', '--non-destructive', APP, '--lattice', LATTICE, '-s', nats.url, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const reply = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
  assert.equal(reply['result'], 'acknowledged');
  assert.match(String(reply['message']), /non-destructively/);
  await waitStatus('undeployed', LEFT);
  await settle(replicas, 3);
  assert.deepEqual(running(sim.snapshot()), before);
  assert.deepEqual(actions(), base, 'no control action after the CLI non-destructive undeploy');
  assert.equal(await issued(), 0);

  // A plain undeploy of the app left running: now it is cleaned up.
  const plain = await api.undeploy(APP);
  assert.equal(plain['result'], 'acknowledged', JSON.stringify(plain));
  await eventually('everything removed', () => {
    const s = sim.snapshot();
    assert.deepEqual(
      s.hosts.flatMap((h) => [...h.components, ...h.providers]),
      [],
    );
    assert.deepEqual(s.links, []);
    assert.deepEqual(s.configs, {});
  });
  await waitStatus('undeployed', 'Manifest has been undeployed');
  const after = actions();
  for (const k of ['component.scale', 'provider.stop', 'link.del', 'config.del'] as const) assert.ok(after[k]! > base[k]!, `${k} sent by the plain undeploy`);
});

test('bad non_destructive values get a clear error and the server keeps serving', async () => {
  let r = await api.raw(api.subject('undeploy', APP), JSON.stringify({ non_destructive: 'yes' }));
  assert.equal(r['result'], 'error');
  assert.match(String(r['message']), /non_destructive.*expected a boolean/);
  r = await api.raw(api.subject('undeploy', APP), JSON.stringify({ non_destructive: true, destructive: true }));
  assert.equal(r['result'], 'error');
  r = await api.raw(api.subject('undeploy', APP), JSON.stringify({ non_destructive: false }));
  assert.equal(r['result'], 'acknowledged');
});
