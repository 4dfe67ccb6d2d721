/**
 * The Rust wadm's `e2e_upgrades` suite (docs/wire/scenarios.md §2) against 3 wadm-ts replicas and one simulated
 * host: deploy `updateapp` v1, upgrade to v2 (new images, a new component, removed component and
 * provider, a link config changed in place), then to v3 (link config back, provider gains a config and is
 * restarted with it). After each deploy a `reconciling` status must appear within 5 s, then the ground
 * truth must match the new version exactly and the status be `deployed`. Also the disabled phase (a
 * different app reusing a deployed id is refused) and a final undeploy that leaves nothing behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { LatticeSnapshot, Link, SimulatedLattice } from '@wadm-ts/simulator';
import { readLatticeSnapshot } from '@wadm-ts/store';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { FIXTURES_DIR, RawApi } from './harness/api.js';
import { simLattice, link, sortLinks } from './harness/lattice.js';
import { eventually, settle as settleOf } from './harness/cluster.js';

const LATTICE = 'default';
const APP = 'updateapp';
const DOG_V1 = 'ghcr.io/wasmcloud/components/dog-fetcher-rust:0.1.0';
const DOG_V2 = 'ghcr.io/wasmcloud/components/dog-fetcher-rust:0.1.1';
const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const KVCOUNTER = 'ghcr.io/wasmcloud/components/http-keyvalue-counter-rust:0.1.0';
const ECHO = 'ghcr.io/wasmcloud/components/echo-messaging-rust:0.1.0';
const HTTP_OLD = 'ghcr.io/wasmcloud/http-server:0.20.1';
const HTTP_NEW = 'ghcr.io/wasmcloud/http-server:0.23.0';
const REDIS = 'ghcr.io/wasmcloud/keyvalue-redis:0.26.0';

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
let sim: SimulatedLattice;
let api: RawApi;
let statusSub: Subscription;
/** Every status message published for the app (a live subscriber, like the Rust test's DeliverPolicy::New consumer). */
const seen: Array<{ type: string; at: number }> = [];

const settle = (passes = 3): Promise<void> => settleOf(replicas, passes);

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(3, nats.url, { cleanupIntervalS: 2, resyncIntervalMs: 1000, signalIntervalMs: 50 });
  sim = await simLattice(nats.url, LATTICE, 0, 750);
  // The Rust compose file's legacy label variables; the manifests have no requirements anyway.
  await sim.addHost({ labels: { app: 'upgradey', region: 'us-brooks-east', high_availability: 'nope' } });
  api = new RawApi(nc, LATTICE);
  statusSub = nc.subscribe(`wadm.status.${LATTICE}.${APP}`, {
    callback: (_e, m) => {
      try {
        seen.push({ type: String((m.json() as { status?: { type?: string } }).status?.type), at: Date.now() });
      } catch {
        seen.push({ type: 'unparseable', at: Date.now() });
      }
    },
  });
  await nc.flush();
  await waitFor(async () => (await readLatticeSnapshot(replicas[0]!.state, { lattice: LATTICE })).hosts.length === 1, 15_000, 'wadm to know the host');
});

after(async () => {
  statusSub?.unsubscribe();
  await sim?.close({ graceful: false });
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nats?.stop();
});

// ---------- helpers (ground truth) ----------

const fixture = (file: string): string => readFileSync(join(FIXTURES_DIR, 'scenarios', file), 'utf8');

const managedBy = (a: Record<string, string>, app: string): boolean => a['wasmcloud.dev/appspec'] === app && a['wasmcloud.dev/managed-by'] === 'wadm';

/** Sum of max_instances of the app's components with that image (or that id). */
function components(s: LatticeSnapshot, sel: { image?: string; id?: string }, app = APP): number {
  let n = 0;
  for (const h of s.hosts) {
    for (const c of h.components) {
      if (managedBy(c.annotations, app) && (sel.image === undefined || c.imageRef === sel.image) && (sel.id === undefined || c.id === sel.id)) n += c.count;
    }
  }
  return n;
}

/** Providers with that image (whoever started them), with their id, annotations and config. */
function providers(s: LatticeSnapshot, image: string): Array<{ host: string; id: string; app: string | undefined; config: string[] }> {
  return s.hosts.flatMap((h) =>
    h.providers.filter((p) => p.imageRef === image).map((p) => ({ host: h.id, id: p.id, app: managedBy(p.annotations, APP) ? APP : p.annotations['wasmcloud.dev/appspec'], config: [...p.config] })),
  );
}



