import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandKey, isSatisfied, planLattice } from '../src/plan/index.js';
import { appStatus } from '../src/plan/status.js';
import type { Command, InFlight } from '../src/types.js';
import { appHeader, component, HELLO, HTTP, httpLink, planInput } from './fixtures.js';
import { applyToObserved, deployed, host, observedWith, SCALER, Sim } from './plan-sim.js';

const APP =
  appHeader('app') +
  component('hello', HELLO, 2) +
  `
    - name: httpserver
      type: capability
      properties: { image: ${HTTP} }
      traits:` +
  httpLink('hello') +
  '\n';

const inflightOf = (cmds: readonly Command[], now: number, ttl = 5000): InFlight[] => cmds.map((command) => ({ key: commandKey(command), command, issuedAt: now, expiresAt: now + ttl }));

describe('in-flight commands', () => {
  it('a command under way is not issued again; the scaler stays reconciling', () => {
    const sim = new Sim([host('h1'), host('h2')]);
    sim.deploy(APP);
    const p = sim.plan();
    assert.equal(p.commands.length, 4);
    const again = sim.plan(inflightOf(p.commands, sim.now));
    assert.deepEqual(again.commands, []);
    assert.deepEqual(again.statuses, p.statuses);
  });

  it('an expired entry does not suppress; a different command for the same target supersedes', () => {
    const sim = new Sim([host('h1'), host('h2')]);
    sim.deploy(APP);
    const p = sim.plan();
    assert.deepEqual(sim.plan(inflightOf(p.commands, sim.now - 10_000)).commands, p.commands);
    const other = p.commands.map((c) => (c.kind === 'ScaleComponent' ? { ...c, count: 7 } : c));
    assert.deepEqual(sim.plan(inflightOf(other, sim.now)).commands.map((c) => c.kind), ['ScaleComponent', 'ScaleComponent']);
  });

  it('commandKey names the target; isSatisfied tells when the effect is observed', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(APP);
    const p = sim.plan();
    assert.deepEqual(p.commands.map(commandKey), ['component:h1:app-hello', 'provider:h1:app-httpserver', 'link:app-httpserver:wasi:http:default:app-hello']);
    for (const c of p.commands) assert.equal(isSatisfied(c, sim.observed), false, c.kind);
    const after = applyToObserved(sim.observed, p.commands);
    for (const c of p.commands) assert.equal(isSatisfied(c, after), true, c.kind);
    const stop: Command = { kind: 'StopProvider', provider_id: 'app-httpserver', host_id: 'h1', model_name: 'app' };
    assert.equal(commandKey(stop), 'provider:h1:app-httpserver');
    assert.equal(isSatisfied(stop, after), false);
    assert.equal(isSatisfied(stop, applyToObserved(after, [stop])), true);
    const del: Command = { kind: 'DeleteConfig', config_name: 'x', model_name: 'app' };
    assert.equal(commandKey(del), 'config:x');
    assert.equal(isSatisfied(del, after), true);
  });

  it('a PutConfig in flight still gates what needs the config', () => {
    const app = deployed(APP.replace(`properties: { image: ${HELLO} }`, `properties:\n        image: ${HELLO}\n        config:\n          - { name: c, properties: { a: b } }`));
    const input = planInput([app], { now: 10 });
    const p = planLattice(input);
    assert.deepEqual(p.commands.map((c) => c.kind), ['PutConfig', 'StartProvider', 'PutLink']);
    const q = planLattice({ ...input, inflight: inflightOf([p.commands[0]!], 10) });
    assert.deepEqual(q.commands.map((c) => c.kind), ['StartProvider', 'PutLink']);
    assert.deepEqual(q.statuses['app']!.scalers![0]!.status, { type: 'reconciling', message: 'Waiting for configuration app-c' });
  });
});

