import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serializeManifest, validateManifest, type Manifest } from '../src/index.js';
import { exampleFiles, lines, parseOk, readExample } from './helpers.js';

/** Verdicts of docs/wire/manifest.md §3 "oam/": validation failures expected for each example. */
const OAM_VERDICTS: Record<string, { name: string; failures: string[] }> = {
  'config.yaml': { name: 'config-example', failures: [] },
  'custom.yaml': { name: 'my-example-app', failures: [] },
  'echo.yaml': { name: 'echo', failures: [] },
  'hello.yaml': { name: 'hello-world', failures: [] },
  'kvcounter.yaml': {
    name: 'kvcounter-rust',
    failures: ['warning: unrecognized interface [wasi:keyvalue/atomic]', 'warning: unrecognized interface [wasi:keyvalue/eventual]'],
  },
  'simple1.json': { name: 'my-example-app', failures: [] },
  'simple1.yaml': { name: 'my-example-app', failures: [] },
  'simple2.yaml': { name: 'my-example-app', failures: [] },
  'sqldbpostgres.yaml': { name: 'rust-sqldb-postgres-query', failures: ['warning: unrecognized interface [wasmcloud:postgres/query]'] },
};

function assertRoundTrip(m: Manifest): void {
  const again = parseOk(serializeManifest(m), { contentType: 'application/json' });
  assert.deepEqual(again.manifest, m);
  assert.deepEqual(again.warnings, []);
  assert.equal(serializeManifest(again.manifest), serializeManifest(m));
}

describe('examples/oam', () => {
  it('covers every example file', () => assert.deepEqual(exampleFiles('oam'), Object.keys(OAM_VERDICTS).sort()));
  for (const [file, verdict] of Object.entries(OAM_VERDICTS)) {
    it(`${file}: parses, validates as in §3, round-trips`, () => {
      const { manifest } = parseOk(readExample(`oam/${file}`));
      assert.equal(manifest.metadata.name, verdict.name);
      assert.deepEqual(lines(validateManifest(manifest)), verdict.failures);
      assertRoundTrip(manifest);
    });
  }
  it('simple1.json and simple1.yaml normalise to the same manifest (legacy string target, actor)', () => {
    const json = parseOk(readExample('oam/simple1.json'), { contentType: 'application/json' });
    const yaml = parseOk(readExample('oam/simple1.yaml'), { contentType: 'application/yaml' });
    assert.deepEqual(json.manifest, yaml.manifest);
    assert.equal(json.manifest.spec.components[0]?.type, 'component');
    assert.deepEqual(json.manifest.spec.components[1]?.traits?.[0]?.properties, {
      namespace: 'wasi',
      package: 'http',
      interfaces: ['incoming-handler'],
      target: { name: 'webcap' },
      name: 'default',
    });
    assert.deepEqual(lines(json.warnings), [`warning: component 'userinfo': type 'actor' is deprecated, translated to 'component'`]);
  });
  it('custom.yaml keeps the customscaler body as parsed', () => {
    const { manifest } = parseOk(readExample('oam/custom.yaml'));
    assert.deepEqual(manifest.spec.components[0]?.traits?.[0], {
      type: 'customscaler',
      properties: { instances: 4, clouds: ['aws', 'azure'], scale_profile: 'mini' },
    });
  });
  it('sqldbpostgres.yaml: version, multi-line annotations, property-less config', () => {
    const { manifest } = parseOk(readExample('oam/sqldbpostgres.yaml'));
    assert.equal(manifest.metadata.annotations['version'], 'v0.0.1');
    assert.equal(manifest.metadata.annotations['wasmcloud.dev/categories'], 'database,sqldb,postgres,rust,example\n');
    assert.deepEqual(manifest.spec.components[1]?.properties.config, [{ name: 'default-postgres' }]);
  });
  it('simple2.yaml: empty target/source config lists normalise away', () => {
    const { manifest } = parseOk(readExample('oam/simple2.yaml'));
    assert.deepEqual(manifest.spec.components[1]?.traits?.[0]?.properties, {
      namespace: 'wasi',
      package: 'http',
      interfaces: ['incoming-handler'],
      source: {},
      target: { name: 'userinfo' },
    });
  });
});

describe('examples/legacy (seed-era)', () => {
  it('covers every example file', () => assert.deepEqual(exampleFiles('legacy'), ['echo-v0.0.2.yaml', 'echo.yaml']));
  for (const [file, version, instances] of [['echo.yaml', 'v0.0.1', 1], ['echo-v0.0.2.yaml', 'v0.0.2', 10]] as const) {
    it(`${file}: parses with warnings, translates the linkdef, validates with no failure, round-trips`, () => {
      const { manifest, warnings } = parseOk(readExample(`legacy/${file}`));
      assert.equal(manifest.metadata.annotations['version'], version);
      assert.deepEqual(lines(warnings), [
        `warning: component 'echo': type 'actor' is deprecated, translated to 'component'`,
        `warning: component 'echo': spreadscaler 'replicas' is deprecated, translated to 'instances'`,
        `warning: component 'echo': seed-era linkdef to 'httpserver' (wasmcloud:httpserver) translated to link httpserver -> echo on wasi:http [incoming-handler] with source config 'echo-httpserver-httpserver'`,
        `warning: component 'httpserver': property 'contract' (wasmcloud:httpserver) is deprecated and was dropped`,
        `warning: component 'httpserver': spreadscaler 'replicas' is deprecated, translated to 'instances'`,
      ]);
      const [echo, httpserver] = manifest.spec.components;
      assert.deepEqual(echo, {
        name: 'echo',
        type: 'component',
        properties: { image: echo!.properties.image },
        traits: [{ type: 'spreadscaler', properties: { instances } }],
      });
      assert.deepEqual(httpserver, {
        name: 'httpserver',
        type: 'capability',
        properties: { image: 'wasmcloud.azurecr.io/httpserver:0.17.0' },
        traits: [
          { type: 'spreadscaler', properties: { instances: 1 } },
          {
            type: 'link',
            properties: {
              namespace: 'wasi',
              package: 'http',
              interfaces: ['incoming-handler'],
              source: { config: [{ name: 'echo-httpserver-httpserver', properties: { address: '0.0.0.0:8080' } }] },
              target: { name: 'echo' },
            },
          },
        ],
      });
      assert.deepEqual(validateManifest(manifest), []);
      assertRoundTrip(manifest);
    });
  }
});
