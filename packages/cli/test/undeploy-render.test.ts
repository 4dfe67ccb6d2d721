/** `wadm app undeploy` output: the plain form keeps the wash wording; a non-destructive one says what was left running. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { undeployText } from '../src/render.js';

test('undeploy text: plain, non-destructive, and the clean-up after a non-destructive undeploy', () => {
  assert.deepEqual(undeployText({ result: 'acknowledged', message: 'Successfully undeployed application web', name: 'web', version: null }), ['Undeployed application: web']);
  const kept = 'Successfully undeployed application web non-destructively: its instances, providers, links and configs are left running';
  assert.deepEqual(undeployText({ result: 'acknowledged', message: kept, name: 'web', version: null }), ['Undeployed application: web', kept]);
  const cleaned = 'Successfully undeployed application web; the resources it left running are now removed';
  assert.deepEqual(undeployText({ result: 'acknowledged', message: cleaned, name: 'web', version: null }), ['Undeployed application: web', cleaned]);
});
