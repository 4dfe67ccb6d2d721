import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Manifest } from '@wadm-ts/model';
import type { StoredApp } from '@wadm-ts/store';
import { planCandidateOfManifest, planCandidateOfVersion, planLattice, planReply } from '../src/plan.js';

const m = (name: string, annotations: Record<string, string>): Manifest =>
  ({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name, annotations }, spec: { components: [] } }) as unknown as Manifest;
const app = (name: string, deployedVersion: string | null, extra: Partial<StoredApp> = {}): StoredApp => ({
  name,
  versions: [
    { version: 'v1', manifest: m(name, { version: 'v1' }) },
    { version: 'v2', manifest: m(name, { version: 'v2' }) },
  ],
  deployedVersion,
  ...extra,
});

test('a manifest candidate keeps its version (none: empty) and must name the app of the subject', () => {
  const unversioned = m('a', {});
  assert.deepEqual(planCandidateOfManifest('a', 'a', unversioned), { ok: true, value: { name: 'a', version: '', manifest: unversioned } });
  const versioned = planCandidateOfManifest('a', 'a', m('a', { version: 'v3' }));
  assert.ok(versioned.ok);
  assert.equal(versioned.value.version, 'v3');
  assert.equal(versioned.value.manifest.metadata.annotations['version'], 'v3');
  assert.deepEqual(planCandidateOfManifest('a', 'b', unversioned), { ok: false, message: 'Manifest name b does not match the application a of the plan subject' });
});

test('a stored candidate is the latest or the version asked for', () => {
  const a = app('a', 'v1');
  const latest = planCandidateOfVersion(a, 'a', null);
  assert.ok(latest.ok);
  assert.equal(latest.value.version, 'v2');
  const named = planCandidateOfVersion(a, 'a', 'v1');
  assert.ok(named.ok);
  assert.equal(named.value.manifest, a.versions[0]!.manifest);
  assert.deepEqual(planCandidateOfVersion(a, 'a', 'v9'), { ok: false, message: "Application a with version v9 doesn't exist" });
  assert.deepEqual(planCandidateOfVersion(null, 'a', 'v1'), { ok: false, message: 'Application with the name a not found' });
  assert.deepEqual(planCandidateOfVersion({ ...a, versions: [] }, 'a', null), { ok: false, message: 'Application with the name a not found' });
});

test('the lattice of a plan: the deployed version, the other deployed apps, the released ones', () => {
  const self = app('a', 'v1');
  const apps = [self, app('b', 'v2'), app('c', null), app('d', null, { released: { version: 'v1' } }), app('a2', null)];
  const l = planLattice('a', self, apps);
  assert.deepEqual(l.deployed, { name: 'a', version: 'v1', manifest: self.versions[0]!.manifest });
  assert.deepEqual(
    l.others.map((o) => [o.name, o.version]),
    [['b', 'v2']],
  );
  assert.deepEqual(l.released, ['d']);
  assert.equal(planLattice('a', null, apps).deployed, null);
  assert.equal(planLattice('a', app('a', null), apps).deployed, null);
});

test('the plan reply says how much would change', () => {
  const candidate = { name: 'a', version: 'v2', manifest: m('a', { version: 'v2' }) };
  assert.deepEqual(planReply('a', candidate, 'v1', { changes: [], commands: [] }), {
    result: 'success',
    message: 'Deploying application a v2 would change nothing',
    name: 'a',
    version: 'v2',
    deployed_version: 'v1',
    changes: [],
    commands: [],
  });
  const busy = planReply('a', candidate, null, { changes: [{}, {}] as never[], commands: [{}] as never[] });
  assert.equal(busy.message, 'Deploying application a v2 would make 2 change(s) and issue 1 command(s)');
  assert.equal(busy.deployed_version, null);
});
