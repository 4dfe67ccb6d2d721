import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffApp, planApp, summarizeCommand } from '../src/plan/diff.js';
import { appHeader, capability, component, fiveHosts, HELLO, HTTP, httpLink } from './fixtures.js';
import { deployed, Sim } from './plan-sim.js';

const KV = 'ghcr.io/wasmcloud/components/http-keyvalue-counter-rust:0.1.0';
const HTTP_NEW = 'ghcr.io/wasmcloud/http-server:0.24.0';

/** v1: hello (2 instances) behind an http-server provider linked to it, with a managed config on the link. */
const v1 = (): string =>
  appHeader('shop') +
  component('hello', HELLO, 2) +
  capability('httpserver', HTTP, 1, '', httpLink('hello', { config: 'addr', address: '0.0.0.0:8080' }));

/** v2: hello scaled to 3, a new component `counter`, the link removed. */
const v2 = (): string => appHeader('shop') + component('hello', HELLO, 3) + component('counter', KV, 1) + capability('httpserver', HTTP, 1);

/** A lattice running `yaml` (converged by the planner itself). */
function running(yaml: string): Sim {
  const sim = new Sim(fiveHosts());
  sim.deploy(yaml);
  sim.converge();
  return sim;
}

describe('diffApp', () => {
  it('names an added component, a removed link (and its config) and a changed count', () => {
    const sim = running(v1());
    const before = deployed(v1(), 'v1');
    const changes = diffApp(before, deployed(v2(), 'v2'), { observed: sim.observed });
    const summary = changes.map((c) => `${c.op} ${c.kind} ${c.id}`);
    assert.deepEqual(summary, [
      'add component counter',
      'remove link shop-httpserver -(wasi:http/default)-> shop-hello',
      'remove config shop-addr',
      'add scaler counter/spreadscaler/default',
      'change scaler hello/spreadscaler/default',
    ]);
    const counter = changes.find((c) => c.kind === 'component')!;
    assert.deepEqual(counter.after, { image: KV, id: 'shop-counter' });
    const hello = changes.find((c) => c.id === 'hello/spreadscaler/default')!;
    assert.deepEqual([hello.before, hello.after, hello.component, hello.spread], [{ instances: 2 }, { instances: 3 }, 'hello', 'default']);
    const added = changes.find((c) => c.id === 'counter/spreadscaler/default')!;
    assert.deepEqual([added.before, added.after], [{ instances: 0 }, { instances: 1 }]);
    const link = changes.find((c) => c.kind === 'link')!;
    assert.deepEqual(link.before, {
      source_id: 'shop-httpserver',
      target: 'shop-hello',
      name: 'default',
      wit_namespace: 'wasi',
      wit_package: 'http',
      interfaces: ['incoming-handler'],
      source_config: ['shop-addr'],
      target_config: [],
    });
  });

  it('the deployed version, converged: no changes', () => {
    const sim = running(v1());
    assert.deepEqual(diffApp(deployed(v1(), 'v1'), deployed(v1(), 'v1'), { observed: sim.observed }), []);
  });

  it('a count that does not match what runs shows even for the deployed version', () => {
    const sim = new Sim(fiveHosts());
    const changes = diffApp(deployed(v1(), 'v1'), deployed(v1(), 'v1'), { observed: sim.observed });
    assert.deepEqual(
      changes.map((c) => [c.id, c.op, c.before, c.after]),
      [
        ['hello/spreadscaler/default', 'change', { instances: 0 }, { instances: 2 }],
        ['httpserver/spreadscaler/default', 'change', { instances: 0 }, { instances: 1 }],
      ],
    );
  });

  it('a provider image change names the field, before and after', () => {
    const sim = running(v1());
    const v1b = v1().replace(HTTP, HTTP_NEW);
    const changes = diffApp(deployed(v1(), 'v1'), deployed(v1b, 'v2'), { observed: sim.observed });
    assert.deepEqual(changes, [
      {
        kind: 'provider',
        op: 'change',
        id: 'httpserver',
        before: { image: HTTP, id: 'shop-httpserver' },
        after: { image: HTTP_NEW, id: 'shop-httpserver' },
        fields: [{ field: 'image', before: HTTP, after: HTTP_NEW }],
      },
    ]);
  });

  it('a managed config change names the keys, never the values', () => {
    const sim = running(v1());
    const v1b = v1().replace("'0.0.0.0:8080'", "'0.0.0.0:9090'");
    const changes = diffApp(deployed(v1(), 'v1'), deployed(v1b, 'v2'), { observed: sim.observed });
    assert.deepEqual(changes, [{ kind: 'config', op: 'change', id: 'shop-addr', before: { keys: ['address'] }, after: { keys: ['address'] }, fields: [{ field: 'address' }] }]);
    assert.ok(!JSON.stringify(changes).includes('9090'));
  });

  it('a component config list change is a `config` field of the component', () => {
    const sim = running(v1());
    const withCfg = v1().replace(`properties: { image: ${HELLO} }`, `properties: { image: ${HELLO}, config: [{ name: ext }] }`);
    const changes = diffApp(deployed(v1(), 'v1'), deployed(withCfg, 'v2'), { observed: sim.observed });
    const comp = changes.find((c) => c.kind === 'component')!;
    assert.deepEqual(comp.fields, [{ field: 'config', after: [{ name: 'ext' }] }]);
  });

  it('a link interface change names the field', () => {
    const sim = running(v1());
    const more = v1().replace('interfaces: [incoming-handler]', 'interfaces: [incoming-handler, outgoing-handler]');
    const changes = diffApp(deployed(v1(), 'v1'), deployed(more, 'v2'), { observed: sim.observed });
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.kind, 'link');
    assert.equal(changes[0]!.op, 'change');
    assert.deepEqual(changes[0]!.fields, [{ field: 'interfaces', before: ['incoming-handler'], after: ['incoming-handler', 'outgoing-handler'] }]);
  });

  it('a spread whose requirements change names them, also when the count stays', () => {
    const spread = (region: string): string =>
      appHeader('geo') +
      `
    - name: hello
      type: component
      properties: { image: ${HELLO} }
      traits:
        - type: spreadscaler
          properties:
            instances: 2
            spread:
              - { name: main, requirements: { region: ${region} } }`;
    const sim = running(spread('us-brooks-east'));
    const changes = diffApp(deployed(spread('us-brooks-east'), 'v1'), deployed(spread('us-taylor-west'), 'v2'), { observed: sim.observed });
    assert.deepEqual(changes, [
      {
        kind: 'scaler',
        op: 'change',
        id: 'hello/spreadscaler/main',
        component: 'hello',
        spread: 'main',
        before: { instances: 2 },
        after: { instances: 2 },
        fields: [{ field: 'requirements', before: { region: 'us-brooks-east' }, after: { region: 'us-taylor-west' } }],
      },
    ]);
  });

  it('not deployed: everything is added', () => {
    const sim = new Sim(fiveHosts());
    const changes = diffApp(null, deployed(v1(), 'v1'), { observed: sim.observed });
    assert.deepEqual(
      changes.map((c) => `${c.op} ${c.kind} ${c.id}`),
      [
        'add component hello',
        'add provider httpserver',
        'add link shop-httpserver -(wasi:http/default)-> shop-hello',
        'add config shop-addr',
        'add scaler hello/spreadscaler/default',
        'add scaler httpserver/spreadscaler/default',
      ],
    );
  });
});

