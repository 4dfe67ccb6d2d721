import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workloadScalerId } from '../src/plan/index.js';
import type { Command } from '../src/types.js';
import { appHeader, HTTP } from './fixtures.js';
import { APPSPEC, host, MANAGED_BY, providerState, SCALER, Sim, SPREAD } from './plan-sim.js';

const providerApp = (name: string, traits: string, extraProps = '') => `${appHeader(name)}
    - name: httpserver
      type: capability
      properties:
        image: ${HTTP}
${extraProps}
${traits}`;

const starts = (cmds: readonly Command[]) => cmds.flatMap((c) => (c.kind === 'StartProvider' ? [c.host_id] : []));
const stops = (cmds: readonly Command[]) => cmds.flatMap((c) => (c.kind === 'StopProvider' ? [c.host_id] : []));
const hostsOf = (sim: Sim, id: string) => sim.observed.providers.filter((p) => p.providerId === id).map((p) => p.hostId).sort();

describe('provider scalers', () => {
  it('a capability with no scaler trait gets an implicit spread of 1 (kind SpreadScaler, spread `default`)', () => {
    const sim = new Sim([host('h1'), host('h2')]);
    sim.deploy(providerApp('p', ''));
    const p = sim.plan();
    assert.equal(p.commands.length, 1);
    const c = p.commands[0]!;
    assert.ok(c.kind === 'StartProvider');
    const id = workloadScalerId('SpreadScaler', 'p', 'httpserver', 'p-httpserver', HTTP, []);
    assert.deepEqual(c, {
      kind: 'StartProvider',
      provider_id: 'p-httpserver',
      host_id: 'h1',
      reference: HTTP,
      model_name: 'p',
      annotations: { [APPSPEC]: 'p', [MANAGED_BY]: 'wadm', [SCALER]: id, [SPREAD]: 'default' },
      config: [],
    });
    assert.deepEqual(p.statuses['p']!.scalers![0], { id, kind: 'SpreadScaler', name: 'p-httpserver', status: { type: 'reconciling', message: 'Scaling provider on 1 host(s)' } });
    const { final } = sim.converge();
    assert.equal(sim.providerCount(HTTP), 1);
    assert.equal(final.statuses['p']!.status.type, 'deployed');
  });

  it('spreads one provider per host over the spreads\' hosts', () => {
    const sim = new Sim([host('e1', { r: 'e' }), host('e2', { r: 'e' }), host('w1', { r: 'w' }), host('w2', { r: 'w' }), host('m1', { r: 'm' })]);
    sim.deploy(
      providerApp(
        'all',
        `      traits:
        - type: spreadscaler
          properties:
            instances: 5
            spread:
              - { name: east, requirements: { r: e }, weight: 40 }
              - { name: west, requirements: { r: w }, weight: 40 }
              - { name: moon, requirements: { r: m }, weight: 20 }`,
      ),
    );
    sim.converge();
    assert.deepEqual(hostsOf(sim, 'all-httpserver'), ['e1', 'e2', 'm1', 'w1', 'w2']);
  });

  it('fewer hosts than instances: starts what it can and reports k/N', () => {
    const sim = new Sim([host('h1'), host('h2')]);
    sim.deploy(providerApp('p', `      traits:\n        - type: spreadscaler\n          properties: { instances: 3 }`));
    const p = sim.plan();
    assert.deepEqual(starts(p.commands), ['h1', 'h2']);
    assert.deepEqual(p.statuses['p']!.status, { type: 'failed', message: `Could not satisfy spread default for ${HTTP}, 2/3 eligible hosts found.` });
    const { final } = sim.converge();
    assert.equal(final.statuses['p']!.status.type, 'failed');
  });

  it('never counts an unowned provider (not even once) and never stops it', () => {
    const sim = new Sim([host('h1'), host('h2'), host('h3')]);
    sim.observed = { ...sim.observed, providers: [providerState('h1', 'p-httpserver', HTTP, {})] };
    sim.deploy(providerApp('p', `      traits:\n        - type: spreadscaler\n          properties: { instances: 2 }`));
    const p = sim.plan();
    assert.deepEqual(starts(p.commands), ['h2', 'h3']);
    sim.converge();
    assert.deepEqual(hostsOf(sim, 'p-httpserver'), ['h1', 'h2', 'h3']);
    // Scaling to 1 stops one of its own, never the unowned one.
    sim.deploy(providerApp('p', `      traits:\n        - type: spreadscaler\n          properties: { instances: 1 }`), 'v2');
    assert.deepEqual(stops(sim.plan().commands), ['h3']);
    // Undeploying stops only what the app owns.
    sim.undeploy('p');
    sim.converge();
    assert.deepEqual(hostsOf(sim, 'p-httpserver'), ['h1']);
  });

  it('daemonscaler: one provider on every eligible host', () => {
    const sim = new Sim([host('a', { gpu: 'yes' }), host('b', {}), host('c', { gpu: 'yes' })]);
    sim.deploy(providerApp('d', `      traits:\n        - type: daemonscaler\n          properties:\n            instances: 1\n            spread:\n              - { name: gpu, requirements: { gpu: 'yes' } }`));
    const p = sim.plan();
    assert.deepEqual(starts(p.commands), ['a', 'c']);
    assert.equal(p.statuses['d']!.scalers![0]!.kind, 'DaemonScaler');
    sim.converge();
    assert.deepEqual(hostsOf(sim, 'd-httpserver'), ['a', 'c']);
  });

  it('reports unhealthy when an owned provider fails health checks', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(providerApp('p', ''));
    sim.converge();
    sim.observed = { ...sim.observed, providers: sim.observed.providers.map((x) => ({ ...x, health: 'unhealthy' as const })) };
    const p = sim.plan();
    assert.deepEqual(p.commands, []);
    assert.deepEqual(p.statuses['p']!.status, { type: 'unhealthy', message: 'Unhealthy provider on 1 host(s)' });
    sim.observed = { ...sim.observed, providers: sim.observed.providers.map((x) => ({ ...x, health: 'healthy' as const })) };
    assert.deepEqual(sim.plan().statuses['p']!.status, { type: 'deployed' });
  });

  it('a provider\'s configs are passed by name and change its scaler id', () => {
    const withConfig = `        config:\n          - name: http-config\n            properties: { number: '1' }`;
    const sim = new Sim([host('h1')]);
    sim.deploy(providerApp('p', '', withConfig));
    const p1 = sim.plan();
    assert.deepEqual(p1.commands.map((c) => c.kind), ['PutConfig']);
    sim.converge();
    const prov = sim.observed.providers[0]!;
    assert.equal(prov.annotations[SCALER], workloadScalerId('SpreadScaler', 'p', 'httpserver', 'p-httpserver', HTTP, ['p-http_config']));
  });
});
