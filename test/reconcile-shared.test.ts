/**
 * The Rust wadm's `e2e_shared` suite (docs/wire/scenarios.md §3) against 3 wadm-ts replicas: shared providers
 * (lattice shared_providers, 2 hosts), shared components (shared_components, 2 hosts), and the invalid
 * references (shared_invalid, no hosts), run concurrently. Ground truth is the simulator's; references to
 * a shared app start nothing new, only links (with configs named after the referencing app). Beyond the
 * Rust suite (its TODO #451, docs/wire/README.md rule): a shared app in use cannot be undeployed or deleted, and
 * undeploying the dependent app removes only what it owns.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { LatticeSnapshot, SimulatedLattice } from '@wadm-ts/simulator';
import { readLatticeSnapshot } from '@wadm-ts/store';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { FIXTURES_DIR, RawApi } from './harness/api.js';
import { simLattice, link, sortLinks } from './harness/lattice.js';
import { eventually, settle as settleOf } from './harness/cluster.js';

const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const HTTP_SERVER = 'ghcr.io/wasmcloud/http-server:0.23.0';
const HTTP_CLIENT = 'ghcr.io/wasmcloud/http-client:0.12.0';

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
const sims = new Map<string, SimulatedLattice>();

const settle = (passes = 3): Promise<void> => settleOf(replicas, passes);

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(3, nats.url, { cleanupIntervalS: 2, resyncIntervalMs: 1000, signalIntervalMs: 50 });
  for (const lattice of ['shared_providers', 'shared_components']) {
    sims.set(lattice, await simLattice(nats.url, lattice, 2, 750));
    await waitFor(async () => (await readLatticeSnapshot(replicas[0]!.state, { lattice })).hosts.length === 2, 15_000, `wadm to know the 2 hosts of ${lattice}`);
  }
});

after(async () => {
  await Promise.all([...sims.values()].map((s) => s.close({ graceful: false })));
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nats?.stop();
});

// ---------- helpers (ground truth) ----------

const fixture = (file: string): string => readFileSync(join(FIXTURES_DIR, 'scenarios', file), 'utf8');

const managedBy = (a: Record<string, string>, app: string): boolean => a['wasmcloud.dev/appspec'] === app && a['wasmcloud.dev/managed-by'] === 'wadm';

/** max_instances of the app's components per host. */
function componentCounts(s: LatticeSnapshot, app: string, image?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of s.hosts) {
    for (const c of h.components) {
      if (managedBy(c.annotations, app) && (image === undefined || c.imageRef === image)) out.set(h.id, (out.get(h.id) ?? 0) + c.count);
    }
  }
  return out;
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** `total` balanced over all hosts of the lattice. */
function assertBalanced(s: LatticeSnapshot, counts: Map<string, number>, total: number, what: string): void {
  const per = s.hosts.map((h) => counts.get(h.id) ?? 0);
  assert.equal(sum(counts), total, `${what}: total (per host ${JSON.stringify(per)})`);
  assert.ok(Math.max(...per) - Math.min(...per) <= 1, `${what}: balanced, got ${JSON.stringify(per)}`);
}

/** Every provider with that image, whoever started it: `[id, appspec]`. */
const providers = (s: LatticeSnapshot, image: string): Array<[string, string | undefined]> =>
  s.hosts.flatMap((h) => h.providers.filter((p) => p.imageRef === image).map((p): [string, string | undefined] => [p.id, p.annotations['wasmcloud.dev/managed-by'] === 'wadm' ? p.annotations['wasmcloud.dev/appspec'] : undefined]));



async function statusType(api: RawApi, app: string): Promise<string> {
  const r = await api.status(app);
  return String(r['status']?.['status']?.['type']);
}



/** Wait for a few more reconcile passes (resync runs every second), so that a wrong action would have happened. */

async function putAndDeploy(api: RawApi, file: string): Promise<string> {
  const put = await api.put(fixture(file));
  assert.equal(put['result'], 'created', `put ${file}: ${JSON.stringify(put)}`);
  const dep = await api.deploy(put['name'] as string);
  assert.equal(dep['result'], 'acknowledged', `deploy ${file}: ${JSON.stringify(dep)}`);
  return put['name'] as string;
}

const missingShared = 'Application contains shared components that are not deployed in other applications: ["httpserver"]';

// ---------- scenarios ----------

