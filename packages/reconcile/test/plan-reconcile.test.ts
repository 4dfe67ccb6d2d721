import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppliedEntity, InFlightEntity, Keyed } from '@wadm-ts/entities';
import { commandKey, planLattice } from '../src/plan/index.js';
import { reconcile, UNDEPLOYED_STATUS, type ReconcileInput, type StoredAppRead } from '../src/plan/reconcile.js';
import type { AppliedRecord, Command } from '../src/types.js';
import { appHeader, component, HELLO } from './fixtures.js';
import { deployed, host, observedWith } from './plan-sim.js';

const app = (name: string, instances = 2): StoredAppRead => {
  const d = deployed(`${appHeader(name)}${component('hello', HELLO, instances)}`);
  return { name, deployedVersion: d.version, versions: [{ version: d.version, manifest: d.manifest }], released: false };
};
const input = (over: Partial<ReconcileInput> = {}): ReconcileInput => ({
  lattice: 'l',
  now: 1000,
  stored: [],
  gone: [],
  observed: observedWith([host('h1')]),
  inflight: [],
  applied: [],
  ...over,
});
const inflightRecord = (key: string, commands: Command[], expiresAt: number, revision = 1): Keyed<InFlightEntity> => ({
  key,
  revision,
  value: { kind: 'inflight', key, entries: commands.map((c) => ({ key: commandKey(c), command: c, issuedAt: 0, expiresAt })), issuedAt: 0, expiresAt, epoch: 1 },
});
const appliedRecord = (record: AppliedRecord, revision = 1): Keyed<AppliedEntity> => ({ key: `applied.${record.app}`, revision, value: { kind: 'applied', record, epoch: 1 } });
const putConfig = (name: string): Command => ({ kind: 'PutConfig', config_name: name, config: { a: '1' }, model_name: 'a' });

describe('reconcile (the pure pass)', () => {
  it('plans the deployed apps as planLattice does, and comes back when an in-flight entry expires', () => {
    const r = reconcile(input({ stored: [app('a')] }));
    assert.deepEqual(r.apps.map((a) => a.name), ['a']);
    const plan = planLattice({ lattice: 'l', now: 1000, apps: r.apps, applied: [], observed: observedWith([host('h1')]), inflight: [], backoffMs: 5000 });
    assert.deepEqual(r.commands, plan.commands);
    assert.deepEqual(r.statuses, plan.statuses);
    assert.equal(r.requeueAfterMs, undefined);
    assert.equal(r.idle, false);

    // The same commands in flight: nothing to send, back when they expire.
    const again = reconcile(input({ stored: [app('a')], inflight: [inflightRecord('b-1', r.commands, 6000)] }));
    assert.deepEqual(again.commands, []);
    assert.equal(again.requeueAfterMs, 5000);
    assert.deepEqual(again.records.purge, []);
  });

  it('without hosts every deployed app waits: no commands, no writes, no requeue', () => {
    const applied = appliedRecord({ app: 'a', links: [], configs: { c: 'h' } });
    const r = reconcile(input({ stored: [app('a')], observed: observedWith([]), applied: [applied] }));
    assert.deepEqual(r.commands, []);
    assert.equal(r.statuses['a']?.status.type, 'waiting');
    assert.deepEqual(r.records, { purge: [], write: [], remove: [] });
    assert.equal(r.requeueAfterMs, undefined);
    assert.equal(r.idle, false);
    assert.equal(reconcile(input({ observed: observedWith([]) })).idle, true);
  });

  it('stored apps not deployed are undeployed; deleted apps are undeployed once, unless stored again', () => {
    const r = reconcile(input({ stored: [{ ...app('a'), deployedVersion: null }, app('b')], gone: ['b', 'c'] }));
    assert.equal(r.statuses['a'], UNDEPLOYED_STATUS);
    assert.deepEqual(Object.keys(r.gone), ['c']);
    assert.equal(r.gone['c'], UNDEPLOYED_STATUS);
    assert.deepEqual(r.apps.map((x) => x.name), ['b']);
  });

  it('released apps say what they left running', () => {
    const r = reconcile(input({ stored: [{ ...app('a'), deployedVersion: null, released: true }] }));
    assert.equal(r.statuses['a']?.status.type, 'undeployed');
    assert.notEqual(r.statuses['a'], UNDEPLOYED_STATUS);
  });

  it('purges finished in-flight records when nothing is sent, keeps them during a small burst', () => {
    const done = inflightRecord('b-old', [putConfig('x')], 500);
    const quiet = reconcile(input({ inflight: [done] }));
    assert.deepEqual(quiet.commands, []);
    assert.deepEqual(quiet.records.purge, [done]);
    const busy = reconcile(input({ stored: [app('a')], inflight: [done] }));
    assert.ok(busy.commands.length > 0);
    assert.deepEqual(busy.records.purge, []);
  });

  it('writes only applied records that changed, with the entry they replace, and removes those of apps that own nothing', () => {
    const stale = appliedRecord({ app: 'gone', links: [], configs: {} });
    const first = reconcile(input({ stored: [app('a')], applied: [stale] }));
    assert.deepEqual(first.records.write, []);
    assert.deepEqual(first.records.remove, [stale]);

    // A managed config no longer wanted and not seen: kept on record, marked unseen (a change: written).
    const old = appliedRecord({ app: 'a', links: [], configs: { old: 'h' } });
    const marked = reconcile(input({ stored: [app('a')], applied: [old] }));
    assert.equal(marked.records.write.length, 1);
    assert.equal(marked.records.write[0]!.current, old);
    assert.deepEqual(marked.records.write[0]!.record, { app: 'a', links: [], configs: { old: 'h' }, unseen: { 'config:old': 1000 } });
    assert.deepEqual(marked.records.remove, []);

    // The record as written, read back (its keys in any order): nothing to write.
    const { app: name, ...rest } = marked.records.write[0]!.record;
    const readBack = appliedRecord({ ...rest, app: name });
    const next = reconcile(input({ now: 2000, stored: [app('a')], applied: [readBack] }));
    assert.deepEqual(next.records.write, []);
    assert.equal(next.requeueAfterMs, 1000 + 60_000 - 2000);
  });
});
