import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Status } from '@wadm-ts/model';
import { decideRollout, withRevertNote, type RolloutApp } from '../src/plan/revert.js';
import { appHeader, component, HELLO } from './fixtures.js';
import { manifest } from './plan-sim.js';

const policy = (props: string): string => `
  policies:
    - name: rollout
      type: rollout
      properties: { ${props} }`;
const m = (image: string, props?: string) => manifest(appHeader('app') + component('hello', image, 2) + (props ? policy(props) : ''));
const GOOD = m(HELLO);
const BROKEN = m('ghcr.io/broken/hello:9.9.9', 'autoRevert: true, healthyDeadline: 3');
const BROKEN_NO_REVERT = m('ghcr.io/broken/hello:9.9.9', 'autoRevert: false, healthyDeadline: 3');

const st = (type: Status['status']['type'], message?: string): Status => ({ status: message ? { type, message } : { type }, version: '', components: [] });
const T0 = 1_000_000;

function app(deployedVersion: string | null, over: Partial<RolloutApp> = {}): RolloutApp {
  return {
    name: 'app',
    deployedVersion,
    versions: [
      { version: 'v1', manifest: GOOD },
      { version: 'v2', manifest: BROKEN },
      { version: 'v3', manifest: BROKEN_NO_REVERT },
    ],
    rollout: { deployed: { version: deployedVersion ?? 'v1', atMs: T0 }, healthyVersions: ['v1'] },
    ...over,
  };
}

describe('auto-revert decision', () => {
  it('marks a deployed version healthy once', () => {
    const a = app('v1', { rollout: { deployed: { version: 'v1', atMs: T0 }, healthyVersions: [] } });
    const d = decideRollout(a, st('deployed'), T0 + 500);
    assert.equal(d.kind, 'mark');
    assert.deepEqual(d.kind === 'mark' && d.rollout, { deployed: { version: 'v1', atMs: T0, healthyAtMs: T0 + 500 }, healthyVersions: ['v1'] });
    const again = decideRollout({ ...a, rollout: d.kind === 'mark' ? d.rollout : undefined }, st('deployed'), T0 + 900);
    assert.deepEqual(again, { kind: 'none' });
  });

  it('marks a version healthy also without a stored record (Rust wadm wrote it)', () => {
    const { rollout: _r, ...bare } = app('v1');
    const d = decideRollout(bare, st('deployed'), T0);
    assert.deepEqual(d.kind === 'mark' && d.rollout, { deployed: { version: 'v1', atMs: T0, healthyAtMs: T0 }, healthyVersions: ['v1'] });
  });

  it('waits until the deadline, then reverts to the last healthy version', () => {
    const a = app('v2');
    assert.deepEqual(decideRollout(a, st('failed', 'image fetch failed'), T0 + 2999), { kind: 'none', deadlineAt: T0 + 3000 });
    const d = decideRollout(a, st('failed', 'image fetch failed'), T0 + 3000);
    assert.equal(d.kind, 'revert');
    if (d.kind !== 'revert') return;
    assert.equal(d.from, 'v2');
    assert.equal(d.to, 'v1');
    assert.equal(d.reason, 'v2 did not become deployed within 3s: image fetch failed');
    assert.equal(d.message, 'reverted from v2 to v1: v2 did not become deployed within 3s: image fetch failed');
    assert.deepEqual(d.rollout, { deployed: { version: 'v1', atMs: T0 + 3000 }, healthyVersions: ['v1'], reverted: { from: 'v2', to: 'v1', atMs: T0 + 3000, reason: d.reason } });
  });

  it('reverts to the most recent healthy version that is still stored, never to itself', () => {
    const a = app('v2', { rollout: { deployed: { version: 'v2', atMs: T0 }, healthyVersions: ['v1', 'v2', 'gone'] } });
    const d = decideRollout(a, st('reconciling'), T0 + 10_000);
    assert.equal(d.kind === 'revert' && d.to, 'v1');
    assert.match(d.kind === 'revert' ? d.reason : '', /within 3s: status reconciling$/);
  });

  it('never reverts without autoRevert, without a previous healthy version, or after reaching deployed', () => {
    assert.deepEqual(decideRollout(app('v3'), st('failed', 'x'), T0 + 60_000), { kind: 'none' });
    assert.deepEqual(decideRollout(app('v2', { rollout: { deployed: { version: 'v2', atMs: T0 }, healthyVersions: [] } }), st('failed'), T0 + 60_000), { kind: 'none' });
    assert.deepEqual(decideRollout(app('v2', { rollout: { deployed: { version: 'v2', atMs: T0 }, healthyVersions: ['v2'] } }), st('failed'), T0 + 60_000), { kind: 'none' });
    const healthyOnce = app('v2', { rollout: { deployed: { version: 'v2', atMs: T0, healthyAtMs: T0 + 1 }, healthyVersions: ['v1', 'v2'] } });
    assert.deepEqual(decideRollout(healthyOnce, st('failed', 'host gone'), T0 + 60_000), { kind: 'none' });
    assert.deepEqual(decideRollout(app(null), st('failed'), T0 + 60_000), { kind: 'none' });
  });

  it('never loops: the version a revert deployed is not reverted again', () => {
    const first = decideRollout(app('v2'), st('failed', 'boom'), T0 + 3000);
    assert.equal(first.kind, 'revert');
    if (first.kind !== 'revert') return;
    // Even if the version reverted to is broken too (and has autoRevert), it stays.
    const after: RolloutApp = { ...app('v1'), versions: app('v1').versions.map((v) => (v.version === 'v1' ? { ...v, manifest: BROKEN } : v)), rollout: first.rollout };
    assert.deepEqual(decideRollout(after, st('failed', 'boom'), T0 + 600_000), { kind: 'none' });
  });

  it('stamps a deploy time when the record has none, so the deadline starts and survives owners', () => {
    const a = app('v2', { rollout: { deployed: { version: 'v1', atMs: T0 - 50_000 }, healthyVersions: ['v1'] } });
    const d = decideRollout(a, st('failed'), T0);
    assert.deepEqual(d.kind === 'mark' && d.rollout, { deployed: { version: 'v2', atMs: T0 }, healthyVersions: ['v1'] });
    // A new owner deciding later from the stamped record reverts at the stamp + deadline.
    const later = { ...a, rollout: d.kind === 'mark' ? d.rollout : undefined };
    assert.deepEqual(decideRollout(later, st('failed'), T0 + 1000), { kind: 'none', deadlineAt: T0 + 3000 });
    assert.equal(decideRollout(later, st('failed'), T0 + 3000).kind, 'revert');
  });

  it('keeps the revert note on the status of the reverted-to version until the next deploy', () => {
    const r = decideRollout(app('v2'), st('failed', 'boom'), T0 + 3000);
    if (r.kind !== 'revert') throw new Error('expected a revert');
    const after: RolloutApp = { ...app('v1'), rollout: r.rollout };
    assert.equal(withRevertNote(st('deployed'), after).status.message, 'reverted from v2 to v1: v2 did not become deployed within 3s: boom');
    assert.equal(withRevertNote(st('reconciling', 'Scaling hello'), after).status.message, 'reverted from v2 to v1: v2 did not become deployed within 3s: boom; Scaling hello');
    // Healthy mark keeps the note; a user deploy (another version deployed) drops it.
    const healthy = decideRollout(after, st('deployed'), T0 + 5000);
    assert.equal(healthy.kind === 'mark' && healthy.rollout.reverted?.to, 'v1');
    assert.equal(withRevertNote(st('deployed'), app('v3', { rollout: r.rollout })).status.message, undefined);
  });
});
