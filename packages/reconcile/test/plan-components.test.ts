import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planLattice, workloadScalerId } from '../src/plan/index.js';
import type { Command } from '../src/types.js';
import { appHeader, fiveHosts, HELLO, planInput } from './fixtures.js';
import { APPSPEC, componentState, deployed, host, MANAGED_BY, observedWith, SCALER, Sim, SPREAD } from './plan-sim.js';

/** An app `name` of one component `hello` scaled by `scaler`; `spreads` continues the scaler's properties. */
const helloApp = (scaler: 'spreadscaler' | 'daemonscaler', name: string, instances: number, spreads: string) => `${appHeader(name)}
    - name: hello
      type: component
      properties: { image: ${HELLO} }
      traits:
        - type: ${scaler}
          properties:
            instances: ${instances}
${spreads}`;
const spreadApp = (name: string, instances: number, spreads = '') => helloApp('spreadscaler', name, instances, spreads);

const ALL_HOSTS_SPREADS = `            spread:
              - { name: eastcoast, requirements: { region: us-brooks-east }, weight: 40 }
              - { name: westcoast, requirements: { region: us-taylor-west }, weight: 40 }
              - { name: the-moon, requirements: { region: moon }, weight: 20 }`;

const scaleCmds = (cmds: readonly Command[]) => cmds.filter((c): c is Extract<Command, { kind: 'ScaleComponent' }> => c.kind === 'ScaleComponent');
/** [host, count] of each ScaleComponent, in order. */
const scaleCounts = (cmds: readonly Command[]) => scaleCmds(cmds).map((c) => [c.host_id, c.count]);
const perHost = (sim: Sim, id: string) => Object.fromEntries(sim.observed.components.filter((c) => c.componentId === id).map((c) => [c.hostId, c.maxInstances]));

