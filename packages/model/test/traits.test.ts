import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyTrait, linkName, type JsonValue, type TraitShape } from '../src/index.js';

const shapeOf = (body: JsonValue, type = 'x'): TraitShape['shape'] => classifyTrait({ type, properties: body }).shape;
const LINK = { namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'], target: { name: 't' } };

describe('classifyTrait: link shape', () => {
  it('decodes a link whatever the trait type; unknown keys are ignored', () => {
    const s = classifyTrait({ type: 'spreadscaler', properties: { ...LINK, extra: 1, instances: 3 } });
    assert.deepEqual(s, { shape: 'link', link: { namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'], target: { name: 't' } } });
  });
  it('a missing target gives target name ""', () => {
    const s = classifyTrait({ type: 'link', properties: { namespace: 'a', package: 'b', interfaces: [] } });
    assert.equal(s.shape === 'link' && s.link.target.name, '');
  });
  it('fails (⇒ custom) without namespace/package/interfaces or with non-string values', () => {
    for (const broken of [
      { package: 'p', interfaces: [] },
      { namespace: 'n', interfaces: [] },
      { namespace: 'n', package: 'p' },
      { namespace: 1, package: 'p', interfaces: [] },
      { namespace: 'n', package: 'p', interfaces: [1] },
      { namespace: 'n', package: 'p', interfaces: 'x' },
      { ...LINK, name: 5 },
      { ...LINK, name: null },
      { ...LINK, target: { config: [] } },
      { ...LINK, target: null },
      { ...LINK, target: { name: 't', config: [{ name: 'c', properties: { port: 8080 } }] } },
      { ...LINK, target: { name: 't', config: [{ name: 'c', extra: 1 }] } },
      { ...LINK, target: { name: 't', config: null } },
      { ...LINK, source: null },
      { ...LINK, source: { secrets: [{ name: 's', properties: { policy: 'p' } }] } },
      { ...LINK, source_config: [{ nome: 'x' }] },
    ]) {
      assert.equal(shapeOf(broken as JsonValue), 'custom', JSON.stringify(broken));
    }
  });
  it('legacy string target with target_config; target_config ignored with an object target', () => {
    const legacy = classifyTrait({ type: 'link', properties: { ...LINK, target: 'kv', target_config: [{ name: 'c', properties: { a: 'b' } }] } });
    assert.deepEqual(legacy.shape === 'link' && legacy.link.target, { name: 'kv', config: [{ name: 'c', properties: { a: 'b' } }] });
    const modern = classifyTrait({ type: 'link', properties: { ...LINK, target_config: [{ name: 'c' }] } });
    assert.deepEqual(modern.shape === 'link' && modern.link.target, { name: 't' });
  });
  it('source_config becomes source.config unless source is given', () => {
    const a = classifyTrait({ type: 'link', properties: { ...LINK, source_config: [{ name: 'c' }] } });
    assert.deepEqual(a.shape === 'link' && a.link.source, { config: [{ name: 'c' }] });
    const b = classifyTrait({ type: 'link', properties: { ...LINK, source_config: [{ name: 'c' }], source: { config: [{ name: 'd' }] } } });
    assert.deepEqual(b.shape === 'link' && b.link.source, { config: [{ name: 'd' }] });
    const empty = classifyTrait({ type: 'link', properties: { ...LINK, source: { config: [] } } });
    assert.deepEqual(empty.shape === 'link' && empty.link.source, {});
  });
  it('linkName defaults to "default"', () => {
    assert.equal(linkName({ namespace: 'n', package: 'p', interfaces: [], target: { name: 't' } }), 'default');
    assert.equal(linkName({ namespace: 'n', package: 'p', interfaces: [], target: { name: 't' }, name: 'n1' }), 'n1');
  });
});

describe('classifyTrait: scaler shape', () => {
  it('decodes instances, replicas (alias), spreads with default weight absent', () => {
    assert.deepEqual(classifyTrait({ type: 'spreadscaler', properties: { replicas: 2 } }), { shape: 'scaler', scaler: { instances: 2 } });
    assert.deepEqual(classifyTrait({ type: 'spreadscaler', properties: { instances: 0, spread: [] } }), { shape: 'scaler', scaler: { instances: 0 } });
    const spread: JsonValue = [
      { name: 'a', requirements: {}, weight: null },
      { name: 'b', requirements: { z: '1' }, weight: 0 },
    ];
    const s = classifyTrait({ type: 'daemonscaler', properties: { instances: 3, spread } });
    assert.deepEqual(s, { shape: 'scaler', scaler: { instances: 3, spread: [{ name: 'a', requirements: {} }, { name: 'b', requirements: { z: '1' }, weight: 0 }] } });
  });
  it('fails (⇒ custom) on unknown keys, bad numbers, both instances and replicas, bad spreads', () => {
    for (const broken of [
      {},
      { instances: 1, extra: true },
      { instances: 1, replicas: 1 },
      { instances: -1 },
      { instances: 1.5 },
      { instances: '4' },
      { instances: 1, spread: null },
      { instances: 1, spread: [{ name: 'a' }] },
      { instances: 1, spread: [{ requirements: {} }] },
      { instances: 1, spread: [{ name: 'a', requirements: { on: true } }] },
      { instances: 1, spread: [{ name: 'a', requirements: {}, weight: -2 }] },
      { instances: 1, spread: [{ name: 'a', requirements: {}, weight: '5' }] },
      { instances: 1, spread: [{ name: 'a', requirements: {}, extra: 1 }] },
    ]) {
      assert.equal(shapeOf(broken as JsonValue, 'spreadscaler'), 'custom', JSON.stringify(broken));
    }
  });
});

describe('classifyTrait: custom', () => {
  it('keeps any other body as is', () => {
    const body = { instances: 4, clouds: ['aws', 'azure'], scale_profile: 'mini' };
    assert.deepEqual(classifyTrait({ type: 'customscaler', properties: body }), { shape: 'custom', body });
    assert.equal(shapeOf(null), 'custom');
    assert.equal(shapeOf([1, 2]), 'custom');
  });
});
