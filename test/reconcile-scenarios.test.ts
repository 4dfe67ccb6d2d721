/**
 * The Rust wadm's `e2e_multiple_hosts` suite (docs/wire/scenarios.md §1) against 3 wadm-ts replicas and 5
 * simulated hosts (2 × region=us-brooks-east, 2 × us-taylor-west, 1 × moon). Every assertion is on the
 * simulator's ground truth (what the hosts actually run, the links and configs they hold) plus the
 * app's status. Unlike the Rust wadm, a spread's instances are balanced over its eligible hosts with the
 * exact total, so totals, per-host balance and "nothing on an ineligible host" are all asserted.
 * The host-stop scenario stops the east host that really runs the instances (the Rust test may stop an
 * idle one), and a silent host death (docs/wire/scenarios.md §6, item 4) is rescheduled after the cleanup interval.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { LatticeSnapshot, Link, SimulatedLattice } from '@wadm-ts/simulator';
import { readLatticeSnapshot } from '@wadm-ts/store';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { FIXTURES_DIR, RawApi } from './harness/api.js';
import { ctl, simLattice, link, sortLinks } from './harness/lattice.js';
import { eventually, settle as settleOf } from './harness/cluster.js';

const LATTICE = 'default';
const HEARTBEAT_MS = 750;
const CLEANUP_S = 3;
const EAST = 'us-brooks-east';
const WEST = 'us-taylor-west';
const MOON = 'moon';
const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const BLOBBY = 'ghcr.io/wasmcloud/components/blobby-rust:0.4.0';
const HTTP_SERVER = 'ghcr.io/wasmcloud/http-server:0.23.0';
const BLOBSTORE_FS = 'ghcr.io/wasmcloud/blobstore-fs:0.6.0';

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
let sim: SimulatedLattice;
let api: RawApi;

const settle = (passes = 3): Promise<void> => settleOf(replicas, passes);

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(3, nats.url, { cleanupIntervalS: CLEANUP_S, resyncIntervalMs: 1000, signalIntervalMs: 50 });
  sim = await simLattice(nats.url, LATTICE, 0, HEARTBEAT_MS);
  for (const region of [EAST, EAST, WEST, WEST, MOON]) await sim.addHost({ labels: { region } });
  api = new RawApi(nc, LATTICE);
  // Start gate (the Rust harness waits for get_hosts() == 5): wadm knows all five hosts.
  await waitFor(async () => (await readLatticeSnapshot(replicas[0]!.state, { lattice: LATTICE })).hosts.length === 5, 15_000, 'wadm to know the 5 hosts');
});

after(async () => {
  await sim?.close({ graceful: false });
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nats?.stop();
});

// ---------- helpers (ground truth) ----------

const fixture = (file: string): string => readFileSync(join(FIXTURES_DIR, 'scenarios', file), 'utf8');

/** Put the fixture and deploy its latest version; returns the version. */
async function deploy(file: string): Promise<string> {
  const put = await api.put(fixture(file));
  assert.ok(put['result'] === 'created' || put['result'] === 'newversion', `put ${file}: ${JSON.stringify(put)}`);
  const dep = await api.deploy(put['name'] as string);
  assert.equal(dep['result'], 'acknowledged', `deploy ${file}: ${JSON.stringify(dep)}`);
  return put['current_version'] as string;
}

const managedBy = (a: Record<string, string>, app: string): boolean => a['wasmcloud.dev/appspec'] === app && a['wasmcloud.dev/managed-by'] === 'wadm';

/** max_instances of the app's components per host (hosts running none are absent). */
function componentCounts(s: LatticeSnapshot, app: string, image?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of s.hosts) {
    for (const c of h.components) {
      if (!managedBy(c.annotations, app) || (image !== undefined && c.imageRef !== image)) continue;
      out.set(h.id, (out.get(h.id) ?? 0) + c.count);
    }
  }
  return out;
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** Ids of the hosts with the given region label, sorted. */
const region = (s: LatticeSnapshot, r: string): string[] => s.hosts.filter((h) => h.labels['region'] === r).map((h) => h.id).sort();

