import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Manifest } from '@wadm-ts/model';
import {
  appKey,
  describeScopeKey,
  foreignRecordMessage,
  indexAtRecordKeyMessage,
  isIndexValue,
  recordAtIndexKeyMessage,
  recordBelongs,
  recordOwner,
  scopeKey,
} from '../src/manifest-keys.js';
import type { StoredApp } from '../src/stored-app.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function app(manifestName: string, versions = ['v1']): StoredApp {
  const manifest = (v: string): Manifest =>
    ({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: manifestName, annotations: { version: v } }, spec: { components: [] } }) as unknown as Manifest;
  return { name: 'ignored', versions: versions.map((v) => ({ version: v, manifest: manifest(v) })), deployedVersion: null };
}

test('keys: the Rust layout, ambiguous by construction', () => {
  assert.equal(scopeKey({ lattice: 'team-a' }), 'team-a');
  assert.equal(appKey({ lattice: 'team' }, 'a'), 'team-a');
  assert.equal(appKey({ lattice: 'team' }, 'a-b'), appKey({ lattice: 'team-a' }, 'b'));
  assert.equal(appKey({ lattice: 'l', account: 'ACC' }, 'x'), 'ACC-l-x');
});

test('isIndexValue: a JSON array is an index, an object is a record', () => {
  assert.equal(isIndexValue(enc('["a","b"]')), true);
  assert.equal(isIndexValue(enc('[]')), true);
  assert.equal(isIndexValue(enc(' \n[]')), true);
  assert.equal(isIndexValue(enc('{"manifests":{},"deployed_version":null}')), false);
  assert.equal(isIndexValue(enc('')), false);
});

test('recordOwner / recordBelongs: the manifests name the split of the key a record belongs to', () => {
  // Key team-a-b holding app a-b of lattice team.
  assert.deepEqual(recordOwner('team-a-b', app('a-b')), { scopeKey: 'team', name: 'a-b' });
  assert.equal(recordBelongs('team-a-b', 'a-b', app('a-b')), true);
  assert.equal(recordBelongs('team-a-b', 'b', app('a-b')), false, 'app b of lattice team-a does not own it');
  // The name is trimmed, as put trims it.
  assert.deepEqual(recordOwner('team-a', app(' a ')), { scopeKey: 'team', name: 'a' });
  assert.equal(recordBelongs('team-a', 'a', app(' a ')), true);
  // Nothing fits the key: nothing is known, the record is taken as the asked app's (lenient for odd records).
  assert.equal(recordOwner('team-a', app('other')), undefined);
  assert.equal(recordBelongs('team-a', 'a', app('other')), true);
  // A name as long as the key cannot be a split of it.
  assert.equal(recordOwner('a', app('a')), undefined);
  assert.equal(recordOwner('-a', app('a')), undefined);
});

test('collision messages name both sides and the way out', () => {
  assert.equal(describeScopeKey('team-a', false), 'lattice team-a');
  assert.equal(describeScopeKey('ACC-team-a', true), 'lattice team-a of account ACC');
  const m1 = indexAtRecordKeyMessage('wadm_manifests', 'team', 'a', false);
  assert.match(m1, /^Application a cannot be stored in lattice team: its key 'team-a' in bucket wadm_manifests holds the application index of lattice team-a /);
  assert.match(m1, /Use another application name or another lattice$/);
  const m2 = foreignRecordMessage('wadm_manifests', 'team-a', 'b', { scopeKey: 'team', name: 'a-b' }, false);
  assert.match(m2, /^Application b cannot be stored in lattice team-a: its key 'team-a-b' in bucket wadm_manifests holds application a-b of lattice team /);
  const m3 = recordAtIndexKeyMessage('wadm_manifests', 'team-a', 'x', { scopeKey: 'team', name: 'a' }, false);
  assert.match(m3, /^Application x cannot be stored in lattice team-a: the lattice's index key 'team-a' in bucket wadm_manifests holds application a of lattice team /);
  assert.match(m3, /Delete that application or use another lattice$/);
  assert.match(recordAtIndexKeyMessage('b', 'k', 'x', undefined, false), /holds an application record/);
});
