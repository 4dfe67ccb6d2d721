import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifest, type Manifest } from '@wadm-ts/model';
import { decodeStoredApp, encodeStoredApp, previousVersion, type StoredApp } from '../src/stored-app.js';
import { rolloutOnDeploy, rolloutOnHealthy, rolloutWithHealthy } from '@wadm-ts/entities';

function manifest(version: string): Manifest {
  const r = parseManifest(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: app, annotations: { version: ${version} } }
spec:
  components:
    - name: hello
      type: component
      properties: { image: ghcr.io/x/hello:1 }
`);
  if (!r.ok) throw new Error(r.error);
  return r.manifest;
}

const base = (): StoredApp => ({ name: 'app', versions: ['v1', 'v2'].map((v) => ({ version: v, manifest: manifest(v) })), deployedVersion: 'v2' });

describe('rollout record beside the app record', () => {
  it('is an extra key after the Rust layout, round-tripped', () => {
    const app: StoredApp = { ...base(), rollout: { deployed: { version: 'v2', atMs: 5, healthyAtMs: 7 }, healthyVersions: ['v1', 'v2'], reverted: { from: 'v3', to: 'v2', atMs: 5, reason: 'r' } } };
    const text = encodeStoredApp(app);
    assert.deepEqual(Object.keys(JSON.parse(text) as object), ['manifests', 'deployed_version', 'rollout']);
    assert.deepEqual(decodeStoredApp('app', text).rollout, app.rollout);
    // The slow (order-preserving) decode path too.
    const numeric: StoredApp = { ...app, versions: [{ version: '2', manifest: manifest('2') }, { version: '1', manifest: manifest('1') }], deployedVersion: '2' };
    const back = decodeStoredApp('app', encodeStoredApp(numeric));
    assert.deepEqual(back.versions.map((v) => v.version), ['2', '1']);
    assert.deepEqual(back.rollout, app.rollout);
  });

  it('is absent for records without it (the Rust wadm writes none), and no key is written then', () => {
    const text = encodeStoredApp(base());
    assert.deepEqual(Object.keys(JSON.parse(text) as object), ['manifests', 'deployed_version']);
    assert.equal(decodeStoredApp('app', text).rollout, undefined);
    assert.equal(previousVersion(base()), undefined);
  });

  it('tolerates a malformed rollout value', () => {
    const text = encodeStoredApp(base()).replace(/}$/, ',"rollout":{"deployed":{"version":3},"healthy_versions":["v1",7,"v1"],"reverted":"x"}}');
    assert.deepEqual(decodeStoredApp('app', text).rollout, { healthyVersions: ['v1'] });
  });

  it('previous version: the last healthy one other than the deployed one, still stored', () => {
    let r = rolloutOnHealthy(undefined, 'v1', 1);
    r = rolloutOnDeploy(r, 'v2', 2);
    assert.equal(previousVersion({ ...base(), rollout: r }), 'v1');
    r = rolloutOnHealthy(r, 'v2', 3);
    assert.deepEqual(r.healthyVersions, ['v1', 'v2']);
    assert.equal(previousVersion({ ...base(), rollout: r }), 'v1');
    assert.equal(previousVersion({ ...base(), deployedVersion: 'v1', rollout: r }), 'v2');
    assert.equal(previousVersion({ ...base(), versions: base().versions.slice(1), rollout: r }), undefined);
  });

  it('a late healthy mark joins the history without touching the deployed version, before it when that one is healthy already', () => {
    const deployed = rolloutOnDeploy(rolloutOnHealthy(undefined, 'v0', 1), 'v2', 5);
    assert.deepEqual(rolloutWithHealthy(deployed, 'v1', 'v2'), { deployed: { version: 'v2', atMs: 5 }, healthyVersions: ['v0', 'v1'] });
    const healthy = rolloutOnHealthy(deployed, 'v2', 6);
    assert.deepEqual(rolloutWithHealthy(healthy, 'v1', 'v2').healthyVersions, ['v0', 'v1', 'v2']);
    assert.equal(previousVersion({ ...base(), deployedVersion: 'v2', rollout: rolloutWithHealthy(healthy, 'v1', 'v2') }), 'v1');
    assert.deepEqual(rolloutWithHealthy(undefined, 'v1', null), { healthyVersions: ['v1'] });
  });
});