const HELLO_LINK = (): Link => link('http_server', 'http_hello_world', 'wasi', 'http', ['incoming-handler'], ['updateapp-hello_world_address'], [], 'hello');
const DOG_LINK = (): Link => link('http_server', 'updateapp-dog_fetcher', 'wasi', 'http', ['incoming-handler'], ['updateapp-dog_fetcher_address'], [], 'dog');
const KV_LINK = (): Link => link('updateapp-kvcounter', 'keyvalue_redis', 'wasi', 'keyvalue', ['atomics', 'store'], [], ['updateapp-kvconfig']);

async function statusType(app = APP): Promise<string> {
  const r = await api.status(app);
  return String(r['status']?.['status']?.['type']);
}




/**
 * Deploy (a version, or the latest) and require a `reconciling` status message within 5 s of the
 * request, before the first `deployed` one.
 */
async function deployExpectingReconciling(version?: string): Promise<string> {
  const mark = seen.length;
  const t0 = Date.now();
  const dep = await api.deploy(APP, version);
  assert.equal(dep['result'], 'acknowledged', JSON.stringify(dep));
  await waitFor(() => seen.slice(mark).some((x) => x.type === 'reconciling'), 5_000, `a reconciling status within 5 s of the deploy (seen: ${JSON.stringify(seen.slice(mark))})`);
  const after = seen.slice(mark);
  const firstReconciling = after.findIndex((x) => x.type === 'reconciling');
  const firstDeployed = after.findIndex((x) => x.type === 'deployed');
  assert.ok(firstDeployed === -1 || firstReconciling < firstDeployed, `reconciling before deployed: ${JSON.stringify(after.map((x) => x.type))}`);
  assert.ok(after[firstReconciling]!.at - t0 <= 5_000);
  return String(dep['version']);
}

// ---------- scenarios ----------

let v1 = '';
let v2 = '';

test('phase 1: outdatedapp deploys 5 dog-fetchers, 3 hellos, 3 kvcounters, both providers (implicit spread 1), three links with their configs', async () => {
  const put = await api.put(fixture('outdatedapp.yaml'));
  assert.equal(put['result'], 'created', JSON.stringify(put));
  v1 = put['current_version'] as string;
  assert.match(v1, /^[0-9A-HJKMNP-TV-Z]{26}$/, 'no version annotation: a ULID is generated');
  assert.equal(await deployExpectingReconciling(), v1);
  await eventually('v1 deployed', async () => {
    const s = sim.snapshot();
    assert.equal(components(s, { image: DOG_V1, id: 'updateapp-dog_fetcher' }), 5, 'dog-fetcher 0.1.0');
    assert.equal(components(s, { image: HELLO, id: 'http_hello_world' }), 3, 'hello');
    assert.equal(components(s, { image: KVCOUNTER, id: 'updateapp-kvcounter' }), 3, 'kvcounter');
    assert.deepEqual(providers(s, HTTP_OLD).map((p) => [p.id, p.app]), [['http_server', APP]], 'http-server 0.20.1 exactly 1');
    assert.deepEqual(providers(s, REDIS).map((p) => [p.id, p.app]), [['keyvalue_redis', APP]], 'keyvalue-redis exactly 1');
    assert.deepEqual(sortLinks(s.links), sortLinks([HELLO_LINK(), DOG_LINK(), KV_LINK()]));
    assert.deepEqual(s.configs['updateapp-hello_world_address'], { address: '0.0.0.0:8080' });
    assert.deepEqual(s.configs['updateapp-dog_fetcher_address'], { address: '0.0.0.0:8081' });
    assert.deepEqual(s.configs['updateapp-kvconfig'], { URL: 'redis://127.0.0.1:6379' });
    assert.equal(await statusType(), 'deployed');
  });
});

