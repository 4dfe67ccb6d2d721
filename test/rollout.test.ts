/**
 * Zero-downtime image upgrades (issue 10) against one wadm-ts replica and a simulated lattice whose
 * hosts take 400 ms to fetch an image: a spread of 3 on 3 hosts gets a new image, and the simulator's
 * ground truth is sampled every 25 ms during the rollout. Components are updated in place
 * (`component.update`); providers are replaced host by host (start first on a spare host with
 * `maxUnavailable: 0`). A wire spy on the control subjects proves unchanged components get no request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import { createLogger } from '@wadm-ts/obs';
import { SimulatedLattice, type LatticeSnapshot } from '@wadm-ts/simulator';
import { readLatticeSnapshot } from '@wadm-ts/store';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { silent, startReplicas } from './harness/replicas.js';
import { RawApi } from './harness/api.js';
import { eventually } from './harness/cluster.js';

const LATTICE = 'default';
const ECHO1 = 'ghcr.io/wasmcloud/components/echo-messaging-rust:0.1.0';
const ECHO2 = 'ghcr.io/wasmcloud/components/echo-messaging-rust:0.2.0';
const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const HTTP1 = 'ghcr.io/wasmcloud/http-server:0.23.0';
const HTTP2 = 'ghcr.io/wasmcloud/http-server:0.24.0';
const FETCH_DELAY_MS = 400;

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
let sim: SimulatedLattice;
let api: RawApi;
let spySub: Subscription;
/** Every control request seen on the wire: subject and parsed body. */
const requests: Array<{ subject: string; body: Record<string, unknown> }> = [];
let statusSub: Subscription;
const statusMessages: string[] = [];

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(1, nats.url, { cleanupIntervalS: 5, resyncIntervalMs: 1000, signalIntervalMs: 20 });
  sim = new SimulatedLattice({
    servers: nats.url,
    lattice: LATTICE,
    heartbeatIntervalMs: 1000,
    healthCheckDelayMs: 50,
    healthCheckIntervalMs: 1000,
    fetchDelayMs: FETCH_DELAY_MS,
    logger: createLogger({ replica: 'simulator', level: 'silent', destination: silent }),
  });
  await sim.ready();
  for (let i = 0; i < 3; i++) await sim.addHost({ labels: { zone: 'a' } });
  api = new RawApi(nc, LATTICE);
  spySub = nc.subscribe(`wasmbus.ctl.v1.${LATTICE}.>`, {
    callback: (_e, m) => {
      let body: Record<string, unknown> = {};
      try {
        const v: unknown = m.data.length > 0 ? JSON.parse(m.string()) : {};
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) body = v as Record<string, unknown>;
      } catch {
        // not JSON (e.g. a config.del body): only the subject matters here
      }
      requests.push({ subject: m.subject, body });
    },
  });
  statusSub = nc.subscribe(`wadm.status.${LATTICE}.*`, { callback: (_e, m) => void statusMessages.push(m.string()) });
  await nc.flush();
  await waitFor(async () => (await readLatticeSnapshot(replicas[0]!.state, { lattice: LATTICE })).hosts.length === 3, 15_000, 'wadm to know the 3 hosts');
});

after(async () => {
  spySub?.unsubscribe();
  statusSub?.unsubscribe();
  await sim?.close({ graceful: false });
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nats?.stop();
});

const policy = (mu: number | undefined): string =>
  mu === undefined
    ? ''
    : `
  policies:
    - name: rollout
      type: rollout
      properties:
        maxUnavailable: ${mu}`;

function componentApp(name: string, echoImage: string, mu?: number): string {
  return `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: ${name}, annotations: {} }
spec:
  components:
    - name: echo
      type: component
      properties: { image: ${echoImage} }
      traits:
        - type: spreadscaler
          properties: { instances: 3 }
    - name: hello
      type: component
      properties: { image: ${HELLO} }
      traits:
        - type: spreadscaler
          properties: { instances: 2 }${policy(mu)}
`;
}

function providerApp(name: string, image: string, mu?: number): string {
  return `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: ${name}, annotations: {} }
spec:
  components:
    - name: http
      type: capability
      properties: { image: ${image} }
      traits:
        - type: spreadscaler
          properties: { instances: 3 }${policy(mu)}
`;
}

/** Running instances of one component or provider id (any image): Σ max_instances, or providers. */
function running(s: LatticeSnapshot, id: string): { count: number; images: string[] } {
  let count = 0;
  const images: string[] = [];
  for (const h of s.hosts) {
    for (const c of h.components) if (c.id === id) (count += c.count), images.push(`${c.imageRef}x${c.count}`);
    for (const p of h.providers) if (p.id === id) (count += 1), images.push(p.imageRef);
  }
  return { count, images: images.sort() };
}

async function statusOf(app: string): Promise<{ type: string; message: string }> {
  const r = await api.status(app);
  const st = (r['status'] as { status?: { type?: string; message?: string } } | undefined)?.status;
  return { type: String(st?.type), message: String(st?.message ?? '') };
}

async function deploy(yaml: string, app: string): Promise<void> {
  const put = await api.put(yaml);
  assert.ok(put['result'] === 'created' || put['result'] === 'newversion', JSON.stringify(put));
  const dep = await api.deploy(app);
  assert.equal(dep['result'], 'acknowledged', JSON.stringify(dep));
}

async function deployed(app: string, id: string, image: string, label: string): Promise<void> {
  await eventually(
    label,
    async () => {
      const r = running(sim.snapshot(), id);
      assert.deepEqual(r.images, [image, image, image].map((i) => (i.includes('/components/') ? `${i}x1` : i)), `only ${image}, 3 instances`);
      assert.equal((await statusOf(app)).type, 'deployed');
    },
    30_000,
  );
}

