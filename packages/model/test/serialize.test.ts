import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  componentId,
  manifestSchema,
  MANIFEST_SCHEMA_PATH,
  manifestToJson,
  managedConfigName,
  newVersion,
  parseManifest,
  sanitizeIdPart,
  secretConfigName,
  serializeManifest,
  type JsonValue,
} from '../src/index.js';
import { cap, comp, link, manifest, trait } from './helpers.js';

const keys = (v: JsonValue | undefined): string[] => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : []);

describe('serialisation (docs/wire/manifest.md §1.8)', () => {
  const full = manifest(
    [
      comp('a', {
        properties: {
          secrets: [{ name: 's', properties: { version: '2', key: 'k', policy: 'p', field: 'f' } }],
          config: [{ properties: { x: '1' }, name: 'c' }],
          id: 'a-id',
          application: { component: 'c', name: 'shared' },
          image: 'img',
        },
        traits: [
          trait('spreadscaler', { spread: [{ weight: 5, requirements: { z: '1', a: '2' }, name: 'one' }, { name: 'two', requirements: {} }], instances: 3 }),
          link('b', { name: 'n', source: { config: [] }, target: { secrets: [], name: 'b', config: [{ name: 'ref' }] } }),
          trait('customscaler', { z: 1, a: [true, null] }),
        ],
      }),
      cap('b', { traits: [] }),
      cap('c'),
    ],
    { labels: { z: '1', a: '2' }, annotations: { version: 'v1', description: 'd' }, policies: [{ properties: { backend: 'b' }, type: 't', name: 'p' }] },
  );
  const json = manifestToJson(full);

  it('writes keys in wadm order', () => {
    assert.deepEqual(Object.keys(json), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.deepEqual(keys(json['metadata']), ['name', 'annotations', 'labels']);
    assert.deepEqual(keys((json['metadata'] as Record<string, JsonValue>)['annotations']), ['description', 'version']);
    assert.deepEqual(keys(json['spec']), ['components', 'policies']);
    const spec = json['spec'] as { components: Record<string, JsonValue>[]; policies: JsonValue[] };
    const a = spec.components[0]!;
    assert.deepEqual(Object.keys(a), ['name', 'type', 'properties', 'traits']);
    assert.deepEqual(keys(a['properties']), ['image', 'application', 'id', 'config', 'secrets']);
    assert.deepEqual(keys(spec.policies[0]), ['name', 'type', 'properties']);
    assert.equal(
      JSON.stringify(a['properties']),
      '{"image":"img","application":{"name":"shared","component":"c"},"id":"a-id","config":[{"name":"c","properties":{"x":"1"}}],' +
        '"secrets":[{"name":"s","properties":{"policy":"p","key":"k","field":"f","version":"2"}}]}',
    );
  });
  it('writes trait bodies canonically: scaler, link (empty lists omitted), custom as parsed', () => {
    const traits = (json['spec'] as { components: { traits: JsonValue[] }[] }).components[0]!.traits;
    assert.equal(
      JSON.stringify(traits),
      '[{"type":"spreadscaler","properties":{"instances":3,"spread":[{"name":"one","requirements":{"a":"2","z":"1"},"weight":5},{"name":"two","requirements":{}}]}},' +
        '{"type":"link","properties":{"namespace":"wasi","package":"http","interfaces":["incoming-handler"],"source":{},"target":{"name":"b","config":[{"name":"ref"}]},"name":"n"}},' +
        '{"type":"customscaler","properties":{"z":1,"a":[true,null]}}]',
    );
  });
  it('keeps an explicit traits [] and omits absent traits, empty labels and policies', () => {
    const spec = json['spec'] as { components: Record<string, JsonValue>[] };
    assert.deepEqual(spec.components[1], { name: 'b', type: 'capability', properties: { image: 'example.com/b:1' }, traits: [] });
    assert.deepEqual(Object.keys(spec.components[2]!), ['name', 'type', 'properties']);
    const bare = manifestToJson(manifest([], { labels: {}, annotations: {}, policies: [] }));
    assert.deepEqual(bare, { apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: 'app', annotations: {} }, spec: { components: [] } });
  });
  it('serializeManifest is the compact JSON of manifestToJson and re-parses (incl. empty requirements and annotations)', () => {
    const text = serializeManifest(full);
    assert.equal(text, JSON.stringify(json));
    assert.ok(!text.includes('\n'));
    const again = parseManifest(text, { contentType: 'application/json' });
    assert.ok(again.ok);
    assert.equal(serializeManifest(again.manifest), text);
    assert.ok(parseManifest(serializeManifest(manifest([], { annotations: {} }))).ok);
  });
});

describe('naming (docs/wire/behaviour.md §4)', () => {
  it('sanitises to lower-case ASCII alphanumerics and _', () => {
    assert.equal(sanitizeIdPart('Hello-World.v2 ü😀'), 'hello_world_v2___');
  });
  it('componentId: explicit id, else {manifest}-{component}', () => {
    assert.equal(componentId('hello-simple', comp('hello')), 'hello_simple-hello');
    assert.equal(componentId('updateapp', comp('dog-fetcher')), 'updateapp-dog_fetcher');
    assert.equal(componentId('updateapp', comp('x', { properties: { image: 'i', id: 'Explicit-ID' } })), 'Explicit-ID');
  });
  it('managed config and secret config names', () => {
    assert.equal(managedConfigName('hello-simple', 'httpaddr'), 'hello_simple-httpaddr');
    assert.equal(secretConfigName('my-app', 'api.key'), 'SECRET_my_app-api_key');
  });
});

describe('versions and schema', () => {
  it('newVersion gives ULIDs that stay ordered within one millisecond', () => {
    const vs = Array.from({ length: 500 }, () => newVersion());
    for (const v of vs) assert.match(v, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.deepEqual([...vs].sort(), vs);
    assert.equal(new Set(vs).size, vs.length);
  });
  it('ships the draft-07 schema next to the package', () => {
    assert.ok(existsSync(MANIFEST_SCHEMA_PATH));
    assert.match(MANIFEST_SCHEMA_PATH, /packages[/\\]model[/\\]schema[/\\]oam\.schema\.json$/);
    assert.equal(manifestSchema['$schema'], 'http://json-schema.org/draft-07/schema#');
    assert.deepEqual(manifestSchema['required'], ['apiVersion', 'kind', 'metadata', 'spec']);
  });
});