test('phase 2: upgradedapp replaces images, adds echo-messaging, removes kvcounter and redis, updates the hello link config in place', async () => {
  const put = await api.put(fixture('upgradedapp.yaml'));
  assert.equal(put['result'], 'newversion', JSON.stringify(put));
  v2 = put['current_version'] as string;
  assert.equal(await deployExpectingReconciling(v2), v2, 'that specific version is deployed');
  await eventually('v2 deployed', async () => {
    const s = sim.snapshot();
    assert.equal(components(s, { image: DOG_V2, id: 'updateapp-dog_fetcher' }), 5, 'dog-fetcher 0.1.1');
    assert.equal(components(s, { image: DOG_V1 }), 0, 'no dog-fetcher 0.1.0 left');
    assert.equal(components(s, { image: ECHO, id: 'updateapp-echo_messaging' }), 1, 'echo-messaging');
    assert.equal(components(s, { image: HELLO, id: 'http_hello_world' }), 3, 'hello');
    assert.equal(components(s, { id: 'updateapp-kvcounter' }), 0, 'kvcounter removed');
    assert.deepEqual(providers(s, HTTP_NEW).map((p) => [p.id, p.app]), [['http_server', APP]], 'http-server 0.23.0 exactly 1');
    assert.deepEqual(providers(s, HTTP_OLD), [], 'no http-server 0.20.1 left');
    assert.deepEqual(providers(s, REDIS), [], 'keyvalue-redis removed');
    assert.deepEqual(sortLinks(s.links), sortLinks([HELLO_LINK(), DOG_LINK()]), 'the hello and dog links, no kvcounter → redis link');
    assert.deepEqual(s.configs['updateapp-hello_world_address'], { address: '0.0.0.0:8082' }, 'the link config was updated in place');
    assert.deepEqual(s.configs['updateapp-dog_fetcher_address'], { address: '0.0.0.0:8081' });
    assert.equal(s.configs['updateapp-kvconfig'], undefined, 'the removed link config is deleted');
    assert.equal(await statusType(), 'deployed');
  });
  const versions = await api.versions(APP);
  assert.deepEqual(versions['versions'], [
    { version: v1, deployed: false },
    { version: v2, deployed: true },
  ]);
});

test('phase 3: upgradedapp2 puts the hello address back and restarts the http server with its new config', async () => {
  const put = await api.put(fixture('upgradedapp2.yaml'));
  assert.equal(put['result'], 'newversion', JSON.stringify(put));
  const v3 = put['current_version'] as string;
  assert.equal(await deployExpectingReconciling(), v3, 'no version: the latest is deployed');
  await eventually('v3 deployed', async () => {
    const s = sim.snapshot();
    assert.equal(components(s, { image: DOG_V2 }), 5, 'dog-fetcher 0.1.1');
    assert.equal(components(s, { image: ECHO }), 1, 'echo-messaging');
    assert.equal(components(s, { image: HELLO }), 3, 'hello');
    assert.equal(components(s, { image: KVCOUNTER }), 0, 'kvcounter');
    assert.deepEqual(providers(s, HTTP_NEW).map((p) => [p.id, p.app, p.config]), [['http_server', APP, ['updateapp-http_config']]], 'http-server exactly 1, running with its config');
    assert.deepEqual(providers(s, REDIS), [], 'no redis');
    assert.deepEqual(s.configs['updateapp-http_config'], { number: '1' });
    assert.deepEqual(s.configs['updateapp-hello_world_address'], { address: '0.0.0.0:8080' });
    assert.deepEqual(s.configs['updateapp-dog_fetcher_address'], { address: '0.0.0.0:8081' });
    assert.deepEqual(sortLinks(s.links), sortLinks([HELLO_LINK(), DOG_LINK()]), 'no kvcounter → redis link');
    assert.equal(await statusType(), 'deployed');
  });
});

test('disabled phase: another app reusing the deployed id http_server cannot be deployed; one http-server remains', async () => {
  const put = await api.put(fixture('upgradedapp3.yaml'));
  assert.equal(put['result'], 'created', JSON.stringify(put));
  const dep = await api.deploy('dontupdateapp');
  assert.equal(dep['result'], 'error', JSON.stringify(dep));
  assert.equal(dep['message'], "Component identifier 'http_server' is already deployed in a different application 'updateapp'.");
  await settle();
  const s = sim.snapshot();
  assert.deepEqual(providers(s, HTTP_NEW).map((p) => [p.id, p.app]), [['http_server', APP]], 'exactly one http-server, still updateapp\'s');
  assert.equal(await statusType(), 'deployed');
});

test('undeploy removes every component, provider, link and managed config of the app', async () => {
  const un = await api.undeploy(APP);
  assert.equal(un['result'], 'acknowledged', JSON.stringify(un));
  await eventually('updateapp cleaned up', async () => {
    const s = sim.snapshot();
    assert.deepEqual(s.hosts.flatMap((h) => h.components.map((c) => c.id)), [], 'no components');
    assert.deepEqual(s.hosts.flatMap((h) => h.providers.map((p) => p.id)), [], 'no providers');
    assert.deepEqual(s.links, [], 'no links');
    assert.deepEqual(s.configs, {}, 'no managed configs');
    assert.equal(await statusType(), 'undeployed');
  });
});
