import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Manifest } from '@wadm-ts/model';
import { releasedOf, type StoredApp } from '@wadm-ts/store';
import { decideDelete, decidePut, decideUndeploy } from '../src/decisions.js';

const m = (version: string): Manifest =>
  ({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: 'a', annotations: { version } }, spec: { components: [] } }) as unknown as Manifest;
const deployedApp: StoredApp = { name: 'a', versions: [{ version: 'v1', manifest: m('v1') }], deployedVersion: 'v1' };

test('a non-destructive undeploy marks the record; a plain one of a marked app clears it (cleanup); repeats are no-ops', () => {
  const nd = decideUndeploy(deployedApp, 'a', true);
  assert.equal(nd.kind, 'write');
  assert.ok(nd.kind === 'write');
  assert.equal(nd.app.deployedVersion, null);
  assert.deepEqual(releasedOf(nd.app), { version: 'v1' });
  assert.equal(nd.result.result, 'acknowledged');
  assert.equal(nd.result.version, null);
  assert.match(nd.result.message, /^Successfully undeployed application a non-destructively/);

  // Again non-destructively: already undeployed, nothing written.
  const again = decideUndeploy(nd.app, 'a', true);
  assert.deepEqual(again, { kind: 'keep', result: { result: 'acknowledged', message: 'Application a was already undeployed', name: 'a', version: null } });

  // A plain undeploy now: the marker goes, so the owner cleans up.
  const plain = decideUndeploy(nd.app, 'a', false);
  assert.ok(plain.kind === 'write');
  assert.equal(plain.app.released, undefined);
  assert.equal(plain.app.deployedVersion, null);
  assert.equal(plain.result.result, 'acknowledged');

  // Then it is plainly undeployed.
  assert.equal(decideUndeploy(plain.app, 'a', false).kind, 'keep');
  assert.equal(decideUndeploy(plain.app, 'a', true).kind, 'keep');
  // A plain undeploy of a deployed app is the Rust wadm's, unchanged.
  const p = decideUndeploy(deployedApp, 'a', false);
  assert.ok(p.kind === 'write');
  assert.deepEqual(p.app, { ...deployedApp, deployedVersion: null });
  assert.equal(p.result.message, 'Successfully undeployed application a');
  assert.equal(decideUndeploy(null, 'a', true).result.result, 'notfound');
});

test('putting a new version or deleting another version keeps the marker; deleting the app removes it with the record', () => {
  const marked: StoredApp = { ...deployedApp, deployedVersion: null, released: { version: 'v1' } };
  const put = decidePut(marked, 'a', 'v2', m('v2'), '');
  assert.ok(put.kind === 'write');
  assert.deepEqual(releasedOf(put.app), { version: 'v1' });
  const withTwo = put.app;
  const del = decideDelete(withTwo, 'a', 'v2');
  assert.ok(del.kind === 'write');
  assert.deepEqual(releasedOf(del.app), { version: 'v1' });
  assert.equal(decideDelete(withTwo, 'a', null).kind, 'delete');
});
