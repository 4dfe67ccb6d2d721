/**
 * Links have the host's identity, (source, namespace, package, name, target): a put replaces the link
 * with the same five fields or appends one, a put of another target on an overlapping interface fails,
 * and a delete names no target and removes the first link of that name (docs/wire/control-interface.md §3.9).
 * `applyToObserved` (plan-sim.ts) behaves that way.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LinkDef } from '@wadm-ts/protocol';
import { stateKeys } from '@wadm-ts/store';
import { commandKey, isSatisfied, planLattice } from '../src/plan/index.js';
import type { AppliedRecord, Command } from '../src/types.js';
import { appHeader, capability, component, HELLO } from './fixtures.js';
import { configState, host, kinds, LINK_CONFLICT, observedWith, Sim } from './plan-sim.js';
import type { LinkEntity } from '@wadm-ts/entities';

const KV = 'ghcr.io/wasmcloud/keyvalue-redis:0.28.1';

/** A `type: link` trait to `target` (a legacy string target, as in wadm's fixtures) on wasi:keyvalue. */
function kvLink(target: string, interfaces: string[], opts: { name?: string; sourceConfig?: string[] } = {}): string {
  const name = opts.name === undefined ? '' : `\n            name: ${opts.name}`;
  const source = opts.sourceConfig === undefined ? '' : `\n            source: { config: [${opts.sourceConfig.map((n) => `{ name: ${n} }`).join(', ')}] }`;
  return `
        - type: link
          properties:${name}
            target: ${target}
            namespace: wasi
            package: keyvalue
            interfaces: [${interfaces.join(', ')}]${source}`;
}

/** `my-component` (id `comp`) with the given link traits, and providers `kv1`, `kv2` (ids as names). */
const app = (name: string, links: string): string =>
  appHeader(name) + component('my-component', HELLO, 1, ', id: comp', links) + capability('kv1', KV, 1, ', id: kv1') + capability('kv2', KV, 1, ', id: kv2') + '\n';

/** wadm's correct_unique_interface_links.yaml: two links to one provider, same name, atomics vs store. */
const DIFFERENT_INTERFACES = app('test-different-interfaces', kvLink('kv1', ['atomics']) + kvLink('kv1', ['store']));

const def = (target: string, interfaces: string[], name = 'default'): LinkDef => ({
  source_id: 'comp',
  target,
  name,
  wit_namespace: 'wasi',
  wit_package: 'keyvalue',
  interfaces,
  source_config: [],
  target_config: [],
});
const linkState = (l: LinkDef, seq = 0): LinkEntity => ({ kind: 'link', link: l, seq });
const linksOf = (sim: Sim): Array<[string, string[]]> => sim.observed.links.map((l) => [l.link.target, l.link.interfaces]);
const puts = (cmds: readonly Command[]): Array<Extract<Command, { kind: 'PutLink' }>> => cmds.flatMap((c) => (c.kind === 'PutLink' ? [c] : []));