/** Nothing outside `hosts` (the union of the eligible hosts of every spread). */
function assertOnlyOn(counts: Map<string, number>, hosts: readonly string[], what: string): void {
  const outside = [...counts].filter(([h, n]) => n > 0 && !hosts.includes(h));
  assert.deepEqual(outside, [], `${what}: instances on ineligible hosts`);
}

/** Exactly `total` over `hosts`, balanced (per-host counts differ by at most 1), nothing elsewhere. */
function assertPlaced(counts: Map<string, number>, hosts: readonly string[], total: number, what: string): void {
  assertOnlyOn(counts, hosts, what);
  assertSpread(counts, hosts, total, what);
}

/** One spread of several: exactly `total` over its `hosts`, balanced. */
function assertSpread(counts: Map<string, number>, hosts: readonly string[], total: number, what: string): void {
  const per = hosts.map((h) => counts.get(h) ?? 0);
  assert.equal(per.reduce((a, b) => a + b, 0), total, `${what}: total over eligible hosts (per host ${JSON.stringify(per)})`);
  assert.ok(Math.max(...per) - Math.min(...per) <= 1, `${what}: balanced over ${hosts.length} eligible hosts, got ${JSON.stringify(per)}`);
}

/** Host ids running a provider of the app (optionally of one id / image), sorted; one entry per host. */
function providerHosts(s: LatticeSnapshot, app: string, filter: { id?: string; image?: string } = {}): string[] {
  return s.hosts
    .flatMap((h) => h.providers.filter((p) => managedBy(p.annotations, app) && (filter.id === undefined || p.id === filter.id) && (filter.image === undefined || p.imageRef === filter.image)).map(() => h.id))
    .sort();
}

/** Every provider with that image, whoever started it. */
const allProviders = (s: LatticeSnapshot, image: string): number => s.hosts.reduce((n, h) => n + h.providers.filter((p) => p.imageRef === image).length, 0);


/** The links touching any of these ids, with all fields, sorted. */
function linksOf(s: LatticeSnapshot, ids: readonly string[]): Link[] {
  return sortLinks(
    s.links
      .filter((l) => ids.includes(l.source_id) || ids.includes(l.target))
      .map((l) => ({ source_id: l.source_id, target: l.target, name: l.name, wit_namespace: l.wit_namespace, wit_package: l.wit_package, interfaces: l.interfaces, source_config: l.source_config, target_config: l.target_config })),
  );
}


async function statusType(app: string): Promise<string> {
  const r = await api.status(app);
  return String(r['status']?.['status']?.['type']);
}




// ---------- scenarios ----------