/** Sample the ground truth every 25 ms while `during` runs; returns the instance count at every sample. */
async function sampled(id: string, during: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(running(sim.snapshot(), id).count), 25);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  samples.push(running(sim.snapshot(), id).count);
  return samples;
}

const requestsFor = (id: string, from: number) =>
  requests.slice(from).filter((r) => r.body['component_id'] === id || r.body['provider_id'] === id);

for (const mu of [undefined, 0] as const) {
  const floor = mu === 0 ? 3 : 2;
  const app = mu === 0 ? 'rollzero' : 'rollone';
  test(`component image change, maxUnavailable ${mu ?? 'default (1)'}: at least ${floor} instances at every sample, updated in place, the unchanged component gets no request`, async () => {
    const echo = `${app}-echo`;
    const hello = `${app}-hello`;
    await deploy(componentApp(app, ECHO1, mu), app);
    await deployed(app, echo, ECHO1, 'v1 deployed');
    const helloBefore = running(sim.snapshot(), hello);
    assert.equal(helloBefore.count, 2);

    const mark = requests.length;
    const statusMark = statusMessages.length;
    const updatesBefore = sim.commandsReceived()['component.update'];
    const t0 = Date.now();
    const samples = await sampled(echo, async () => {
      await deploy(componentApp(app, ECHO2, mu), app);
      await deployed(app, echo, ECHO2, 'v2 rolled out');
    });
    const took = Date.now() - t0;
    assert.ok(samples.length >= 10, `sampled ${samples.length} times in ${took} ms`);
    assert.ok(Math.min(...samples) >= floor, `instances at each sample (floor ${floor}): ${JSON.stringify(samples)}`);

    // Updated in place, host by host: one component.update per host, never a stop.
    const mine = requestsFor(echo, mark);
    const updates = mine.filter((r) => r.subject.includes('.component.update.'));
    assert.equal(new Set(updates.map((r) => r.subject)).size, 3, 'each host updated');
    assert.deepEqual(Object.keys(updates[0]!.body), ['component_id', 'annotations', 'host_id', 'new_component_ref'], 'wire field order');
    assert.equal(updates[0]!.body['new_component_ref'], ECHO2);
    assert.ok(!mine.some((r) => r.subject.includes('.component.scale.') && r.body['count'] === 0), 'never scaled to 0');
    assert.ok(sim.commandsReceived()['component.update'] - updatesBefore >= 3);
    // The host's bogus second event (max_instances 0) costs at most one re-scale per host, no storm.
    const rescales = mine.filter((r) => r.subject.includes('.component.scale.'));
    assert.ok(rescales.length <= 3 + 1, `re-scales: ${rescales.length}`);
    assert.ok(rescales.every((r) => r.body['count'] === 1 && r.body['component_ref'] === ECHO2));

    // Unchanged: no control request names it, and it runs as before.
    assert.deepEqual(requestsFor(hello, mark), []);
    assert.deepEqual(running(sim.snapshot(), hello), helloBefore);

    // The status said what was being replaced.
    assert.ok(
      statusMessages.slice(statusMark).some((m) => new RegExp(`rolling out ${echo}: [0-2] of 3 updated`).test(m)),
      `a status naming the rollout: ${JSON.stringify(statusMessages.slice(statusMark).slice(0, 5))}`,
    );
    if (mu === 0) assert.ok(statusMessages.slice(statusMark).some((m) => m.includes('1 host at a time')), 'maxUnavailable 0 without a spare host says so');
  });
}

test('provider image change, 3 on 3 hosts (maxUnavailable 1): replaced host by host, at least 2 at every sample', async () => {
  const app = 'provone';
  const id = `${app}-http`;
  await deploy(providerApp(app, HTTP1), app);
  await deployed(app, id, HTTP1, 'v1 deployed');
  const mark = requests.length;
  const samples = await sampled(id, async () => {
    await deploy(providerApp(app, HTTP2), app);
    await deployed(app, id, HTTP2, 'v2 rolled out');
  });
  assert.ok(samples.length >= 10);
  assert.ok(Math.min(...samples) >= 2, JSON.stringify(samples));
  const mine = requestsFor(id, mark);
  const stops = mine.filter((r) => r.subject.includes('.provider.stop.')).map((r) => r.subject);
  const starts = mine.filter((r) => r.subject.includes('.provider.start.')).map((r) => r.subject);
  assert.equal(new Set(stops).size, 3);
  assert.equal(new Set(starts).size, 3);
});

test('provider image change with maxUnavailable 0 and a spare host: started first, 3 at every sample', async () => {
  await sim.addHost({ labels: { zone: 'a' } });
  await waitFor(async () => (await readLatticeSnapshot(replicas[0]!.state, { lattice: LATTICE })).hosts.length === 4, 15_000, 'wadm to know the 4th host');
  const app = 'provzero';
  const id = `${app}-http`;
  await deploy(providerApp(app, HTTP1, 0), app);
  await deployed(app, id, HTTP1, 'v1 deployed');
  const mark = requests.length;
  const samples = await sampled(id, async () => {
    await deploy(providerApp(app, HTTP2, 0), app);
    await deployed(app, id, HTTP2, 'v2 rolled out');
  });
  assert.ok(samples.length >= 10);
  assert.ok(Math.min(...samples) >= 3, JSON.stringify(samples));
  const mine = requestsFor(id, mark).filter((r) => r.subject.includes('.provider.'));
  assert.ok(mine[0]!.subject.includes('.provider.start.'), `the first move starts the new: ${mine.map((r) => r.subject).join(' ')}`);
});