describe('links of one app with the same host identity', () => {
  it('are merged into one put with the union of their interfaces; at rest nothing is put again', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(DIFFERENT_INTERFACES);
    const first = sim.plan();
    assert.deepEqual(
      puts(first.commands).map((c) => [c.target, c.interfaces]),
      [['kv1', ['atomics', 'store']]],
    );
    sim.converge();
    assert.deepEqual(linksOf(sim), [['kv1', ['atomics', 'store']]], 'the host holds one link with both interfaces');
    for (let i = 0; i < 5; i++) assert.deepEqual(sim.step().commands, [], `pass ${i} at rest`);
    const p = sim.plan();
    const linkScalers = p.statuses['test-different-interfaces']!.scalers!.filter((s) => s.kind === 'LinkScaler');
    assert.equal(linkScalers.length, 2, 'one scaler per link trait, as wadm');
    assert.notEqual(linkScalers[0]!.id, linkScalers[1]!.id);
    assert.deepEqual(linkScalers.map((s) => s.status.type), ['deployed', 'deployed']);
    assert.deepEqual(p.applied[0]!.links, [{ source_id: 'comp', wit_namespace: 'wasi', wit_package: 'keyvalue', name: 'default', target: 'kv1' }]);
  });

  it('share one outcome: while the put is pending or backing off, both scalers say so', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(DIFFERENT_INTERFACES);
    const kinds = (p: ReturnType<Sim['plan']>): string[] => p.statuses['test-different-interfaces']!.scalers!.filter((s) => s.kind === 'LinkScaler').map((s) => s.status.type);
    assert.deepEqual(kinds(sim.plan()), ['reconciling', 'reconciling']);
    sim.failure({ what: 'link', subject: stateKeys.link({ lattice: 'default' }, 'comp', 'wasi', 'keyvalue', 'default', 'kv1'), error: 'rejected', at: sim.now - 10 });
    const p = sim.plan();
    assert.deepEqual(puts(p.commands), []);
    assert.deepEqual(kinds(p), ['failed', 'failed']);
  });

  it('interfaces compare as sets: the same interfaces in another order are the same link', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(DIFFERENT_INTERFACES);
    sim.converge();
    sim.observed = { ...sim.observed, links: [linkState(def('kv1', ['store', 'atomics']))] };
    assert.deepEqual(sim.plan().commands, []);
  });

  it('config lists are the union in first-appearance order', () => {
    const sim = new Sim([host('h1')]);
    sim.observed = { ...sim.observed, configs: [configState('a'), configState('b'), configState('c')] };
    sim.deploy(app('merged-config', kvLink('kv1', ['atomics'], { sourceConfig: ['a', 'b'] }) + kvLink('kv1', ['store'], { sourceConfig: ['c', 'a'] })));
    assert.deepEqual(
      puts(sim.plan().commands).map((c) => c.source_config),
      [['a', 'b', 'c']],
    );
    sim.converge();
    assert.deepEqual(sim.observed.links.map((l) => l.link.source_config), [['a', 'b', 'c']]);
  });

  it('with different targets and disjoint interfaces coexist, each put once and then left alone', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(app('two-targets', kvLink('kv1', ['atomics']) + kvLink('kv2', ['store'])));
    assert.deepEqual(puts(sim.plan().commands).map((c) => [c.target, c.interfaces]), [['kv1', ['atomics']], ['kv2', ['store']]]);
    sim.converge();
    assert.deepEqual(linksOf(sim), [['kv1', ['atomics']], ['kv2', ['store']]]);
    for (let i = 0; i < 5; i++) assert.deepEqual(sim.step().commands, [], `pass ${i} at rest`);
    assert.deepEqual(sim.plan().applied[0]!.links.map((l) => l.target), ['kv1', 'kv2']);
  });

  it('the newer of two state entries of one identity (a legacy key and a current one) is what counts', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(DIFFERENT_INTERFACES);
    sim.converge();
    sim.observed = { ...sim.observed, links: [linkState(def('kv1', ['atomics', 'store']), 7), linkState(def('kv1', ['atomics']), 3)] };
    assert.deepEqual(sim.plan().commands, []);
    sim.observed = { ...sim.observed, links: [linkState(def('kv1', ['atomics', 'store']), 3), linkState(def('kv1', ['atomics']), 7)] };
    assert.deepEqual(kinds(sim.plan().commands), ['PutLink']);
  });
});

describe('cleanup by host identity', () => {
  it('a link moved to another target on the same interface: the old one is deleted, the new one lands', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(app('moved', kvLink('kv1', ['atomics'])));
    sim.converge();
    sim.deploy(app('moved', kvLink('kv2', ['atomics'])), 'v2');
    const p = sim.step();
    assert.deepEqual(
      p.commands.filter((c) => c.kind === 'PutLink' || c.kind === 'DeleteLink').map((c) => [c.kind, c.kind === 'PutLink' ? c.target : c.kind === 'DeleteLink' ? c.target : '']),
      [['PutLink', 'kv2'], ['DeleteLink', 'kv1']],
    );
    assert.equal(sim.observed.failures.at(-1)?.error, LINK_CONFLICT, 'the put came before the delete: the host refused it');
    sim.converge();
    assert.deepEqual(linksOf(sim), [['kv2', ['atomics']]]);
    assert.deepEqual(sim.plan().applied[0]!.links.map((l) => l.target), ['kv2']);
  });

  it('an unwanted link is deleted while a wanted one of the same name to another target stays (re-put if the host removed it instead)', () => {
    for (const hostOrder of [['kv1', 'kv2'], ['kv2', 'kv1']]) {
      const sim = new Sim([host('h1')]);
      sim.deploy(app('two', kvLink('kv1', ['atomics']) + kvLink('kv2', ['store'])));
      sim.converge();
      const byTarget = new Map(sim.observed.links.map((l) => [l.link.target, l]));
      sim.observed = { ...sim.observed, links: hostOrder.map((t) => byTarget.get(t)!) };
      sim.deploy(app('two', kvLink('kv2', ['store'])), 'v2');
      const p = sim.step();
      assert.deepEqual(p.commands.filter((c) => c.kind === 'DeleteLink').map((c) => c.kind === 'DeleteLink' && c.target), ['kv1']);
      sim.converge();
      assert.deepEqual(linksOf(sim), [['kv2', ['store']]], `host order ${hostOrder.join(',')}`);
    }
  });

  it('an applied link deleted in flight is done once its target is gone, whatever else of that name remains', () => {
    const del: Command = { kind: 'DeleteLink', source_id: 'comp', link_name: 'default', wit_namespace: 'wasi', wit_package: 'keyvalue', model_name: 'a', target: 'kv1' };
    const o = (...ls: LinkDef[]) => observedWith([host('h1')], { links: ls.map((l) => linkState(l)) });
    assert.equal(isSatisfied(del, o(def('kv1', ['atomics']), def('kv2', ['store']))), false);
    assert.equal(isSatisfied(del, o(def('kv2', ['store']))), true);
    const { target: _t, ...older } = del; // recorded by an older wadm-ts: any link of that name
    assert.equal(isSatisfied(older, o(def('kv2', ['store']))), false);
    assert.equal(isSatisfied(older, o()), true);
    assert.equal(commandKey(del), 'link:comp:wasi:keyvalue:default:kv1');
    assert.equal(commandKey(older), 'link:comp:wasi:keyvalue:default');
  });

  it('a put failure backs off only the link with that identity', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(app('two-targets', kvLink('kv1', ['atomics']) + kvLink('kv2', ['store'])));
    sim.failure({ what: 'link', subject: stateKeys.link({ lattice: 'default' }, 'comp', 'wasi', 'keyvalue', 'default', 'kv1'), error: 'rejected', at: sim.now - 10 });
    assert.deepEqual(puts(sim.plan().commands).map((c) => c.target), ['kv2']);
  });

  it('an applied link not observed is marked unseen under an id naming its target', () => {
    const sim = new Sim([host('h1')]);
    sim.unseenGraceMs = 10_000;
    const links = [{ source_id: 'comp', wit_namespace: 'wasi', wit_package: 'keyvalue', name: 'default', target: 'kv1' }];
    sim.applied = [{ app: 'gone', links, configs: {} }];
    assert.deepEqual(sim.plan().applied, [{ app: 'gone', links, configs: {}, unseen: { 'link:comp/wasi/keyvalue/default/kv1': sim.now } }]);
  });
});