test('§1.1 no requirements: hello-simple runs 4 balanced instances, 1 provider, its link and config; undeploy removes all of it, one command each', async () => {
  sim.resetCommandCounts();
  await deploy('simple.yaml');
  await eventually('hello-simple deployed', async () => {
    const s = sim.snapshot();
    assert.deepEqual(s.configs['hello_simple-httpaddr'], { address: '0.0.0.0:8080' });
    assertPlaced(componentCounts(s, 'hello-simple', HELLO), s.hosts.map((h) => h.id), 4, 'hello');
    assert.equal(providerHosts(s, 'hello-simple', { id: 'http_server', image: HTTP_SERVER }).length, 1, 'exactly one managed http-server');
    assert.equal(allProviders(s, HTTP_SERVER), 1, 'no other http-server in the lattice');
    assert.deepEqual(linksOf(s, ['http_server', 'http_hello_world']), [
      link('http_server', 'http_hello_world', 'wasi', 'http', ['incoming-handler'], ['hello_simple-httpaddr']),
    ]);
    assert.equal(await statusType('hello-simple'), 'deployed');
  });
  // Three replicas, one lattice: every control command was sent exactly once (docs/wire/scenarios.md §6, item 1).
  await settle();
  const deployed = sim.commandsReceived();
  assert.equal(deployed['component.scale'], 4, `one scale per host that runs an instance: ${JSON.stringify(deployed)}`);
  assert.equal(deployed['provider.start'], 1, `one provider start: ${JSON.stringify(deployed)}`);
  assert.equal(deployed['link.put'], 1, `one link put: ${JSON.stringify(deployed)}`);
  assert.equal(deployed['config.put'], 1, `one config put: ${JSON.stringify(deployed)}`);

  sim.resetCommandCounts();
  const un = await api.undeploy('hello-simple');
  assert.equal(un['result'], 'acknowledged', JSON.stringify(un));
  await eventually('hello-simple undeployed and cleaned up', async () => {
    const s = sim.snapshot();
    assert.equal(sum(componentCounts(s, 'hello-simple')), 0, 'no hello-simple components');
    assert.deepEqual(providerHosts(s, 'hello-simple'), [], 'no hello-simple providers');
    assert.equal(allProviders(s, HTTP_SERVER), 0, 'no http-server at all');
    assert.deepEqual(s.links, [], 'get_links() is empty');
    assert.equal(s.configs['hello_simple-httpaddr'], undefined, 'the managed config is deleted');
    assert.equal(await statusType('hello-simple'), 'undeployed');
  });
  // One cleanup batch in total, not one per replica (docs/wire/scenarios.md §6, item 3).
  await settle();
  const cleaned = sim.commandsReceived();
  assert.equal(cleaned['component.scale'], 4, `one scale-to-0 per host that ran it: ${JSON.stringify(cleaned)}`);
  assert.equal(cleaned['provider.stop'], 1, `one provider stop: ${JSON.stringify(cleaned)}`);
  assert.equal(cleaned['link.del'], 1, `one link delete: ${JSON.stringify(cleaned)}`);
  assert.equal(cleaned['config.del'], 1, `one config delete: ${JSON.stringify(cleaned)}`);
  assert.equal(cleaned['provider.start'] + cleaned['link.put'] + cleaned['config.put'], 0, `nothing re-created: ${JSON.stringify(cleaned)}`);
  assert.equal(await statusType('hello-simple'), 'undeployed', 'still undeployed');
});

