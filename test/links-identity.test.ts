/**
 * Link identity as the host has it: (source, target, namespace, package, name). A `link.put` replaces
 * the link with those five fields or appends one, so two manifest links that differ only in their
 * interfaces (wadm's correct_unique_interface_links.yaml: one component, one provider, name `default`,
 * wasi:keyvalue, `atomics` vs `store`) would replace each other on the host, and a planner keying links
 * without the target put them again on every pass, forever. wadm-ts merges them into one link with both
 * interfaces; links to different targets on disjoint interfaces coexist. At rest, with a pass every
 * second, no `link.put` goes out for 30 s.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Subscription } from '@nats-io/transport-node';
import { SimulatedLattice } from '@wadm-ts/simulator';
import { createLogger } from '@wadm-ts/obs';
import { silent } from './harness/replicas.js';
import { waitFor } from './harness/nats.js';
import { eventually } from './harness/cluster.js';
import { ctl } from './harness/lattice.js';
import { diagnose, fleetMetric, withFleet } from './harness/procs.js';
import { PatientApi } from './harness/runtime.js';

const LATTICE = 'linkident';
const AT_REST_MS = 30_000;
const MIN_PASSES_AT_REST = 20;

const fx = withFleet({ args: ['--stream-persistence', 'memory', '--resync-interval-ms', '1000'] });
let sim: SimulatedLattice;

before(async () => {
  await fx.started;
  sim = fx.track(new SimulatedLattice({
    servers: await fx.nats.connect(),
    lattice: LATTICE,
    heartbeatIntervalMs: 1000,
    fetchDelayMs: 10,
    logger: createLogger({ replica: 'simulator', level: 'silent', destination: silent }),
  }));
  await sim.ready();
  for (let i = 0; i < 2; i++) await sim.addHost();
});

const kvLink = (target: string, interfaces: string[]) => ({
  type: 'link',
  properties: { namespace: 'wasi', package: 'keyvalue', interfaces, target: { name: target } },
});
const provider = (name: string) => ({ name, type: 'capability', properties: { image: `reg/${name}:1` }, traits: [{ type: 'spreadscaler', properties: { instances: 1 } }] });
const manifest = (name: string, links: ReturnType<typeof kvLink>[], providers: string[]): string =>
  JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, annotations: { version: 'v1' } },
    spec: {
      components: [
        { name: 'comp', type: 'component', properties: { image: `reg/${name}-comp:1` }, traits: [{ type: 'spreadscaler', properties: { instances: 1 } }, ...links] },
        ...providers.map(provider),
      ],
    },
  });

/** What the hosts hold for links from `source`: [target, sorted interfaces], sorted by target. */
function heldFrom(links: ReadonlyArray<{ source_id: string; target: string; interfaces: string[] }>, source: string): Array<[string, string[]]> {
  return links
    .filter((l) => l.source_id === source)
    .map((l): [string, string[]] => [l.target, [...l.interfaces].sort()])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

test('links differing only in interfaces are one link on the host; links to other targets coexist; nothing is put again at rest', async () => {
  const api = new PatientApi(fx.nc, LATTICE, 2000, 60_000);
  const replicas = [fx.fleet.spawn('links-0'), fx.fleet.spawn('links-1')];
  await fx.fleet.ready(replicas);

  const puts: string[] = [];
  const sub: Subscription = fx.nc.subscribe(`wasmbus.ctl.v1.${LATTICE}.link.put`, { callback: (_e, m) => void puts.push(m.string()) });
  try {
    // wadm's correct_unique_interface_links.yaml: same source, target, namespace, package and name.
    await api.put(manifest('diffifaces', [kvLink('kv', ['atomics']), kvLink('kv', ['store'])], ['kv']));
    await api.deploy('diffifaces');
    // Two targets, disjoint interfaces, same name.
    await api.put(manifest('twotargets', [kvLink('kv1', ['atomics']), kvLink('kv2', ['store'])], ['kv1', 'kv2']));
    await api.deploy('twotargets');

    const expected = {
      'diffifaces-comp': [['diffifaces-kv', ['atomics', 'store']]],
      'twotargets-comp': [
        ['twotargets-kv1', ['atomics']],
        ['twotargets-kv2', ['store']],
      ],
    };
    const held = () => ({ 'diffifaces-comp': heldFrom(sim.snapshot().links, 'diffifaces-comp'), 'twotargets-comp': heldFrom(sim.snapshot().links, 'twotargets-comp') });
    await eventually('the hosts hold one merged link and the two links to different targets', () => assert.deepEqual(held(), expected), 60_000);
    for (const app of ['diffifaces', 'twotargets']) {
      await eventually(
        `${app} deployed`,
        async () => {
          const r = (await api.call('status', app)).reply;
          assert.equal((r['status'] as { status: { type: string } }).status.type, 'deployed', JSON.stringify(r));
        },
        60_000,
      );
    }

    // At rest: a pass every second, and not one link.put.
    const before = puts.length;
    const passesBefore = await fleetMetric(replicas, 'wadm_reconciles_total');
    const t0 = Date.now();
    await waitFor(
      async () => Date.now() - t0 >= AT_REST_MS && (await fleetMetric(replicas, 'wadm_reconciles_total')) >= passesBefore + MIN_PASSES_AT_REST,
      AT_REST_MS + 60_000,
      `${AT_REST_MS} ms and ${MIN_PASSES_AT_REST} passes at rest`,
    );
    assert.deepEqual(puts.slice(before), [], `no link.put at rest\n${await diagnose(replicas)}`);

    // What a real host would hold, asked on the wire too.
    assert.deepEqual(held(), expected);
    const get = await ctl(fx.nc, LATTICE, 'link.get');
    assert.equal(get.success, true);
    const onWire = get.response as Array<{ source_id: string; target: string; interfaces: string[] }>;
    assert.deepEqual({ 'diffifaces-comp': heldFrom(onWire, 'diffifaces-comp'), 'twotargets-comp': heldFrom(onWire, 'twotargets-comp') }, expected);
  } finally {
    sub.unsubscribe();
  }
});
