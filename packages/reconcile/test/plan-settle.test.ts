import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandKey, earliestRequeue, isSatisfied, planLattice, settleInflight } from '../src/plan/index.js';
import type { Command, InFlight, PlanInput } from '../src/types.js';
import { appHeader, component, HELLO, HTTP, httpLink } from './fixtures.js';
import { applyToObserved, componentState, configState, deployed, host, observedWith, providerState, SCALER } from './plan-sim.js';
import type { LatticeEntities } from '@wadm-ts/entities';

const entry = (command: Command, expiresAt: number, issuedAt = 0): InFlight => ({ key: commandKey(command), command, issuedAt, expiresAt });
const scale = (host_id: string, count: number, scaler?: string): Extract<Command, { kind: 'ScaleComponent' }> => ({
  kind: 'ScaleComponent',
  component_id: 'c',
  host_id,
  count,
  reference: HELLO,
  model_name: 'app',
  annotations: scaler === undefined ? {} : { [SCALER]: scaler },
  config: [],
});
const link = (over: Partial<Extract<Command, { kind: 'PutLink' }>> = {}): Command => ({
  kind: 'PutLink',
  source_id: 'p',
  target: 'c',
  name: 'default',
  wit_namespace: 'wasi',
  wit_package: 'http',
  interfaces: ['incoming-handler'],
  source_config: [],
  target_config: [],
  model_name: 'app',
  ...over,
});
const linkState = (over: Partial<Extract<Command, { kind: 'PutLink' }>> = {}, deleted = false) => {
  const { kind: _k, model_name: _m, ...l } = link(over) as Extract<Command, { kind: 'PutLink' }>;
  return { kind: 'link' as const, link: l, seq: 0, ...(deleted ? { deleted: true } : {}) };
};

describe('settleInflight', () => {
  const lattice: LatticeEntities = {
    hosts: [host('h1'), host('h2')],
    components: [
      componentState('h1', 'c', HELLO, 2, { [SCALER]: 's' }),
      { ...componentState('h2', 'c', HELLO, 3, { [SCALER]: 's' }), deleted: true },
      componentState('h3', 'c', HELLO, 0, {}),
    ],
    providers: [providerState('h1', 'p', HTTP, {}), { ...providerState('h2', 'p', HTTP, {}), deleted: true }],
    links: [linkState(), linkState({ name: 'other', interfaces: ['a', 'b'] }), linkState({ name: 'gone' }, true)],
    configs: [configState('cfg'), { ...configState('old'), deleted: true }],
  };
  const commands: Command[] = [
    scale('h1', 2),
    scale('h1', 2, 's'),
    scale('h1', 2, 'other'),
    scale('h1', 3, 's'),
    scale('h1', 0),
    scale('h2', 3, 's'),
    scale('h2', 0),
    scale('h3', 0),
    { kind: 'StartProvider', provider_id: 'p', host_id: 'h1', reference: HTTP, model_name: 'app', annotations: {}, config: [] },
    { kind: 'StartProvider', provider_id: 'p', host_id: 'h2', reference: HTTP, model_name: 'app', annotations: {}, config: [] },
    { kind: 'StopProvider', provider_id: 'p', host_id: 'h1', model_name: 'app' },
    { kind: 'StopProvider', provider_id: 'p', host_id: 'h2', model_name: 'app' },
    link(),
    link({ interfaces: ['incoming-handler', 'x'] }),
    link({ name: 'other', interfaces: ['b', 'a', 'a'] }),
    link({ name: 'gone' }),
    link({ target: 'elsewhere' }),
    { kind: 'DeleteLink', source_id: 'p', link_name: 'default', wit_namespace: 'wasi', wit_package: 'http', model_name: 'app' },
    { kind: 'DeleteLink', source_id: 'p', link_name: 'gone', wit_namespace: 'wasi', wit_package: 'http', model_name: 'app' },
    { kind: 'PutConfig', config_name: 'cfg', config: {}, model_name: 'app' },
    { kind: 'PutConfig', config_name: 'old', config: {}, model_name: 'app' },
    { kind: 'DeleteConfig', config_name: 'cfg', model_name: 'app' },
    { kind: 'DeleteConfig', config_name: 'old', model_name: 'app' },
  ];

  it('done: observed (as isSatisfied decides) or expired; live: the rest; input order kept', () => {
    const now = 1000;
    const entries = commands.flatMap((c, i) => [entry(c, now + 1 + i), entry(c, now - i)]);
    const { live, done, expired } = settleInflight(entries, lattice, now);
    assert.deepEqual(live, entries.filter((f) => f.expiresAt > now && !isSatisfied(f.command, lattice)));
    // Expired without effect: done, and reported apart (an in-place update that never showed, see AppliedRecord.stalled).
    assert.deepEqual(expired, entries.filter((f) => f.expiresAt <= now && !isSatisfied(f.command, lattice)));
    assert.deepEqual(done, entries.filter((f) => f.expiresAt <= now || isSatisfied(f.command, lattice)));
    // Both outcomes happen, and an entry expiring exactly now is done.
    assert.ok(live.length > 5 && done.length > live.length);
    assert.deepEqual(settleInflight([entry(link({ name: 'x' }), now)], lattice, now).done.length, 1);
    assert.deepEqual(settleInflight([], lattice, now), { live: [], done: [], expired: [] });
  });

  it('isSatisfied decisions are as before (spot checks)', () => {
    const sat = commands.map((c) => isSatisfied(c, lattice));
    assert.deepEqual(sat, [true, true, false, false, false, false, true, true, true, false, false, true, true, false, true, false, false, false, true, true, false, false, true]);
  });

  it('accepts an ObservedLattice; settles a mid-deploy of thousands of entries', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => host(`h${i}`));
    const cmds: Command[] = [];
    for (let i = 0; i < 4000; i++) cmds.push({ ...scale(`h${i % 50}`, 1, 's'), component_id: `c${i}` });
    const observed = applyToObserved(observedWith(hosts), cmds.filter((_, i) => i % 4 !== 0));
    const { live, done } = settleInflight(cmds.map((c) => entry(c, 10)), observed, 5);
    assert.equal(live.length, 1000);
    assert.equal(done.length, 3000);
    assert.ok(live.every((f) => f.command.kind === 'ScaleComponent' && Number(f.command.component_id.slice(1)) % 4 === 0));
  });
});