describe('component spreadscaler', () => {
  it('places a spread over all eligible hosts, balanced, with the exact total and ownership annotations', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(spreadApp('hello-simple', 4));
    const first = sim.plan();
    const cmds = scaleCmds(first.commands);
    // Four of the five (empty, equally loaded) hosts, one instance each, in host order.
    const placedOn = cmds.map((c) => c.host_id);
    assert.deepEqual(cmds.map((c) => c.count), [1, 1, 1, 1]);
    assert.deepEqual(placedOn, [...new Set(placedOn)].sort());
    assert.ok(placedOn.every((h) => ['e1', 'e2', 'w1', 'w2', 'm1'].includes(h)));
    const id = workloadScalerId('SpreadScaler', 'hello-simple', 'hello', 'hello_simple-hello', HELLO, []);
    for (const c of cmds) {
      assert.equal(c.component_id, 'hello_simple-hello');
      assert.equal(c.reference, HELLO);
      assert.equal(c.model_name, 'hello-simple');
      assert.deepEqual(c.annotations, { [APPSPEC]: 'hello-simple', [MANAGED_BY]: 'wadm', [SCALER]: id, [SPREAD]: 'default' });
      assert.deepEqual(c.config, []);
    }
    assert.equal(id.length, 64);
    const st = first.statuses['hello-simple']!;
    assert.deepEqual(st.status, { type: 'reconciling', message: 'Scaling component on 4 host(s)' });
    assert.deepEqual(st.scalers, [{ id, kind: 'SpreadScaler', name: 'hello_simple-hello', status: { type: 'reconciling', message: 'Scaling component on 4 host(s)' } }]);

    const { final, rounds } = sim.converge();
    assert.equal(rounds, 1);
    assert.equal(sim.componentSum(HELLO, 'hello-simple'), 4);
    assert.deepEqual(final.statuses['hello-simple']!.status, { type: 'deployed' });
  });

  it('spread weights 40/40/20 over east/west/moon (all_hosts.yaml): 2/2/1, one per host', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(spreadApp('hello-all-hosts', 5, ALL_HOSTS_SPREADS));
    sim.converge();
    assert.deepEqual(perHost(sim, 'hello_all_hosts-hello'), { e1: 1, e2: 1, w1: 1, w2: 1, m1: 1 });
    const spreads = Object.fromEntries(sim.observed.components.map((c) => [c.hostId, c.annotations[SPREAD]]));
    assert.deepEqual(spreads, { e1: 'eastcoast', e2: 'eastcoast', w1: 'westcoast', w2: 'westcoast', m1: 'the-moon' });
  });

  it('9001 instances (lotta_components.yaml): exact total spread over the hosts', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(spreadApp('lotta-components', 9001));
    sim.converge();
    assert.equal(sim.componentSum(HELLO, 'lotta-components'), 9001);
    assert.deepEqual(Object.values(perHost(sim, 'lotta_components-hello')).sort(), [1800, 1800, 1800, 1800, 1801]);
  });

  it('scales up and down in place (absolute counts), removing from hosts whose share becomes 0', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(spreadApp('app', 7));
    sim.converge();
    const seven = perHost(sim, 'app-hello');
    assert.deepEqual(Object.values(seven).sort(), [1, 1, 1, 2, 2]);
    const twos = Object.keys(seven).filter((h) => seven[h] === 2);
    const ones = Object.keys(seven).filter((h) => seven[h] === 1).sort();
    sim.deploy(spreadApp('app', 3), 'v2');
    const p = sim.plan();
    // Same scaler id (counts are not part of it): adjusted where it runs, nothing restarted. The hosts
    // that run more are kept first, then by id.
    const expected = [...twos.map((h) => [h, 1]), ...ones.slice(1).map((h) => [h, 0])].sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
    assert.deepEqual(scaleCounts(p.commands), expected);
    sim.converge();
    assert.deepEqual(perHost(sim, 'app-hello'), Object.fromEntries([...twos, ones[0]!].map((h) => [h, 1])));
  });

  it('rebalances onto the remaining eligible host when a host stops (host_stop.yaml)', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(spreadApp('host-stop', 5, `            spread:\n              - { name: eastcoast, requirements: { region: us-brooks-east }, weight: 100 }`));
    sim.converge();
    const before = perHost(sim, 'host_stop-hello');
    assert.deepEqual(Object.keys(before).sort(), ['e1', 'e2']);
    assert.deepEqual(Object.values(before).sort(), [2, 3]);
    // The east host that runs the most instances stops: the host and its instances leave the lattice.
    const [busiest, other] = before['e1'] === 3 ? ['e1', 'e2'] : ['e2', 'e1'];
    sim.observed = { ...sim.observed, hosts: sim.observed.hosts.filter((h) => h.id !== busiest), components: sim.observed.components.filter((c) => c.hostId !== busiest) };
    const { rounds } = sim.converge();
    assert.equal(rounds, 1);
    assert.deepEqual(perHost(sim, 'host_stop-hello'), { [other!]: 5 });
    assert.equal(sim.componentSum(HELLO, 'host-stop'), 5);
  });

  it('an unsatisfiable spread fails with wadm\'s message and issues nothing', () => {
    const sim = new Sim([host('h1', { region: 'earth' })]);
    sim.deploy(spreadApp('nomoon', 2, `            spread:\n              - { name: the-moon, requirements: { region: moon } }`));
    const p = sim.plan();
    assert.deepEqual(p.commands, []);
    assert.deepEqual(p.statuses['nomoon']!.status, { type: 'failed', message: `Could not satisfy spread the-moon for ${HELLO}, 0/1 eligible hosts found.` });
    // An empty lattice too.
    const empty = new Sim([]);
    empty.deploy(spreadApp('x', 1));
    assert.equal(empty.plan().statuses['x']!.status.type, 'failed');
  });

  it('removes its instances from hosts that are no longer eligible (labels changed), and only its own', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(spreadApp('app', 2, `            spread:\n              - { name: east, requirements: { region: us-brooks-east } }`));
    sim.converge();
    assert.deepEqual(perHost(sim, 'app-hello'), { e1: 1, e2: 1 });
    // e2 is relabelled; an unowned instance of the same id also sits on a west host.
    sim.observed = {
      ...sim.observed,
      hosts: sim.observed.hosts.map((h) => (h.id === 'e2' ? { ...h, labels: { region: 'elsewhere' } } : h)),
      components: [...sim.observed.components, componentState('w1', 'app-hello', HELLO, 9, { owner: 'someone-else' })],
    };
    const p = sim.plan();
    assert.deepEqual(scaleCounts(p.commands), [['e1', 2], ['e2', 0]]);
    sim.converge();
    assert.deepEqual(perHost(sim, 'app-hello'), { e1: 2, w1: 9 });
  });

  it('never counts or stops instances it does not own; a host held by one is not used', () => {
    const unowned = componentState('e1', 'app-hello', HELLO, 3, { [MANAGED_BY]: 'someone' });
    const otherApp = componentState('e2', 'app-hello', HELLO, 2, { [MANAGED_BY]: 'wadm', [APPSPEC]: 'other', [SCALER]: 'x' });
    const apps = [deployed(spreadApp('app', 2)), deployed(spreadApp('other', 1))];
    const p = planLattice(planInput(apps, { observed: observedWith(fiveHosts(), { components: [unowned, otherApp] }) }));
    const mine = scaleCmds(p.commands).filter((c) => c.model_name === 'app');
    // Not counted: still two to place, and on hosts other than e1 (unowned) — e2's instance is the
    // `other` app's stale one and is removed by cleanup, never counted for `app`.
    assert.deepEqual(mine.map((c) => c.count), [1, 1]);
    assert.equal(new Set(mine.map((c) => c.host_id)).size, 2);
    assert.ok(mine.every((c) => c.host_id !== 'e1' && c.host_id !== 'e2'), JSON.stringify(mine.map((c) => c.host_id)));
    assert.ok(!p.commands.some((c) => c.kind === 'ScaleComponent' && c.host_id === 'e1' && c.component_id === 'app-hello'), 'the unowned instance is never touched');
    // The `other` app's instance with a scaler id `other` does not have is cleaned up (count 0, its app's name).
    assert.ok(p.commands.some((c) => c.kind === 'ScaleComponent' && c.host_id === 'e2' && c.component_id === 'app-hello' && c.count === 0 && c.model_name === 'other'));
  });

  it('is deterministic whatever the order of the input lists', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(spreadApp('a', 3));
    sim.deploy(spreadApp('b', 4, ALL_HOSTS_SPREADS));
    const p1 = sim.plan();
    sim.observed = { ...sim.observed, hosts: [...sim.observed.hosts].reverse() };
    sim.apps = [...sim.apps].reverse();
    assert.deepEqual(sim.plan(), p1);
  });
});

