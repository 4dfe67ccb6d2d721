import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Manifest } from '@wadm-ts/model';
import { decodeStoredApp, encodeStoredApp, releasedOf, type StoredApp } from '../src/stored-app.js';

const m = (version: string): Manifest =>
  ({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: 'a', annotations: { version } }, spec: { components: [] } }) as unknown as Manifest;

test('the non-destructive undeploy marker is an additive key of the Rust record layout, kept only while nothing is deployed', () => {
  const released: StoredApp = { name: 'a', versions: [{ version: 'v1', manifest: m('v1') }], deployedVersion: null, released: { version: 'v1' } };
  const text = encodeStoredApp(released);
  const json = JSON.parse(text) as Record<string, unknown>;
  // The Rust wadm's two keys, unchanged; the marker beside them (serde ignores unknown keys).
  assert.deepEqual(Object.keys(json), ['manifests', 'deployed_version', 'non_destructive_undeploy']);
  assert.equal(json['deployed_version'], null);
  assert.deepEqual(json['non_destructive_undeploy'], { version: 'v1' });
  const back = decodeStoredApp('a', text);
  assert.deepEqual(releasedOf(back), { version: 'v1' });
  assert.deepEqual(decodeStoredApp('a', encodeStoredApp(back)), back);
  // Versions that look like array indexes take the ordered (YAML) decode path: the marker is read there too.
  const numeric: StoredApp = { name: 'a', versions: [{ version: '2', manifest: m('2') }, { version: '1', manifest: m('1') }], deployedVersion: null, released: { version: '1' } };
  assert.deepEqual(releasedOf(decodeStoredApp('a', encodeStoredApp(numeric))), { version: '1' });

  // A deploy (deployed_version set) drops it, in memory and on the wire.
  const redeployed: StoredApp = { ...released, deployedVersion: 'v1' };
  assert.equal(releasedOf(redeployed), undefined);
  assert.deepEqual(Object.keys(JSON.parse(encodeStoredApp(redeployed)) as object), ['manifests', 'deployed_version']);
  assert.equal(decodeStoredApp('a', '{"manifests":{"v1":' + JSON.stringify(m('v1')) + '},"deployed_version":"v1","non_destructive_undeploy":{"version":"v1"}}').released, undefined);
  // A record without it (the Rust wadm's, or a plain undeploy) has none.
  const plain = decodeStoredApp('a', '{"manifests":{"v1":' + JSON.stringify(m('v1')) + '},"deployed_version":null}');
  assert.equal(plain.released, undefined);
  assert.ok(!encodeStoredApp(plain).includes('non_destructive'));
});