describe('three apps deployed concurrently', { concurrency: true }, () => {
  test('§1.2 spread over all hosts: 2 east / 2 west / 1 moon instances and a provider on every host', async () => {
    await deploy('all_hosts.yaml');
    await eventually('hello-all-hosts deployed', async () => {
      const s = sim.snapshot();
      const counts = componentCounts(s, 'hello-all-hosts', HELLO);
      assert.equal(sum(counts), 5);
      assertSpread(counts, region(s, EAST), 2, 'eastcoast');
      assertSpread(counts, region(s, WEST), 2, 'westcoast');
      assertSpread(counts, region(s, MOON), 1, 'the-moon');
      assert.deepEqual(providerHosts(s, 'hello-all-hosts', { id: 'hello_all_hosts-httpserver', image: HTTP_SERVER }), s.hosts.map((h) => h.id).sort(), 'one provider on each of the 5 hosts');
      assert.deepEqual(linksOf(s, ['hello_all_hosts-httpserver', 'hello_all_hosts-hello']), [
        link('hello_all_hosts-httpserver', 'hello_all_hosts-hello', 'wasi', 'http', ['incoming-handler']),
      ]);
      assert.equal(await statusType('hello-all-hosts'), 'deployed');
    });
  });

  test('§1.3 lotta components: 9001 instances balanced over the 5 hosts, exact total', async () => {
    await deploy('lotta_components.yaml');
    await eventually('lotta-components deployed', async () => {
      const s = sim.snapshot();
      assertPlaced(componentCounts(s, 'lotta-components', HELLO), s.hosts.map((h) => h.id), 9001, 'hello');
      assert.equal(providerHosts(s, 'lotta-components', { id: 'lotta_components-httpserver', image: HTTP_SERVER }).length, 1);
      assert.deepEqual(s.configs['lotta_components-httpaddr'], { address: '0.0.0.0:8080' });
      assert.deepEqual(linksOf(s, ['lotta_components-httpserver', 'lotta_components-hello']), [
        link('lotta_components-httpserver', 'lotta_components-hello', 'wasi', 'http', ['incoming-handler'], ['lotta_components-httpaddr']),
      ]);
      assert.equal(await statusType('lotta-components'), 'deployed');
    });
  });

  test('§1.4 complex app: managed and external configs, link configs, every piece only in its regions', async () => {
    const put = await api.put(fixture('complex.yaml'));
    assert.equal(put['result'], 'created', JSON.stringify(put));
    // The external config (no properties in the manifest) must exist before deploy; the test writes it over ctl.
    const cfg = await ctl(nc, LATTICE, 'config.put.blobby-default-configuration-values', { littleblobby: 'tables' });
    assert.ok(cfg.success, cfg.message);
    const dep = await api.deploy('complex');
    assert.equal(dep['result'], 'acknowledged', JSON.stringify(dep));
    await eventually('complex deployed', async () => {
      const s = sim.snapshot();
      assert.deepEqual(s.configs['complex-defaultcode'], { http: '404' });
      assert.deepEqual(s.configs['complex-rootfs'], { root: '/tmp' });
      assert.deepEqual(s.configs['complex-httpaddr'], { address: '0.0.0.0:8081' });
      assert.deepEqual(s.configs['complex-defaultfs'], { root: '/tmp/blobby' });
      assert.deepEqual(s.configs['blobby-default-configuration-values'], { littleblobby: 'tables' }, 'the external config is left alone');

      const blobby = componentCounts(s, 'complex', BLOBBY);
      assert.equal(sum(blobby), 5);
      assertOnlyOn(blobby, [...region(s, EAST), ...region(s, WEST)], 'blobby');
      assertSpread(blobby, region(s, EAST), 3, 'blobby eastcoast');
      assertSpread(blobby, region(s, WEST), 2, 'blobby westcoast');
      assert.equal(blobby.get(region(s, MOON)[0]!) ?? 0, 0, 'no littleblobbytables on the moon');
      for (const h of s.hosts) {
        for (const c of h.components.filter((x) => x.id === 'littleblobbytables')) {
          assert.deepEqual([...c.config].sort(), ['blobby-default-configuration-values', 'complex-defaultcode'], 'blobby runs with both configs');
        }
      }

      assert.deepEqual(providerHosts(s, 'complex', { id: 'http_server', image: HTTP_SERVER }), [...region(s, WEST), ...region(s, MOON)].sort(), 'http_server on both west hosts and the moon');
      assert.deepEqual(providerHosts(s, 'complex', { id: 'fileserver', image: BLOBSTORE_FS }), region(s, MOON), 'exactly one fileserver, on the moon');
      assert.equal(s.hosts.reduce((n, h) => n + h.providers.filter((p) => p.imageRef === BLOBSTORE_FS).length, 0), 1, 'blobstore-fs exactly 1');
      for (const h of s.hosts.filter((x) => x.labels['region'] === EAST || x.labels['region'] === WEST)) {
        assert.ok(!h.providers.some((p) => p.id === 'fileserver'), `no fileserver on ${h.labels['region']} host ${h.id}`);
      }
      const fs = s.hosts.flatMap((h) => h.providers.filter((p) => p.id === 'fileserver'));
      assert.deepEqual(fs.map((p) => p.config), [['complex-defaultfs']], 'the fileserver runs with its config');

      assert.deepEqual(
        linksOf(s, ['http_server', 'littleblobbytables', 'fileserver']),
        sortLinks([
          link('http_server', 'littleblobbytables', 'wasi', 'http', ['incoming-handler'], ['complex-httpaddr']),
          link('littleblobbytables', 'fileserver', 'wasi', 'blobstore', ['blobstore'], [], ['complex-rootfs']),
        ]),
      );
      assert.equal(await statusType('complex'), 'deployed');
    });
  });
});

