import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { minAvailable, rolloutPolicyOf, validateManifest, type Manifest } from '../src/index.js';
import { lines, manifest, parseOk } from './helpers.js';

function withPolicies(policies: NonNullable<Manifest['spec']['policies']>): Manifest {
  const m = manifest([]);
  m.spec.policies = policies;
  return m;
}

describe('rollout policy', () => {
  it('defaults without a policy: maxUnavailable 1, 300 s deadline, no auto-revert', () => {
    assert.deepEqual(rolloutPolicyOf(manifest([])), { maxUnavailable: 1, healthyDeadlineMs: 300_000, autoRevert: false });
  });

  it('reads the values of a YAML policy (scalars arrive as text)', () => {
    const { manifest: m } = parseOk(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: r, annotations: {version: v1}}
spec:
  components: []
  policies:
    - name: safe
      type: rollout
      properties: {maxUnavailable: 0, healthyDeadline: 20, autoRevert: true}
`);
    assert.deepEqual(validateManifest(m), []);
    assert.deepEqual(rolloutPolicyOf(m), { maxUnavailable: 0, healthyDeadlineMs: 20_000, autoRevert: true, policy: 'safe' });
  });

  it('takes JSON numbers and booleans in a rollout policy as their text', () => {
    const json = JSON.stringify({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'r', annotations: { version: 'v1' } },
      spec: { components: [], policies: [{ name: 'p', type: 'rollout', properties: { maxUnavailable: 2, healthyDeadline: 1.5, autoRevert: false } }] },
    });
    const { manifest: m } = parseOk(json, { contentType: 'application/json' });
    assert.deepEqual(rolloutPolicyOf(m), { maxUnavailable: 2, healthyDeadlineMs: 1500, autoRevert: false, policy: 'p' });
  });

  it('rejects bad values with errors naming the policy and the property', () => {
    const m = withPolicies([{ name: 'p', type: 'rollout', properties: { maxUnavailable: '-1', healthyDeadline: 'soon', autoRevert: 'yes', surge: '1' } }]);
    assert.deepEqual(lines(validateManifest(m)), [
      "error: rollout policy 'p': maxUnavailable must be a non-negative integer, got '-1'",
      "error: rollout policy 'p': healthyDeadline must be a number of seconds above 0 (at most 604800), got 'soon'",
      "error: rollout policy 'p': autoRevert must be true or false, got 'yes'",
      "warning: rollout policy 'p': unknown property 'surge' is ignored (known: maxUnavailable, healthyDeadline, autoRevert)",
    ]);
  });

  it('rejects a second rollout policy and leaves other policy types alone', () => {
    const m = withPolicies([
      { name: 'a', type: 'rollout', properties: {} },
      { name: 'b', type: 'rollout', properties: {} },
      { name: 'c', type: 'anything', properties: { maxUnavailable: 'x' } },
    ]);
    assert.deepEqual(lines(validateManifest(m)), ["error: only one rollout policy is allowed, found 2: 'a', 'b'"]);
  });

  it('minAvailable: instances - maxUnavailable, never below 1 while instances >= 1', () => {
    assert.equal(minAvailable(3, 1), 2);
    assert.equal(minAvailable(3, 0), 3);
    assert.equal(minAvailable(3, 5), 1);
    assert.equal(minAvailable(1, 1), 1);
    assert.equal(minAvailable(0, 1), 0);
  });
});