describe('shared applications (three lattices at once)', { concurrency: true }, () => {
  test('§3.1 shared providers: references start nothing new, only links; a shared app in use is protected', async () => {
    const api = new RawApi(nc, 'shared_providers');
    const sim = sims.get('shared_providers')!;
    await putAndDeploy(api, 'shared_http.yaml');
    await eventually('shared-http deployed', async () => {
      const s = sim.snapshot();
      assert.deepEqual(providers(s, HTTP_SERVER), [['shared_http-httpserver', 'shared-http']], 'http-server exactly 1');
      assert.deepEqual(providers(s, HTTP_CLIENT), [['shared_http-httpclient', 'shared-http']], 'http-client exactly 1');
      assert.deepEqual(s.links, [], 'no links');
      assert.equal(await statusType(api, 'shared-http'), 'deployed');
    });

    await putAndDeploy(api, 'shared_http_dev.yaml');
    await eventually('shared-http-dev deployed', async () => {
      const s = sim.snapshot();
      assert.deepEqual(s.configs['shared_http_dev-httpaddr'], { address: '0.0.0.0:8080' }, 'the config is named after the referencing app');
      assert.deepEqual(providers(s, HTTP_SERVER), [['shared_http-httpserver', 'shared-http']], 'still exactly 1 http-server');
      assert.deepEqual(providers(s, HTTP_CLIENT), [['shared_http-httpclient', 'shared-http']], 'still exactly 1 http-client');
      assertBalanced(s, componentCounts(s, 'shared-http-dev', HELLO), 12, 'hello');
      assert.deepEqual(
        sortLinks(s.links),
        sortLinks([
          link('shared_http-httpserver', 'shared_http_dev-hello', 'wasi', 'http', ['incoming-handler'], ['shared_http_dev-httpaddr']),
          link('shared_http_dev-hello', 'shared_http-httpclient', 'wasi', 'http', ['outgoing-handler']),
        ]),
        'exactly 2 links',
      );
      assert.equal(await statusType(api, 'shared-http'), 'deployed');
      assert.equal(await statusType(api, 'shared-http-dev'), 'deployed');
    });

    // TODO #451 of the Rust suite, a documented difference of ours: a shared app in use keeps its deployment.
    const un = await api.undeploy('shared-http');
    assert.equal(un['result'], 'error', JSON.stringify(un));
    assert.match(String(un['message']), /shared-http-dev/, 'the error names the dependent app');
    const del = await api.del('shared-http');
    assert.equal(del['result'], 'error', JSON.stringify(del));
    assert.match(String(del['message']), /shared-http-dev/);
    await settle();
    let s = sim.snapshot();
    assert.deepEqual(providers(s, HTTP_SERVER), [['shared_http-httpserver', 'shared-http']], 'the refused undeploy stopped nothing');
    assert.deepEqual(providers(s, HTTP_CLIENT), [['shared_http-httpclient', 'shared-http']]);
    assert.equal(s.links.length, 2);
    assert.equal(await statusType(api, 'shared-http'), 'deployed');

    // Once the dependent app is gone, only what it owned goes with it; then the shared app may go.
    assert.equal((await api.undeploy('shared-http-dev'))['result'], 'acknowledged');
    await eventually('shared-http-dev cleaned up, shared-http untouched', async () => {
      s = sim.snapshot();
      assert.equal(sum(componentCounts(s, 'shared-http-dev')), 0, 'no hello');
      assert.deepEqual(s.links, [], 'its links are deleted');
      assert.equal(s.configs['shared_http_dev-httpaddr'], undefined, 'its config is deleted');
      assert.deepEqual(providers(s, HTTP_SERVER), [['shared_http-httpserver', 'shared-http']]);
      assert.deepEqual(providers(s, HTTP_CLIENT), [['shared_http-httpclient', 'shared-http']]);
      assert.equal(await statusType(api, 'shared-http-dev'), 'undeployed');
      assert.equal(await statusType(api, 'shared-http'), 'deployed');
    });
    assert.equal((await api.undeploy('shared-http'))['result'], 'acknowledged');
    await eventually('shared-http cleaned up', async () => {
      s = sim.snapshot();
      assert.deepEqual(providers(s, HTTP_SERVER), []);
      assert.deepEqual(providers(s, HTTP_CLIENT), []);
      assert.equal(await statusType(api, 'shared-http'), 'undeployed');
    });
  });

  test('§3.2 shared components: links in both directions with a shared component, target config named after the referencing app', async () => {
    const api = new RawApi(nc, 'shared_components');
    const sim = sims.get('shared_components')!;
    await putAndDeploy(api, 'shared_component.yaml');
    await eventually('shared-component deployed', async () => {
      const s = sim.snapshot();
      assert.deepEqual(s.configs['shared_component-defaults'], { left: 'right' });
      const counts = componentCounts(s, 'shared-component', HELLO);
      assert.equal(sum(counts), 1, 'link-to-meee: 1 instance');
      const c = s.hosts.flatMap((h) => h.components.filter((x) => x.id === 'shared_component-link_to_meee'));
      assert.deepEqual(c.map((x) => x.config), [['shared_component-defaults']], 'runs with its config');
      assert.deepEqual(s.links, [], 'no links');
      assert.equal(await statusType(api, 'shared-component'), 'deployed');
    });

    await putAndDeploy(api, 'shared_component_dev.yaml');
    await eventually('shared-component-dev deployed', async () => {
      const s = sim.snapshot();
      assert.deepEqual(providers(s, HTTP_SERVER), [['shared_component_dev-httpserver', 'shared-component-dev']], 'http-server exactly 1');
      assert.equal(sum(componentCounts(s, 'shared-component', HELLO)), 1, 'the shared component is unchanged: 1');
      assert.deepEqual(s.hosts.flatMap((h) => h.components.filter((x) => x.id === 'shared_component-link_to_meee').map((x) => x.count)), [1], 'and no second copy of it');
      assertBalanced(s, componentCounts(s, 'shared-component-dev', HELLO), 12, 'hello');
      assert.deepEqual(s.configs['shared_component_dev-someconfig'], { foo: 'bar' });
      assert.deepEqual(
        sortLinks(s.links),
        sortLinks([
          link('shared_component_dev-hello', 'shared_component-link_to_meee', 'custom', 'package', ['inter', 'face']),
          link('shared_component-link_to_meee', 'shared_component_dev-hello', 'custom', 'package', ['inter', 'face'], [], ['shared_component_dev-someconfig']),
          link('shared_component_dev-httpserver', 'shared_component-link_to_meee', 'wasi', 'http', ['incoming-handler']),
        ]),
        'exactly 3 links',
      );
      assert.equal(await statusType(api, 'shared-component'), 'deployed');
      assert.equal(await statusType(api, 'shared-component-dev'), 'deployed');
    });

    assert.equal((await api.undeploy('shared-component'))['result'], 'error', 'in use: refused');
    assert.equal((await api.undeploy('shared-component-dev'))['result'], 'acknowledged');
    await eventually('shared-component-dev cleaned up, shared-component untouched', async () => {
      const s = sim.snapshot();
      assert.equal(sum(componentCounts(s, 'shared-component-dev')), 0);
      assert.deepEqual(providers(s, HTTP_SERVER), []);
      assert.deepEqual(s.links, [], 'all 3 links belonged to shared-component-dev');
      assert.equal(s.configs['shared_component_dev-someconfig'], undefined);
      assert.deepEqual(s.configs['shared_component-defaults'], { left: 'right' });
      assert.equal(sum(componentCounts(s, 'shared-component', HELLO)), 1);
      assert.equal(await statusType(api, 'shared-component'), 'deployed');
      assert.equal(await statusType(api, 'shared-component-dev'), 'undeployed');
    });
  });

  test('§3.3 invalid shared references: malformed puts fail, unresolved references fail at deploy', async () => {
    const api = new RawApi(nc, 'shared_invalid');
    const both = await api.put(fixture('both_properties.yaml'));
    assert.equal(both['result'], 'error', JSON.stringify(both));
    assert.match(String(both['message']), /Component cannot have both 'image' and 'application' properties/);
    const none = await api.put(fixture('no_properties.yaml'));
    assert.equal(none['result'], 'error', JSON.stringify(none));
    assert.match(String(none['message']), /Component must have either 'image' or 'application' property/);

    for (const [file, name] of [
      ['no_matching_app.yaml', 'no-matching-app'],
      ['no_matching_component.yaml', 'no-matching-component'],
    ] as const) {
      const put = await api.put(fixture(file));
      assert.equal(put['result'], 'created', `put only warns: ${JSON.stringify(put)}`);
      assert.match(String(put['message']), /but some shared components are not deployed/, 'the put reply notes the missing shared component');
      const dep = await api.deploy(name);
      assert.equal(dep['result'], 'error', JSON.stringify(dep));
      assert.equal(dep['message'], missingShared);
    }

    await putAndDeploy(api, 'notshared_http.yaml');
    const put = await api.put(fixture('notshared_http_dev.yaml'));
    assert.equal(put['result'], 'created', JSON.stringify(put));
    const dep = await api.deploy('not-shared-http-dev');
    assert.equal(dep['result'], 'error', `not-shared-http is deployed but not shared: ${JSON.stringify(dep)}`);
    assert.equal(dep['message'], missingShared);

    for (const name of ['no-matching-app', 'no-matching-component', 'not-shared-http-dev']) {
      const v = await api.versions(name);
      assert.deepEqual(
        (v['versions'] as Array<{ deployed: boolean }>).map((x) => x.deployed),
        [false],
        `${name} stays undeployed`,
      );
    }
  });
});
