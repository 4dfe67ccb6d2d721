import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Component, Manifest } from '@wadm-ts/model';
import type { StoredApp } from '@wadm-ts/store';
import { decideDeploy, dependentsBlock, publishFailureReply, putSharedNote, stagedVersion } from '../src/decisions.js';

const m = (name: string, version: string, components: Component[] = [], annotations: Record<string, string> = {}): Manifest =>
  ({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name, annotations: { version, ...annotations } }, spec: { components } }) as unknown as Manifest;
const plain: StoredApp = { name: 'a', versions: [{ version: 'v1', manifest: m('a', 'v1') }, { version: 'v2', manifest: m('a', 'v2') }], deployedVersion: null };
const withId = (name: string, id: string): StoredApp => ({
  name,
  versions: [{ version: 'v1', manifest: m(name, 'v1', [{ name: 'c', type: 'component', properties: { image: 'x', id } }]) }],
  deployedVersion: 'v1',
});
const sharedRef: Component = { name: 'ref', type: 'component', properties: { application: { name: 'lib', component: 'c' } } };
const lib: StoredApp = {
  name: 'lib',
  versions: [{ version: 'v1', manifest: m('lib', 'v1', [{ name: 'c', type: 'component', properties: { image: 'x' } }], { 'experimental.wasmcloud.dev/shared': 'true' }) }],
  deployedVersion: 'v1',
};

test('the staged version: the latest for none or `latest`, else the one named', () => {
  assert.equal(stagedVersion(plain, null)?.version, 'v2');
  assert.equal(stagedVersion(plain, 'latest')?.version, 'v2');
  assert.equal(stagedVersion(plain, 'v1')?.version, 'v1');
  assert.equal(stagedVersion(plain, 'v9'), undefined);
});

test('deploy writes the deployed version and answers acknowledged with what it deploys', () => {
  const d = decideDeploy(plain, 'a', null, undefined, 1000);
  assert.ok(d.kind === 'write');
  assert.equal(d.app.deployedVersion, 'v2');
  assert.ok(!d.result.needOthers);
  assert.deepEqual(d.result.reply, { result: 'acknowledged', message: 'Successfully deployed application a v2', name: 'a', version: 'v2' });
  assert.equal(d.result.deployed, plain.versions[1]!.manifest);
  // Deploying it again writes nothing and still acknowledges.
  const again = decideDeploy(d.app, 'a', 'v2', undefined, 2000);
  assert.equal(again.kind, 'keep');
  assert.ok(!again.result.needOthers);
  assert.equal(again.result.reply['result'], 'acknowledged');
});

test('deploy of an unknown app or version keeps the record and answers notfound / error', () => {
  assert.deepEqual(decideDeploy(null, 'a', 'v1', undefined, 0), {
    kind: 'keep',
    result: { needOthers: false, reply: { result: 'notfound', message: 'Application with the name a not found', name: 'a', version: 'v1' } },
  });
  const missing = decideDeploy(plain, 'a', 'v9', undefined, 0);
  assert.equal(missing.kind, 'keep');
  assert.ok(!missing.result.needOthers);
  assert.deepEqual(missing.result.reply, { result: 'error', message: "Application with the name 'a' does not have a version 'v9' to deploy", name: 'a', version: 'v9' });
});

test('deploy asks for the lattice only when the version needs it; an id clash is the generic error', () => {
  const mine = withId('a', 'shared-id');
  assert.deepEqual(decideDeploy({ ...mine, deployedVersion: null }, 'a', null, undefined, 0), { kind: 'keep', result: { needOthers: true } });
  const clash = decideDeploy({ ...mine, deployedVersion: null }, 'a', null, [withId('b', 'shared-id')], 0);
  assert.equal(clash.kind, 'keep');
  assert.ok(!clash.result.needOthers);
  assert.deepEqual(clash.result.reply, { result: 'error', message: "Component identifier 'shared-id' is already deployed in a different application 'b'." });
  assert.equal(decideDeploy({ ...mine, deployedVersion: null }, 'a', null, [], 0).kind, 'write');
});

test('put notes shared components whose shared app is not deployed', () => {
  const user = m('u', 'v1', [sharedRef]);
  assert.equal(putSharedNote(user, 'u', []), ', but some shared components are not deployed: ["ref"]');
  assert.equal(putSharedNote(user, 'u', [lib]), '');
  assert.equal(putSharedNote(m('u', 'v1'), 'u', []), '');
});

test('a shared app used by a deployed app may not be undeployed or deleted', () => {
  const user: StoredApp = { name: 'u', versions: [{ version: 'v1', manifest: m('u', 'v1', [sharedRef]) }], deployedVersion: 'v1' };
  assert.equal(
    dependentsBlock('undeploy', lib, [lib, user]),
    'Cannot undeploy application lib: it is a shared application used by deployed application(s) u; undeploy them first',
  );
  assert.match(dependentsBlock('delete', lib, [lib, user]) ?? '', /^Cannot delete application lib:/);
  assert.equal(dependentsBlock('undeploy', lib, [lib, { ...user, deployedVersion: null }]), undefined);
});

test('a write whose event was not published answers the error of each operation', () => {
  assert.deepEqual(publishFailureReply('deploy', 'a', 'v1'), {
    result: 'error',
    message: 'Error notifying processors of newly deployed manifest. This is likely a transient error, so please retry the request',
    name: 'a',
    version: 'v1',
  });
  assert.deepEqual(publishFailureReply('undeploy', 'a', null), {
    result: 'error',
    message: 'Error notifying processors of undeployed manifest. This is likely a transient error, so please retry the request',
    name: 'a',
    version: null,
  });
  assert.deepEqual(publishFailureReply('delete', 'a', null), {
    result: 'error',
    message:
      'Error notifying processors of newly undeployed manifest on delete. This is likely a transient error, so please retry the request. Please note that the response will say it is a noop, but will notify the processors',
    undeploy: false,
  });
});
