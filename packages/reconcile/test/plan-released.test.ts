import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planLattice, releasedMessage, releasedStatus } from '../src/plan/index.js';
import type { PlanInput, PlanOutput } from '../src/types.js';
import { appHeader, capability, component, HELLO, HTTP, httpLink } from './fixtures.js';
import { deployed, host, kinds, Sim } from './plan-sim.js';

const app = (instances = 3, address = '0.0.0.0:8080'): string =>
  appHeader('keep') +
  component('hello', HELLO, instances, ', id: keep_hello') +
  capability('httpserver', HTTP, 1, ', id: keep_http', httpLink('hello', { config: 'addr', address })) +
  '\n';

const threeHosts = () => [host('h1'), host('h2'), host('h3')];

/** A lattice where `keep` was deployed and converged. */
function converged(): Sim {
  const sim = new Sim(threeHosts());
  sim.deploy(app());
  const { final } = sim.converge();
  assert.deepEqual(final.statuses['keep']!.status, { type: 'deployed' });
  return sim;
}

/** Plan the sim's lattice with `apps` deployed and `released` released. */
function planWith(sim: Sim, over: Partial<PlanInput>): PlanOutput {
  return planLattice({ lattice: 'default', now: sim.now, apps: sim.apps, applied: sim.applied, observed: sim.observed, inflight: [], unseenGraceMs: sim.unseenGraceMs, ...over });
}

describe('non-destructive undeploy (released apps)', () => {
  it('a released app yields no command for its instances, providers, links or configs, and keeps its applied record', () => {
    const sim = converged();
    const applied = sim.applied;
    assert.equal(applied.length, 1);
    sim.undeploy('keep');
    // Over time too: no grace runs out, nothing is deleted.
    for (const dt of [0, 1_000, 3_600_000]) {
      const p = planWith(sim, { now: sim.now + dt, released: ['keep'], unseenGraceMs: 60_000 });
      assert.deepEqual(p.commands, []);
      assert.deepEqual(p.applied, applied);
      assert.equal(p.statuses['keep'], undefined);
    }
    // Without the marker the same lattice is cleaned up (what the marker prevents).
    const plain = planWith(sim, {});
    assert.ok(plain.commands.some((c) => c.kind === 'ScaleComponent' && c.count === 0));
    assert.ok(plain.commands.some((c) => c.kind === 'StopProvider'));
    assert.ok(plain.commands.some((c) => c.kind === 'DeleteLink'));
    assert.ok(plain.commands.some((c) => c.kind === 'DeleteConfig'));
  });

  it('the applied record of a released app is kept even when its links and configs are not seen (no grace expiry)', () => {
    const sim = converged();
    sim.undeploy('keep');
    const gone = { ...sim.observed, links: [], configs: [] };
    const p = planWith(sim, { observed: gone, released: ['keep'], unseenGraceMs: 0, now: sim.now + 10 * 60_000 });
    assert.deepEqual(p.commands, []);
    assert.deepEqual(p.applied, sim.applied);
  });

  it('redeploying the same version over what was left running issues no command and is deployed', () => {
    const sim = converged();
    sim.undeploy('keep');
    const rel = planWith(sim, { released: ['keep'] });
    sim.applied = rel.applied;
    sim.deploy(app(), 'v1');
    const p = planWith(sim, {});
    assert.deepEqual(p.commands, []);
    assert.deepEqual(p.statuses['keep']!.status, { type: 'deployed' });
    assert.deepEqual(p.applied, rel.applied);
    // A released name that is deployed again is simply deployed (the marker is ignored).
    assert.deepEqual(planWith(sim, { released: ['keep'] }).commands, []);
  });

  it('a newer version adopts what runs and corrects only what differs', () => {
    const sim = converged();
    sim.undeploy('keep');
    sim.applied = planWith(sim, { released: ['keep'] }).applied;
    sim.deploy(app(4), 'v2');
    const p = planWith(sim, {});
    assert.deepEqual(kinds(p.commands), ['ScaleComponent']);
    assert.ok(p.commands.every((c) => c.kind === 'ScaleComponent' && c.count > 0));
    // A changed config value is put again; the link and instances stay.
    sim.deploy(app(3, '0.0.0.0:9090'), 'v3');
    const q = planWith(sim, {});
    assert.deepEqual(kinds(q.commands), ['PutConfig']);
  });

  it('instances of a released app are not stale for other apps either (foreign, not waited for)', () => {
    const sim = converged();
    sim.undeploy('keep');
    // Another app with the same component id: the released instances are not removed to make room.
    const other = deployed(appHeader('other') + component('hello', HELLO, 1, ', id: keep_hello') + '\n');
    const p = planWith(sim, { apps: [other], released: ['keep'] });
    assert.ok(p.commands.every((c) => c.kind === 'ScaleComponent' && c.model_name === 'other' && c.count > 0), JSON.stringify(p.commands));
    assert.ok(!p.statuses['other']!.status.message?.includes('Waiting for previous instances'));
  });

  it('a plain undeploy after the release cleans everything up', () => {
    const sim = converged();
    sim.undeploy('keep');
    sim.applied = planWith(sim, { released: ['keep'] }).applied;
    const { final } = sim.converge();
    assert.deepEqual(final.applied, []);
    assert.deepEqual(sim.observed.components.filter((c) => c.maxInstances > 0), []);
    assert.deepEqual(sim.observed.providers, []);
    assert.deepEqual(sim.observed.links, []);
    assert.deepEqual(sim.observed.configs, []);
  });

  it('the status of a released app says what was left running', () => {
    const sim = converged();
    assert.deepEqual(releasedStatus('keep', sim.applied[0], sim.observed), {
      status: { type: 'undeployed', message: 'Undeployed non-destructively: 3 instances, 1 provider, 1 link and 1 config left running' },
      version: '',
      components: [],
    });
    assert.equal(releasedMessage({ instances: 1, providers: 0, links: 2, configs: 3 }), 'Undeployed non-destructively: 1 instance, 0 providers, 2 links and 3 configs left running');
    assert.equal(releasedStatus('nothing', undefined, sim.observed).status.message, 'Undeployed non-destructively: 0 instances, 0 providers, 0 links and 0 configs left running');
  });
});