describe('applied records written without target (older wadm-ts)', () => {
  const legacy: AppliedRecord = { app: 'old', links: [{ source_id: 'comp', wit_namespace: 'wasi', wit_package: 'keyvalue', name: 'default' }], configs: {} };
  const plan = (o: { apps?: Sim['apps']; links: LinkDef[]; applied?: AppliedRecord[]; graceMs?: number; now?: number }) =>
    planLattice({
      lattice: 'default',
      now: o.now ?? 1000,
      apps: o.apps ?? [],
      applied: o.applied ?? [legacy],
      observed: observedWith([host('h1')], { links: o.links.map((l) => linkState(l)) }),
      inflight: [],
      unseenGraceMs: o.graceMs ?? 0,
    });
  const deletes = (cmds: readonly Command[]): Array<string | undefined> => cmds.flatMap((c) => (c.kind === 'DeleteLink' ? [c.target] : []));

  it('stand for every observed link of that name (any target): each is deleted, and the entry stays until they are gone', () => {
    const p = plan({ links: [def('kv1', ['atomics']), def('kv2', ['store']), def('kv3', ['batch'], 'other')] });
    assert.deepEqual(deletes(p.commands), ['kv1', 'kv2']);
    assert.deepEqual(p.applied, [legacy]);
    assert.deepEqual(plan({ links: [] }).applied, [], 'nothing of that name left: forgotten (no grace here)');
  });

  it('spare the links another deployed app wants', () => {
    const other = new Sim([host('h1')]).deploy(app('other', kvLink('kv2', ['store'])));
    const p = plan({ apps: [other], links: [def('kv1', ['atomics']), def('kv2', ['store'])] });
    assert.deepEqual(deletes(p.commands), ['kv1']);
  });

  it('give way to the entries with target once every link of that name is wanted again', () => {
    const again = new Sim([host('h1')]).deploy(app('old', kvLink('kv1', ['atomics'])));
    const p = plan({ apps: [again], links: [def('kv1', ['atomics'])] });
    assert.deepEqual(p.commands.filter((c) => c.kind === 'DeleteLink' || c.kind === 'PutLink'), []);
    assert.deepEqual(p.applied.find((r) => r.app === 'old')?.links, [{ source_id: 'comp', wit_namespace: 'wasi', wit_package: 'keyvalue', name: 'default', target: 'kv1' }]);
  });

  it('keep their unseen id without target, and are forgotten after the grace period', () => {
    const p = plan({ links: [], graceMs: 10_000, now: 5000 });
    assert.deepEqual(p.applied, [{ ...legacy, unseen: { 'link:comp/wasi/keyvalue/default': 5000 } }]);
    assert.deepEqual(plan({ links: [], graceMs: 10_000, now: 20_000, applied: p.applied }).applied, []);
  });
});
