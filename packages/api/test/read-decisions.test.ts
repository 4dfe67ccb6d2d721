import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifestToJson, type Manifest, type Status } from '@wadm-ts/model';
import type { StoredApp } from '@wadm-ts/store';
import { getReply, listReply, statusReply, summarize } from '../src/decisions.js';

const m = (version: string): Manifest =>
  ({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: 'a', annotations: { version } }, spec: { components: [] } }) as unknown as Manifest;
const app: StoredApp = { name: 'a', versions: [{ version: 'v1', manifest: m('v1') }, { version: 'v2', manifest: m('v2') }], deployedVersion: 'v1' };

test('get answers the latest version, the one asked for, or notfound (docs/wire/api.md §2.2)', () => {
  assert.deepEqual(getReply(app, 'a', null), { result: 'success', message: 'Successfully fetched application a', manifest: manifestToJson(m('v2')) });
  assert.deepEqual(getReply(app, 'a', 'v1'), { result: 'success', message: 'Successfully fetched application a v1', manifest: manifestToJson(m('v1')) });
  assert.deepEqual(getReply(app, 'a', 'v9'), { result: 'notfound', message: "Application a with version v9 doesn't exist" });
  assert.deepEqual(getReply(null, 'a', null), { result: 'notfound', message: 'Application with the name a not found' });
  assert.deepEqual(getReply(null, 'a', 'v1'), { result: 'notfound', message: 'Application with the name a not found' });
  assert.deepEqual(getReply({ ...app, versions: [], deployedVersion: null }, 'a', null), { result: 'notfound', message: 'Application with the name a not found' });
});

test('status answers the last published status, or the default undeployed one', () => {
  assert.deepEqual(statusReply('a', undefined), {
    result: 'ok',
    message: 'Successfully fetched status for application a',
    status: { status: { type: 'undeployed' }, version: '', components: [] },
  });
  const deployed: Status = { status: { type: 'deployed' }, version: 'v1', components: [] };
  assert.deepEqual(statusReply('a', deployed).status, { status: { type: 'deployed' }, version: 'v1', components: [] });
});

test('the list reply wraps the summaries; an app without a status is summarised as undeployed', () => {
  const s = summarize(app, undefined);
  assert.equal(s.version, 'v2');
  assert.equal(s.deployed_version, 'v1');
  assert.equal(s.status, 'undeployed');
  assert.deepEqual(listReply([s]), { result: 'success', message: 'Successfully fetched list of applications', models: [s] });
  assert.deepEqual(Object.keys(listReply([])), ['result', 'message', 'models']);
});
