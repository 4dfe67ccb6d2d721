import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppliedEntity, InFlightEntity, Keyed } from '@wadm-ts/entities';
import { commandKey, planLattice } from '../src/plan/index.js';
import { reconcile, UNDEPLOYED_STATUS, type ReconcileInput, type StoredAppRead } from '../src/plan/reconcile.js';
import type { AppliedRecord, Command } from '../src/types.js';
import { appHeader, component, HELLO } from './fixtures.js';
import { applyToObserved, deployed, host, observedWith } from './plan-sim.js';

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

  describe('rollouts (auto-revert and the healthy-version history)', () => {
    const policy = `
  policies:
    - name: rollout
      type: rollout
      properties: { autoRevert: true, healthyDeadline: 3 }`;
    const good = deployed(`${appHeader('r')}${component('hello', HELLO, 1)}`, 'v1');
    const broken = deployed(`${appHeader('r')}${component('hello', 'ghcr.io/broken/hello:9.9.9', 1)}${policy}`, 'v2');
    const record = (over: Partial<StoredAppRead>): StoredAppRead => ({
      name: 'r',
      deployedVersion: 'v2',
      versions: [
        { version: 'v1', manifest: good.manifest },
        { version: 'v2', manifest: broken.manifest },
      ],
      released: false,
      revision: 7,
      ...over,
    });
    // v2 cannot run: no host is observed running it, so it never reaches `deployed`.
    const history = { deployed: { version: 'v2', atMs: 1000 }, healthyVersions: ['v1'] };

    it('before the deadline: no write, and the pass comes back when it ends', () => {
      const r = reconcile(input({ now: 2000, stored: [record({ rollout: history })] }));
      assert.deepEqual(r.rollouts, { reverts: [], marks: [] });
      assert.ok(r.requeueAfterMs !== undefined && r.requeueAfterMs <= 1000 + 3000 - 2000, `requeue ${r.requeueAfterMs}`);
    });

    it('past the deadline: a revert to the last healthy version on the revision read; the status changes only once it is written', () => {
      const r = reconcile(input({ now: 5000, stored: [record({ rollout: history })] }));
      assert.equal(r.rollouts.reverts.length, 1);
      const w = r.rollouts.reverts[0]!;
      assert.equal(w.app, 'r');
      assert.equal(w.revision, 7);
      assert.equal(w.from, 'v2');
      assert.equal(w.to, 'v1');
      assert.equal(w.status.status.type, 'reconciling');
      assert.match(w.status.status.message ?? '', /^reverted from v2 to v1: v2 did not become deployed within 3s/);
      assert.notEqual(r.statuses['r']?.status.message, w.status.status.message);
    });

    it('a deployed version is marked healthy (history only); a version without a recorded start gets one', () => {
      const fresh = reconcile(input({ now: 2000, stored: [record({})] }));
      assert.deepEqual(fresh.rollouts.marks, [{ app: 'r', revision: 7, rollout: { deployed: { version: 'v2', atMs: 2000 }, healthyVersions: [] } }]);
      const plain = { ...app('a', 1), revision: 3 };
      const first = reconcile(input({ stored: [plain] }));
      // Not deployed yet (nothing runs): nothing to mark; once the hosts run it, a mark.
      assert.deepEqual(first.rollouts.marks, []);
      const running = applyToObserved(observedWith([host('h1')]), first.commands);
      const second = reconcile(input({ now: 1500, stored: [plain], observed: running }));
      assert.equal(second.statuses['a']?.status.type, 'deployed');
      // Without autoRevert the healthy mark is history only (the owner may write it once the lattice is quiet).
      assert.deepEqual(second.rollouts.marks, [{ app: 'a', revision: 3, rollout: { deployed: { version: plain.deployedVersion!, atMs: 1500, healthyAtMs: 1500 }, healthyVersions: [plain.deployedVersion!] }, history: true }]);
    });

    it('the healthy mark of a version with autoRevert is not history only: it stops a later revert', () => {
      const fixed = deployed(`${appHeader('r')}${component('hello', HELLO, 1)}${policy}`, 'v3');
      const stored: StoredAppRead = { name: 'r', deployedVersion: 'v3', versions: [{ version: 'v1', manifest: good.manifest }, { version: 'v3', manifest: fixed.manifest }], released: false, revision: 9, rollout: { deployed: { version: 'v3', atMs: 1000 }, healthyVersions: ['v1'] } };
      const first = reconcile(input({ now: 1200, stored: [stored] }));
      const running = applyToObserved(observedWith([host('h1')]), first.commands);
      const r = reconcile(input({ now: 1500, stored: [stored], observed: running }));
      assert.equal(r.statuses['r']?.status.type, 'deployed');
      assert.deepEqual(r.rollouts.marks, [{ app: 'r', revision: 9, rollout: { deployed: { version: 'v3', atMs: 1000, healthyAtMs: 1500 }, healthyVersions: ['v1', 'v3'] } }]);
    });
  });
});