describe('planApp', () => {
  it('returns the commands the planner issues for the candidate, and none for the converged deployed version', () => {
    const sim = running(v1());
    const base = { lattice: 'default', now: sim.now, app: 'shop', others: [], applied: sim.applied, observed: sim.observed, inflight: [], unseenGraceMs: 0 };
    const same = planApp({ ...base, deployed: deployed(v1(), 'v1'), candidate: deployed(v1(), 'v1') });
    assert.deepEqual([same.changes, same.commands], [[], []]);

    const plan = planApp({ ...base, deployed: deployed(v1(), 'v1'), candidate: deployed(v2(), 'v2') });
    // What a reconcile pass issues once v2 is the deployed version.
    sim.deploy(v2(), 'v2');
    const pass = sim.plan().commands;
    assert.deepEqual(plan.raw, pass);
    assert.deepEqual(plan.commands, pass.map(summarizeCommand));
    assert.deepEqual([...new Set(plan.commands.map((c) => c.kind))].sort(), ['DeleteConfig', 'DeleteLink', 'ScaleComponent']);
    const scale = plan.commands.filter((c) => c.kind === 'ScaleComponent');
    assert.ok(scale.every((c) => c.ctl === 'component.scale' && typeof c.host_id === 'string'));
    assert.ok(plan.commands.some((c) => c.target === 'shop-counter'));
  });

  it('an image change plans the in-place updates the rollout issues first (component.update, within the budget)', () => {
    const sim = running(v1());
    const HELLO2 = HELLO.replace(/:[^:]+$/, ':9.9.9');
    const v3 = appHeader('shop') + component('hello', HELLO2, 2) + capability('httpserver', HTTP, 1, '', httpLink('hello', { config: 'addr', address: '0.0.0.0:8080' }));
    const plan = planApp({ lattice: 'default', now: sim.now, app: 'shop', others: [], applied: sim.applied, observed: sim.observed, inflight: [], unseenGraceMs: 0, deployed: deployed(v1(), 'v1'), candidate: deployed(v3, 'v3') });
    const updates = plan.commands.filter((c) => c.kind === 'UpdateComponent');
    assert.equal(updates.length, 1, 'maxUnavailable 1 of 2: one host at a time');
    assert.deepEqual({ ctl: updates[0]!.ctl, target: updates[0]!.target, detail: updates[0]!.detail }, { ctl: 'component.update', target: 'shop-hello', detail: `update to ${HELLO2}` });
    assert.ok(plan.changes.some((c) => c.kind === 'component' && c.op === 'change'));
  });

  it('a lattice without hosts: changes, no commands', () => {
    const sim = new Sim([]);
    const plan = planApp({ lattice: 'default', now: 0, app: 'shop', others: [], applied: [], observed: sim.observed, inflight: [], deployed: null, candidate: deployed(v1(), 'v1') });
    assert.ok(plan.changes.length > 0);
    assert.deepEqual(plan.commands, []);
  });

  it('keeps only the planned app\'s commands', () => {
    const sim = new Sim(fiveHosts());
    const other = sim.deploy(appHeader('other') + component('hi', HELLO, 1));
    const plan = planApp({ lattice: 'default', now: 0, app: 'shop', others: [other], applied: [], observed: sim.observed, inflight: [], deployed: null, candidate: deployed(v1(), 'v1') });
    assert.ok(plan.raw.length > 0);
    assert.ok(plan.raw.every((c) => c.model_name === 'shop'));
  });
});