describe('earliestRequeue', () => {
  const APP = appHeader('app') + component('hello', HELLO, 2) + `
    - name: httpserver
      type: capability
      properties: { image: ${HTTP} }
      traits:` + httpLink('hello') + '\n';
  const base = (over: Partial<PlanInput> = {}): PlanInput => ({ lattice: 'l', now: 10_000, apps: [deployed(APP)], applied: [], observed: observedWith([host('h1'), host('h2')]), inflight: [], ...over });
  const requeue = (input: PlanInput) => earliestRequeue(input, planLattice(input));

  it('nothing in flight, no failure: nothing changes with time', () => {
    assert.equal(requeue(base()), undefined);
    // Nor once converged.
    const input = base();
    const observed = applyToObserved(input.observed, planLattice(input).commands);
    const done = base({ observed: applyToObserved(observed, planLattice({ ...input, observed }).commands) });
    assert.deepEqual(planLattice(done).commands, []);
    assert.equal(requeue(done), undefined);
  });

  it('the nearest expiry of a live in-flight entry (expired and observed ones do not count)', () => {
    const input = base();
    const [a, b, c] = planLattice(input).commands;
    const inflight = [entry(a!, 19_000), entry(b!, 15_000), entry(c!, 9_000), entry({ kind: 'DeleteConfig', config_name: 'nope', model_name: 'app' }, 12_000)];
    const with_ = base({ inflight });
    assert.equal(requeue(with_), 15_000);
    // Planning just before that time gives the same; at that time, the command is issued again.
    assert.deepEqual(planLattice({ ...with_, now: 14_999 }), planLattice(with_));
    assert.notDeepEqual(planLattice({ ...with_, now: 15_000 }).commands, planLattice(with_).commands);
  });

  it('the end of a backoff that suppresses a command (the most recent failure of that target)', () => {
    const failure = (at: number, hostId = 'h1') => ({ kind: 'failure' as const, seq: 0, what: 'provider' as const, subject: 'app-httpserver', hostId, error: 'boom', at });
    // The provider goes to one host; failures on both, only the one on the host it is wanted on suppresses.
    const probe = planLattice(base());
    const start = probe.commands.find((c) => c.kind === 'StartProvider');
    assert.ok(start?.kind === 'StartProvider');
    const elsewhere = start.host_id === 'h1' ? 'h2' : 'h1';
    const input = base({ observed: observedWith([host('h1'), host('h2')], { failures: [failure(7_000, start.host_id), failure(8_000, start.host_id), failure(9_500, elsewhere)] }) });
    const out = planLattice(input);
    assert.ok(!out.commands.some((c) => c.kind === 'StartProvider'));
    assert.equal(earliestRequeue(input, out), 13_000);
    assert.equal(earliestRequeue({ ...input, backoffMs: 4_000 }, planLattice({ ...input, backoffMs: 4_000 })), 12_000);
    // A copy of the output (not the object planLattice returned) gives the same answer.
    assert.equal(earliestRequeue(input, structuredClone(out)), 13_000);
    // Before that time the provider is still held back; at that time it is started.
    assert.ok(!planLattice({ ...input, now: 12_999 }).commands.some((c) => c.kind === 'StartProvider'));
    assert.ok(planLattice({ ...input, now: 13_000 }).commands.some((c) => c.kind === 'StartProvider'));
    // With an in-flight entry expiring sooner, that comes first.
    const inflight = [entry(out.commands[0]!, 11_000)];
    assert.equal(requeue({ ...input, inflight }), 11_000);
    // A failure for a target that is already as wanted suppresses nothing.
    const observed = applyToObserved(input.observed, probe.commands);
    assert.equal(requeue({ ...input, observed: { ...observed, failures: input.observed.failures } }), undefined);
  });
});