test('§1.5 host stop: the east host running the most instances stops cleanly; the total is restored on the other east host before any cleanup interval', async () => {
  await deploy('host_stop.yaml');
  let east: string[] = [];
  await eventually('host-stop deployed', async () => {
    const s = sim.snapshot();
    east = region(s, EAST);
    assertPlaced(componentCounts(s, 'host-stop', HELLO), east, 5, 'eastcoast');
    assert.equal(await statusType('host-stop'), 'deployed');
  });
  const before = componentCounts(sim.snapshot(), 'host-stop', HELLO);
  const victim = [...east].sort((a, b) => (before.get(b) ?? 0) - (before.get(a) ?? 0))[0]!;
  const survivor = east.find((h) => h !== victim)!;
  assert.ok((before.get(victim) ?? 0) >= 3, `the stopped host really runs instances: ${JSON.stringify([...before])}`);

  const t0 = Date.now();
  await sim.stopHost(victim);
  let restoredMs = -1;
  await eventually(
    'the 5 instances restored on the remaining east host',
    () => {
      const counts = componentCounts(sim.snapshot(), 'host-stop', HELLO);
      assert.deepEqual([...counts], [[survivor, 5]]);
      restoredMs = Date.now() - t0;
    },
    15_000,
  );
  console.log(`# host-stop: clean stop of ${victim.slice(0, 8)}… (${before.get(victim)} instances) → 5 instances on ${survivor.slice(0, 8)}… after ${restoredMs} ms`);
  // The host's last heartbeat was at most HEARTBEAT_MS before the stop, so the reaper could not have
  // expired it before CLEANUP_S − HEARTBEAT_MS: a faster restore came from host_stopped itself.
  assert.ok(restoredMs < CLEANUP_S * 1000 - HEARTBEAT_MS, `rescheduled through host_stopped, not the cleanup interval (${restoredMs} ms)`);
  await eventually('host-stop deployed again', async () => assert.equal(await statusType('host-stop'), 'deployed'));
});

test('§6.4 a silently killed host is noticed after the cleanup interval and its instances move to another east host', async () => {
  const added = await sim.addHost({ labels: { region: EAST } });
  let counts = new Map<string, number>();
  await eventually('stable on the east coast with the new host', async () => {
    const s = sim.snapshot();
    counts = componentCounts(s, 'host-stop', HELLO);
    // Whether instances move to a newly arrived host is not what this test is about: only the total.
    assert.equal(sum(counts), 5, 'total');
    assert.deepEqual([...counts.keys()].filter((h) => !region(s, EAST).includes(h)), [], 'only east hosts');
    assert.equal(await statusType('host-stop'), 'deployed');
  });
  const east = region(sim.snapshot(), EAST);
  const victim = [...east].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0))[0]!;
  const survivor = east.find((h) => h !== victim)!;
  assert.ok(east.includes(added.id));

  const t0 = Date.now();
  sim.killHost(victim);
  let restoredMs = -1;
  await eventually(
    'the 5 instances restored after the silent death',
    () => {
      assert.deepEqual([...componentCounts(sim.snapshot(), 'host-stop', HELLO)], [[survivor, 5]]);
      restoredMs = Date.now() - t0;
    },
    CLEANUP_S * 1000 + 15_000,
  );
  console.log(`# host-kill: silent death of ${victim.slice(0, 8)}… → 5 instances on ${survivor.slice(0, 8)}… after ${restoredMs} ms (cleanup interval ${CLEANUP_S} s, heartbeat ${HEARTBEAT_MS} ms)`);
  assert.ok(restoredMs <= CLEANUP_S * 1000 + HEARTBEAT_MS + 5000, `rescheduled within the cleanup interval plus a few seconds (${restoredMs} ms)`);
  await eventually('host-stop deployed', async () => assert.equal(await statusType('host-stop'), 'deployed'));
});

test('undeploying every app leaves no managed component, provider, link or config behind', async () => {
  for (const app of ['hello-all-hosts', 'lotta-components', 'complex', 'host-stop']) {
    const r = await api.undeploy(app);
    assert.equal(r['result'], 'acknowledged', `${app}: ${JSON.stringify(r)}`);
  }
  await eventually('everything cleaned up', async () => {
    const s = sim.snapshot();
    const managed = s.hosts.flatMap((h) => [...h.components, ...h.providers].filter((x) => x.annotations['wasmcloud.dev/managed-by'] === 'wadm').map((x) => `${h.id} ${x.id}`));
    assert.deepEqual(managed, [], 'no managed components or providers');
    assert.deepEqual(s.links, []);
    assert.deepEqual(Object.keys(s.configs), ['blobby-default-configuration-values'], 'only the external config remains');
    for (const app of ['hello-all-hosts', 'lotta-components', 'complex', 'host-stop']) assert.equal(await statusType(app), 'undeployed', app);
  });
});
