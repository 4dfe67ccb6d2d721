import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, checkedName, deleteVersionField, nonDestructiveField, parseRequestBody, versionField } from '../src/request.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('request bodies: empty is {}, anything but a JSON object is refused', () => {
  assert.deepEqual(parseRequestBody(new Uint8Array(), 'deploy application'), {});
  assert.deepEqual(parseRequestBody(enc('{"version":"v1"}'), 'deploy application'), { version: 'v1' });
  assert.throws(() => parseRequestBody(enc('[1]'), 'deploy application'), { message: 'Unable to parse deploy application request: expected a JSON object, found an array' });
  assert.throws(() => parseRequestBody(enc('3'), 'get application'), { message: 'Unable to parse get application request: expected a JSON object, found 3' });
  assert.throws(() => parseRequestBody(enc('{'), 'get application'), ApiError);
});

test('request fields: version, delete_all and non_destructive', () => {
  assert.equal(versionField({}, 'x'), null);
  assert.equal(versionField({ version: 'v1' }, 'x'), 'v1');
  assert.throws(() => versionField({ version: 1 }, 'x'), { message: 'Unable to parse x request: invalid type for field `version`: expected a string, found 1' });
  assert.equal(deleteVersionField({ version: '', delete_all: true }), null);
  assert.equal(deleteVersionField({ version: 'v1' }), 'v1');
  assert.equal(nonDestructiveField({}), false);
  assert.equal(nonDestructiveField({ non_destructive: true }), true);
  assert.throws(() => nonDestructiveField({ non_destructive: 'yes' }), ApiError);
  assert.throws(() => nonDestructiveField({ non_destructive: true, destructive: true }), {
    message: 'Unable to parse undeploy application request: `non_destructive` and `destructive` are both true',
  });
});

test('app names from the subject must be valid names and KV tokens', () => {
  assert.equal(checkedName('my-app_1'), 'my-app_1');
  assert.throws(() => checkedName('bad name'), /contains invalid characters/);
});