describe('backoff after a failure event', () => {
  it('a failed scale shows the host\'s error and is not retried on that host until the backoff ends', () => {
    const sim = new Sim([host('h1'), host('h2')]);
    sim.deploy(APP);
    const scaler = (sim.plan().commands[0] as Extract<Command, { kind: 'ScaleComponent' }>).annotations[SCALER]!;
    sim.failure({ what: 'component', subject: 'app-hello', hostId: 'h1', annotations: { [SCALER]: scaler }, error: 'failed to fetch component', at: sim.now - 1000 });
    const p = sim.plan();
    assert.deepEqual(
      p.commands.filter((c) => c.kind === 'ScaleComponent').map((c) => c.kind === 'ScaleComponent' && c.host_id),
      ['h2'],
    );
    assert.deepEqual(p.statuses['app']!.scalers![0]!.status, { type: 'failed', message: 'failed to fetch component' });
    assert.equal(p.statuses['app']!.status.type, 'failed');
    // A failure of another scaler (other annotations) does not count; nor does one older than the backoff.
    sim.observed = { ...sim.observed, failures: sim.observed.failures.map((f) => ({ ...f, annotations: { [SCALER]: 'old' } })) };
    assert.equal(sim.plan().commands.filter((c) => c.kind === 'ScaleComponent').length, 2);
    sim.observed = { ...sim.observed, failures: sim.observed.failures.map((f) => ({ ...f, annotations: { [SCALER]: scaler }, at: sim.now - 6000 })) };
    assert.equal(sim.plan().commands.filter((c) => c.kind === 'ScaleComponent').length, 2);
  });

  it('provider start and link put failures back off too; a failure for a target already right is ignored', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(APP);
    sim.failure({ what: 'provider', subject: 'app-httpserver', hostId: 'h1', imageRef: HTTP, error: 'provider is already running with that ID', at: sim.now - 10 });
    sim.failure({ what: 'link', subject: 'lat._.default.link.app-httpserver.wasi.http.default.app-hello', error: 'link rejected', at: sim.now - 10 });
    const p = sim.plan();
    assert.deepEqual(p.commands.map((c) => c.kind), ['ScaleComponent']);
    const byName = Object.fromEntries(p.statuses['app']!.scalers!.map((s) => [s.name, s.status]));
    assert.deepEqual(byName['app-httpserver'], { type: 'failed', message: 'provider is already running with that ID' });
    assert.deepEqual(byName['app-httpserver -(wasi:http)-> app-hello'], { type: 'failed', message: 'link rejected' });
    // Once the targets are as wanted, old failures do not turn the scalers failed.
    const failures = sim.observed.failures;
    sim.observed = { ...sim.observed, failures: [] };
    sim.converge();
    sim.observed = { ...sim.observed, failures };
    assert.deepEqual(sim.plan().statuses['app']!.status, { type: 'deployed' });
  });

  it('backoffMs is configurable', () => {
    const input = planInput([deployed(APP)], {
      now: 10_000,
      observed: observedWith([host('h1')], {
        failures: [{ kind: 'failure' as const, seq: 0, what: 'provider' as const, subject: 'app-httpserver', hostId: 'h1', error: 'boom', at: 9_000 }],
      }),
    });
    assert.ok(!planLattice(input).commands.some((c) => c.kind === 'StartProvider'));
    assert.ok(planLattice({ ...input, backoffMs: 500 }).commands.some((c) => c.kind === 'StartProvider'));
  });
});

describe('status', () => {
  it('aggregates scaler statuses with wadm\'s precedence', () => {
    const s = (type: 'deployed' | 'reconciling' | 'unhealthy' | 'failed', message = '') => ({ id: type, kind: 'SpreadScaler', name: type, status: message ? { type, message } : { type } });
    assert.deepEqual(appStatus([s('deployed'), s('unhealthy', 'Unhealthy provider on 1 host(s)')]).status, { type: 'unhealthy', message: 'Unhealthy provider on 1 host(s)' });
    assert.deepEqual(appStatus([s('reconciling', 'a'), s('unhealthy', 'b')]).status, { type: 'reconciling', message: 'a, b' });
    assert.deepEqual(appStatus([s('reconciling'), s('failed', 'x'), s('deployed')]).status, { type: 'failed', message: 'x' });
    assert.deepEqual(appStatus([]), { status: { type: 'undeployed' }, version: '', components: [] });
  });

  it('an app with no scalers stays undeployed; an invalid component reports failed with a stable id', () => {
    const noScalers = deployed(`${appHeader('idle')}
    - { name: hello, type: component, properties: { image: ${HELLO} } }
`);
    const input = planInput([noScalers]);
    const p = planLattice(input);
    assert.deepEqual(p.commands, []);
    assert.deepEqual(p.statuses['idle'], { status: { type: 'undeployed' }, version: '', components: [] });

    const invalid = deployed(`${appHeader('bad')}
    - name: both
      type: capability
      properties: { image: ${HTTP}, application: { name: x, component: y } }
`);
    const q = planLattice({ ...input, apps: [invalid] });
    const sc = q.statuses['bad']!.scalers![0]!;
    assert.deepEqual({ kind: sc.kind, name: sc.name, status: sc.status }, {
      kind: 'SpreadScaler',
      name: 'both',
      status: { type: 'failed', message: 'Application specified both an image and a shared application reference' },
    });
    assert.equal(planLattice({ ...input, apps: [invalid] }).statuses['bad']!.scalers![0]!.id, sc.id);
  });
});