describe('component daemonscaler', () => {
  const daemonApp = (instances: number, spreads = '') => helloApp('daemonscaler', 'daemon', instances, spreads);

  it('runs `instances` on every eligible host, follows hosts joining, and leaves ineligible ones', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(daemonApp(3, `            spread:\n              - { name: west, requirements: { region: us-taylor-west } }`));
    const p = sim.plan();
    assert.equal(p.statuses['daemon']!.scalers![0]!.kind, 'DaemonScaler');
    sim.converge();
    assert.deepEqual(perHost(sim, 'daemon-hello'), { w1: 3, w2: 3 });
    sim.observed = { ...sim.observed, hosts: [...sim.observed.hosts, host('w3', { region: 'us-taylor-west' })] };
    assert.deepEqual(scaleCounts(sim.plan().commands), [['w3', 3]]);
    sim.converge();
    assert.deepEqual(perHost(sim, 'daemon-hello'), { w1: 3, w2: 3, w3: 3 });
  });

  it('no spreads: every host; no eligible host: failed', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(daemonApp(1));
    sim.converge();
    assert.equal(sim.componentSum(HELLO, 'daemon'), 5);
    const none = new Sim([host('h', {})]);
    none.deploy(daemonApp(1, `            spread:\n              - { name: gpu, requirements: { gpu: 'yes' } }`));
    assert.deepEqual(none.plan().statuses['daemon']!.status, { type: 'failed', message: `Could not satisfy daemonscaler gpu for ${HELLO}, 0 eligible hosts found.` });
  });
});
