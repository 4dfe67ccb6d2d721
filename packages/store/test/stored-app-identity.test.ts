import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Manifest } from '@wadm-ts/model';
import { decodeStoredApp, encodeStoredApp, type StoredApp } from '../src/stored-app.js';

const m = (version: string, image = 'ghcr.io/x/y:1'): Manifest =>
  ({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: 'a', annotations: { version } }, spec: { components: [{ name: 'c', type: 'component', properties: { image } }] } }) as unknown as Manifest;

test('a record decoded again keeps the manifest objects of the versions it did not change', () => {
  const first: StoredApp = { name: 'a', versions: [{ version: 'v1', manifest: m('v1') }, { version: 'v2', manifest: m('v2') }], deployedVersion: null };
  const before = decodeStoredApp('a', encodeStoredApp(first));
  // Deployed, then its rollout history written: the same manifests, the very same objects.
  const deployed = decodeStoredApp('a', encodeStoredApp({ ...before, deployedVersion: 'v2', rollout: { deployed: { version: 'v2', atMs: 5 }, healthyVersions: [] } }), before);
  assert.equal(deployed.deployedVersion, 'v2');
  assert.equal(deployed.versions[0]!.manifest, before.versions[0]!.manifest);
  assert.equal(deployed.versions[1]!.manifest, before.versions[1]!.manifest);
  assert.equal(deployed.rollout?.deployed?.version, 'v2');
  // A new version is a new object; a version whose manifest differs (a record rewritten elsewhere) too.
  const text = encodeStoredApp({ name: 'a', versions: [{ version: 'v1', manifest: m('v1', 'ghcr.io/x/y:other') }, ...before.versions.slice(1), { version: 'v3', manifest: m('v3') }], deployedVersion: 'v2' });
  const again = decodeStoredApp('a', text, deployed);
  assert.notEqual(again.versions[0]!.manifest, before.versions[0]!.manifest);
  assert.deepEqual(again.versions[0]!.manifest, m('v1', 'ghcr.io/x/y:other'));
  assert.equal(again.versions[1]!.manifest, before.versions[1]!.manifest);
  assert.deepEqual(again.versions[2]!.manifest, m('v3'));
  // Equal values with their keys in another order are another manifest text: not kept.
  const reordered = JSON.parse(encodeStoredApp(before)) as { manifests: Record<string, Record<string, unknown>> };
  const v1 = reordered.manifests['v1']!;
  reordered.manifests['v1'] = { kind: v1['kind'], apiVersion: v1['apiVersion'], metadata: v1['metadata'], spec: v1['spec'] };
  assert.notEqual(decodeStoredApp('a', JSON.stringify(reordered), before).versions[0]!.manifest, before.versions[0]!.manifest);
});
