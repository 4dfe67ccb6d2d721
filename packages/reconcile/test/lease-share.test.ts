import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimedLease, isLeaseOf, leaseKey, refOfLeaseKey, releasedLease, unownedLease, withIdleSince, type Held, type LeaseValue } from '../src/runtime/lease-records.js';
import { balanceStep, fairShare, offerShare, releaseVictim } from '../src/runtime/lease-share.js';

const lease = (lattice: string, owner: string | null): LeaseValue => ({ kind: 'lease', lattice, owner, ...(owner ? { incarnation: `${owner}-i` } : {}), epoch: 1 });
const held = (lattice: string): Held => ({ ref: { lattice }, key: leaseKey({ lattice }), epoch: 1 });

describe('fair share of leases', () => {
  it('bounds L lattices over R replicas by ceil and floor', () => {
    assert.deepEqual(fairShare(5, 2), { ceil: 3, floor: 2 });
    assert.deepEqual(fairShare(4, 2), { ceil: 2, floor: 2 });
  });

  it('takes up to ceil(L/R) while below it', () => {
    const leases = [lease('a', 'r1'), lease('b', null), lease('c', null)];
    assert.deepEqual(balanceStep({ leases, live: new Set(['r1', 'r2']), replicaId: 'r1', mine: 1, isFree: (v) => v.owner === null }), { kind: 'take', share: 2 });
  });

  it('gives one back above ceil, or above floor while another replica is below floor', () => {
    const live = new Set(['r1', 'r2']);
    const isFree = (v: LeaseValue): boolean => v.owner === null;
    const three = [lease('a', 'r1'), lease('b', 'r1'), lease('c', 'r1')];
    assert.deepEqual(balanceStep({ leases: three, live, replicaId: 'r1', mine: 3, isFree }), { kind: 'release', reason: 'above fair share' });
    const four = [lease('a', 'r1'), lease('b', 'r1'), lease('c', 'r1'), lease('d', 'r2')];
    assert.deepEqual(balanceStep({ leases: [...four, lease('e', 'r2')], live, replicaId: 'r1', mine: 3, isFree }), { kind: 'none' });
    assert.deepEqual(balanceStep({ leases: four, live: new Set(['r1', 'r2', 'r3']), replicaId: 'r1', mine: 3, isFree }), { kind: 'release', reason: 'above fair share' });
    const starved = [lease('a', 'r1'), lease('b', 'r1'), lease('c', 'r1'), lease('d', 'r2'), lease('e', null)];
    assert.deepEqual(balanceStep({ leases: starved, live, replicaId: 'r1', mine: 3, isFree }), { kind: 'release', reason: 'another replica is below its share' });
    assert.deepEqual(balanceStep({ leases: [], live, replicaId: 'r1', mine: 0, isFree }), { kind: 'none' });
  });

  it('releases the last lease by key, and counts an unknown lattice in the share offered', () => {
    assert.equal(releaseVictim([held('a'), held('c'), held('b')])?.ref.lattice, 'c');
    assert.equal(releaseVictim([]), undefined);
    assert.equal(offerShare(2, false, 2), 2);
    assert.equal(offerShare(2, true, 2), 1);
  });
});

describe('lease records', () => {
  it('keys round-trip and records change as the loop writes them', () => {
    assert.deepEqual(refOfLeaseKey(leaseKey({ lattice: 'default' })), { lattice: 'default' });
    assert.equal(refOfLeaseKey('r.x'), undefined);
    const free = unownedLease({ lattice: 'l' }, 100);
    assert.deepEqual(free, { kind: 'lease', lattice: 'l', owner: null, epoch: 100 });
    const taken = claimedLease({ lattice: 'l' }, 'r1', 'i1', withIdleSince(free, 7), 200);
    assert.deepEqual(taken, { kind: 'lease', lattice: 'l', owner: 'r1', incarnation: 'i1', epoch: 101, idleSince: 7 });
    assert.equal(claimedLease({ lattice: 'l' }, 'r1', 'i1', undefined, 200).epoch, 200);
    assert.ok(isLeaseOf(taken, 'r1', 'i1', 101));
    assert.ok(!isLeaseOf(taken, 'r1', 'i2', 101));
    assert.deepEqual(releasedLease(taken), { kind: 'lease', lattice: 'l', owner: null, epoch: 101, idleSince: 7 });
    assert.deepEqual(withIdleSince(taken, undefined), { kind: 'lease', lattice: 'l', owner: 'r1', incarnation: 'i1', epoch: 101 });
  });
});
