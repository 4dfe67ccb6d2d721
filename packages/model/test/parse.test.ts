import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifest, validateManifest } from '../src/index.js';
import { lines, parseErr, parseOk, yamlWith } from './helpers.js';

const ONE = `    - name: http
      type: component
      properties:
        image: example.com/http:1
`;
const MINIMAL = yamlWith(ONE);
const MINIMAL_JSON = JSON.stringify({
  apiVersion: 'core.oam.dev/v1beta1',
  kind: 'Application',
  metadata: { name: 'app', annotations: { version: 'v1' } },
  spec: { components: [{ name: 'http', type: 'component', properties: { image: 'example.com/http:1' } }] },
});

describe('content types (docs/wire/api.md §2.1)', () => {
  it('application/json parses strict JSON only', () => {
    assert.equal(parseOk(MINIMAL_JSON, { contentType: 'application/json' }).manifest.metadata.name, 'app');
    assert.match(parseErr(MINIMAL, { contentType: 'application/json' }), /JSON/);
  });
  it('application/yaml parses YAML and JSON text', () => {
    assert.equal(parseOk(MINIMAL, { contentType: 'application/yaml' }).manifest.metadata.name, 'app');
    assert.equal(parseOk(MINIMAL_JSON, { contentType: 'application/yaml' }).manifest.metadata.name, 'app');
  });
  it('no content type: YAML, which also reads JSON', () => {
    assert.deepEqual(parseOk(MINIMAL).manifest, parseOk(MINIMAL_JSON).manifest);
  });
  it('no content type: when both fail, the error carries both failures', () => {
    const err = parseErr('{"a": [1,}');
    assert.match(err, /at line 1, column \d+; as JSON: /);
  });
  it('any other content type is rejected with wadm text (exact compare, no parameters)', () => {
    for (const ct of ['application/json; charset=utf-8', 'text/yaml', 'APPLICATION/JSON', '']) {
      assert.equal(parseErr(MINIMAL_JSON, { contentType: ct }), `Unsupported content type ${ct} given. Wadm supports YAML and JSON`);
    }
  });
  it('accepts bytes', () => {
    assert.equal(parseOk(new TextEncoder().encode(MINIMAL)).manifest.metadata.name, 'app');
    const r = parseManifest(new TextEncoder().encode(MINIMAL_JSON), { contentType: 'application/json' });
    assert.equal(r.ok, true);
    assert.equal(parseManifest(new Uint8Array([0xff, 0xfe, 0x00])).ok, false);
  });
});

describe('YAML documents and syntax', () => {
  it('syntax errors carry line and column', () => {
    const err = parseErr('apiVersion: a\nkind: b\nmetadata:\n  name: [x\n  annotations: {}\n', { contentType: 'application/yaml' });
    assert.match(err, /at line \d+, column \d+/);
  });
  it('duplicate keys are an error with position', () => {
    assert.match(parseErr('a: 1\na: 2\n', { contentType: 'application/yaml' }), /Map keys must be unique at line 2, column 1/);
  });
  it('JSON syntax errors carry a position', () => {
    assert.match(parseErr('{"a": 1', { contentType: 'application/json' }), /at line 1, column 8/);
  });
  it('multi-document YAML is rejected; one leading --- is fine', () => {
    assert.match(parseErr(`${MINIMAL}---\n${MINIMAL}`, { contentType: 'application/yaml' }), /more than one document/);
    assert.equal(parseOk(`# comment\n---\n${MINIMAL}`).manifest.metadata.name, 'app');
  });
  it('an empty body is an error', () => {
    for (const body of ['', '   \n', '# only a comment\n']) {
      assert.match(parseErr(body, { contentType: 'application/yaml' }), /empty/);
      assert.equal(parseManifest(body).ok, false);
    }
    assert.equal(parseManifest('', { contentType: 'application/json' }).ok, false);
  });
  it('a document that is not a map', () =>
    assert.equal(parseErr('- a\n- b\n', { contentType: 'application/yaml' }), 'invalid type: a sequence, expected a map at line 1, column 1'));
});

describe('parse-level failures (docs/wire/manifest.md §2.4)', () => {
  const top = (drop: string) =>
    [['apiVersion', 'apiVersion: v1'], ['kind', 'kind: Application'], ['metadata', 'metadata:\n  name: a\n  annotations: {}'], ['spec', 'spec:\n  components: []']]
      .filter(([k]) => k !== drop)
      .map(([, v]) => v)
      .join('\n');
  for (const key of ['apiVersion', 'kind', 'metadata', 'spec']) {
    it(`missing ${key}`, () => assert.equal(parseErr(top(key)), `missing field \`${key}\` at line 1, column 1`));
  }
  it('unknown top-level key', () =>
    assert.equal(parseErr(`${top('')}\nstatus: {}`), 'unknown field `status`, expected one of `apiVersion`, `kind`, `metadata`, `spec` at line 8, column 1'));
  it('missing metadata.name / metadata.annotations / spec.components', () => {
    assert.match(parseErr('apiVersion: v\nkind: k\nmetadata:\n  annotations: {}\nspec:\n  components: []'), /^metadata: missing field `name` at line 4, column 3$/);
    assert.match(parseErr('apiVersion: v\nkind: k\nmetadata:\n  name: a\nspec:\n  components: []'), /^metadata: missing field `annotations`/);
    assert.match(parseErr('apiVersion: v\nkind: k\nmetadata:\n  name: a\n  annotations: {}\nspec:\n  policies: []'), /^spec: missing field `components`/);
  });
  for (const field of ['name', 'type', 'properties']) {
    it(`component missing ${field}`, () => {
      const c = ONE.split('\n').filter((l) => !l.includes(`${field}:`) && !(field === 'properties' && l.includes('image')));
      if (field === 'name') c[0] = c[0]!.replace('  type', '- type');
      const err = parseErr(yamlWith(c.join('\n')));
      assert.ok(err.startsWith(`spec.components[0]: missing field \`${field}\` at line 9, column 7`), err);
    });
  }
  it('unknown component type (e.g. the stale README value `provider`)', () =>
    assert.equal(
      parseErr(yamlWith(ONE.replace('type: component', 'type: provider'))),
      'spec.components[0].type: unknown variant `provider`, expected one of `component`, `actor`, `capability` at line 10, column 13',
    ));
  it('unknown key inside component properties', () =>
    assert.equal(
      parseErr(yamlWith(`${ONE}        imag: typo\n`)),
      'spec.components[0].properties: unknown field `imag`, expected one of `image`, `application`, `id`, `config`, `secrets` at line 13, column 9',
    ));
  it('unknown key in a component ConfigProperty', () =>
    assert.equal(
      parseErr(yamlWith(`${ONE}        config:\n          - name: c\n            values: {}\n`)),
      'spec.components[0].properties.config[0]: unknown field `values`, expected one of `name`, `properties` at line 15, column 13',
    ));
  for (const missing of ['name', 'component']) {
    it(`application missing ${missing}`, () => {
      const app = missing === 'name' ? '{component: c}' : '{name: shared}';
      const err = parseErr(yamlWith(ONE.replace('image: example.com/http:1', `application: ${app}`)));
      assert.match(err, new RegExp(`^spec\\.components\\[0\\]\\.properties\\.application: missing field \`${missing}\``));
    });
  }
  for (const missing of ['name', 'type', 'properties']) {
    it(`policy missing ${missing}`, () => {
      const p = { name: 'name: p', type: 'type: t', properties: 'properties: {}' };
      const body = Object.entries(p).filter(([k]) => k !== missing).map(([, v]) => v).join(', ');
      assert.match(parseErr(`${MINIMAL}  policies:\n    - {${body}}\n`), new RegExp(`^spec\\.policies\\[0\\]: missing field \`${missing}\``));
    });
  }
  it('trait missing type / properties, or with an extra key (made-up-key)', () => {
    assert.match(parseErr(yamlWith(`${ONE}      traits:\n        - properties: {instances: 1}\n`)), /^spec\.components\[0\]\.traits\[0\]: missing field `type`/);
    assert.match(parseErr(yamlWith(`${ONE}      traits:\n        - type: spreadscaler\n`)), /^spec\.components\[0\]\.traits\[0\]: missing field `properties`/);
    assert.equal(
      parseErr(yamlWith(`${ONE}      traits:\n        - type: spreadscaler\n          properties:\n            replicas: 1\n          incorrect: true\n`)),
      'spec.components[0].traits[0]: unknown field `incorrect`, expected one of `type`, `properties` at line 17, column 11',
    );
  });
  it('non-string values in string maps inside component properties', () =>
    assert.equal(
      parseErr(yamlWith(`${ONE}        config:\n          - name: c\n            properties:\n              port: 8080\n              tls: true\n`)),
      'spec.components[0].properties.config[0].properties.port: invalid type: integer `8080`, expected a string at line 16, column 21; ' +
        'spec.components[0].properties.config[0].properties.tls: invalid type: boolean `true`, expected a string at line 17, column 20',
    ));
  it('collects all structural errors, joined with "; "', () => {
    const components = `    - name: a
      type: provider
      properties: {foo: 1}
    - type: actor
      properties: {}
`;
    const text = yamlWith(components, '  labels: {a: [1]}\n').replace('kind: Application\n', 'kind: Application\nextra: 1\n');
    const err = parseErr(text);
    assert.deepEqual(err.split('; ').map((e) => e.replace(/ at line.*$/, '')), [
      'unknown field `extra`, expected one of `apiVersion`, `kind`, `metadata`, `spec`',
      'metadata.labels.a: invalid type: a sequence, expected a string',
      'spec.components[0].type: unknown variant `provider`, expected one of `component`, `actor`, `capability`',
      'spec.components[0].properties: unknown field `foo`, expected one of `image`, `application`, `id`, `config`, `secrets`',
      'spec.components[1]: missing field `name`',
    ]);
  });
  it('JSON input: positions are reported too', () => {
    const json = MINIMAL_JSON.replace('"image"', '"imag"');
    assert.match(parseErr(json, { contentType: 'application/json' }), /^spec\.components\[0\]\.properties: unknown field `imag`.* at line 1, column \d+$/);
  });
});

describe('lenient and strict places', () => {
  it('unknown keys in metadata, spec, components and policies are ignored', () => {
    const text =
      yamlWith(`${ONE}      trait: typo-disappears\n`, '  owner: me\n').replace('spec:\n', 'spec:\n  other: 1\n') +
      '  policies:\n    - {name: p, type: t, properties: {}, extra: 1}\n';
    const { manifest } = parseOk(text);
    assert.deepEqual(manifest.spec.components[0], { name: 'http', type: 'component', properties: { image: 'example.com/http:1' } });
    assert.deepEqual(manifest.spec.policies, [{ name: 'p', type: 't', properties: {} }]);
    assert.deepEqual(Object.keys(manifest.metadata), ['name', 'annotations']);
  });
  it('YAML scalars in annotations, labels and policy properties keep their literal text', () => {
    const text =
      yamlWith(ONE, '  labels:\n    n: 0x1F\n').replace('version: v1', 'version: 1.10\n    flag: true\n    empty:') +
      '  policies:\n    - name: p\n      type: t\n      properties: {port: 8080, on: yes}\n';
    const { manifest } = parseOk(text);
    assert.deepEqual(manifest.metadata.annotations, { version: '1.10', flag: 'true', empty: '' });
    assert.deepEqual(manifest.metadata.labels, { n: '0x1F' });
    assert.deepEqual(manifest.spec.policies?.[0]?.properties, { port: '8080', on: 'yes' });
  });
  it('an annotations key with no value is an empty map', () =>
    assert.deepEqual(parseOk(MINIMAL.replace('  annotations:\n    version: v1\n', '  annotations:\n')).manifest.metadata.annotations, {}));
  it('JSON input must have JSON strings', () =>
    assert.match(
      parseErr(MINIMAL_JSON.replace('"version":"v1"', '"version":1.1'), { contentType: 'application/json' }),
      /^metadata\.annotations\.version: invalid type: floating point `1.1`, expected a string/,
    ));
  it('an unquoted number in a trait string map makes the shape fail (custom ⇒ R9a), not the parse', () => {
    const text = yamlWith(`${ONE}      traits:
        - type: link
          properties:
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            target: {name: http}
            source:
              config:
                - name: c
                  properties: {port: 8080}
`);
    const { manifest } = parseOk(text);
    const fs = validateManifest(manifest);
    assert.equal(
      fs[0]?.msg,
      'Link trait deserialized as custom trait, ensure fields are correct: ' +
        '{"interfaces":["incoming-handler"],"namespace":"wasi","package":"http",' +
        '"source":{"config":[{"name":"c","properties":{"port":8080}}]},"target":{"name":"http"}}',
    );
  });
});

describe('normalisation', () => {
  it('actor → component, replicas → instances (with warnings)', () => {
    const traits = '      traits:\n        - type: daemonscaler\n          properties: {replicas: 2}\n';
    const { manifest, warnings } = parseOk(yamlWith(ONE.replace('type: component', 'type: actor') + traits));
    assert.equal(manifest.spec.components[0]?.type, 'component');
    assert.deepEqual(manifest.spec.components[0]?.traits, [{ type: 'daemonscaler', properties: { instances: 2 } }]);
    assert.deepEqual(lines(warnings), [
      `warning: component 'http': type 'actor' is deprecated, translated to 'component'`,
      `warning: component 'http': daemonscaler 'replicas' is deprecated, translated to 'instances'`,
    ]);
  });
  it('instances and replicas together: the body stays custom (R9b)', () => {
    const { manifest } = parseOk(yamlWith(`${ONE}      traits:\n        - type: spreadscaler\n          properties: {replicas: 2, instances: 2}\n`));
    assert.deepEqual(manifest.spec.components[0]?.traits?.[0]?.properties, { replicas: 2, instances: 2 });
    assert.match(validateManifest(manifest)[0]?.msg ?? '', /^Scaler trait deserialized as custom trait/);
  });
  it('legacy link forms: string target + target_config, source_config; neither is written back', () => {
    const text = yamlWith(`${ONE}      traits:
        - type: link
          properties:
            namespace: wasi
            package: blobstore
            interfaces: [blobstore]
            target: http
            target_config: [{name: t, properties: {a: b}}]
            source_config: [{name: s}]
        - type: link
          properties:
            namespace: wasi
            package: keyvalue
            interfaces: [store]
            target: {name: http}
            target_config: [{name: ignored}]
            source_config: [{name: ignored-too}]
            source: {config: []}
`);
    const traits = parseOk(text).manifest.spec.components[0]?.traits;
    assert.deepEqual(traits?.[0]?.properties, {
      namespace: 'wasi',
      package: 'blobstore',
      interfaces: ['blobstore'],
      source: { config: [{ name: 's' }] },
      target: { name: 'http', config: [{ name: 't', properties: { a: 'b' } }] },
    });
    assert.deepEqual(traits?.[1]?.properties, { namespace: 'wasi', package: 'keyvalue', interfaces: ['store'], source: {}, target: { name: 'http' } });
  });
  it('null traits/image/id read as absent; empty config/secrets/policies/labels are dropped; explicit traits [] is kept', () => {
    const text = yamlWith(`    - name: a
      type: component
      properties: {image: x, id: null, config: [], secrets: []}
      traits: []
    - name: b
      type: capability
      properties: {image: y}
      traits:
`, '  labels: {}\n') + '  policies: []\n';
    const { manifest } = parseOk(text);
    assert.deepEqual(manifest.spec, {
      components: [
        { name: 'a', type: 'component', properties: { image: 'x' }, traits: [] },
        { name: 'b', type: 'capability', properties: { image: 'y' } },
      ],
    });
    assert.equal(manifest.metadata.labels, undefined);
  });
  it('a 1.x `type: linkdef` trait with a link body is left alone (and counts for R5c)', () => {
    const text = yamlWith(`${ONE}      traits:
        - type: linkdef
          properties:
            namespace: wasi
            package: http
            interfaces: [outgoing-handler]
            target: {name: httpclyent}
`);
    const { manifest, warnings } = parseOk(text);
    assert.deepEqual(warnings, []);
    assert.equal(manifest.spec.components[0]?.traits?.[0]?.type, 'linkdef');
    assert.deepEqual(lines(validateManifest(manifest)), ['error: The following capability component(s) are missing from the manifest: ["httpclyent"]']);
  });
});

describe('seed-era (wadm 0.x) manifests', () => {
  const seed = (contract: string | undefined, values = '            values:\n              address: 0.0.0.0:8080\n              port: 8080\n') =>
    yamlWith(`    - name: app
      type: actor
      properties:
        image: example.com/app:1
      traits:
        - type: linkdef
          properties:
            target: prov
${values}    - name: prov
      type: capability
      properties:
${contract ? `        contract: ${contract}\n` : ''}        image: example.com/prov:1
`);
  const traitsOf = (text: string) => parseOk(text).manifest.spec.components.map((c) => c.traits ?? []);
  const providerCfg = { config: [{ name: '', properties: { address: '0.0.0.0:8080', port: '8080' } }] };
  const cfgNamed = (name: string) => ({ config: [{ ...providerCfg.config[0]!, name }] });

  it('httpserver: a link declared on the provider to the component, values as source config', () => {
    const [app, prov] = traitsOf(seed('wasmcloud:httpserver'));
    assert.deepEqual(app, []);
    assert.deepEqual(prov, [
      {
        type: 'link',
        properties: { namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'], source: cfgNamed('app-prov-httpserver'), target: { name: 'app' } },
      },
    ]);
  });
  it('keyvalue / httpclient / blobstore: component → provider, values as target config', () => {
    const cases: [string, string, string, string[]][] = [
      ['wasmcloud:keyvalue', 'wasi', 'keyvalue', ['atomics', 'store']],
      ['wasmcloud:httpclient', 'wasi', 'http', ['outgoing-handler']],
      ['wasmcloud:blobstore', 'wasi', 'blobstore', ['blobstore']],
    ];
    for (const [contract, namespace, pkg, interfaces] of cases) {
      const [app, prov] = traitsOf(seed(contract));
      const name = `app-prov-${contract.split(':')[1]}`;
      assert.deepEqual(app, [{ type: 'link', properties: { namespace, package: pkg, interfaces, target: { name: 'prov', ...cfgNamed(name) } } }], contract);
      assert.deepEqual(prov, [], contract);
    }
  });
  it('messaging: both directions on wasmcloud:messaging', () => {
    const [app, prov] = traitsOf(seed('wasmcloud:messaging', '            values:\n              subscriptions: a.b\n'));
    assert.deepEqual(app, [{ type: 'link', properties: { namespace: 'wasmcloud', package: 'messaging', interfaces: ['consumer'], target: { name: 'prov' } } }]);
    assert.deepEqual(prov, [
      {
        type: 'link',
        properties: {
          namespace: 'wasmcloud',
          package: 'messaging',
          interfaces: ['handler'],
          source: { config: [{ name: 'app-prov-messaging', properties: { subscriptions: 'a.b' } }] },
          target: { name: 'app' },
        },
      },
    ]);
  });
  it('warns for each translation, the dropped contract and actor; the result validates cleanly', () => {
    const { manifest, warnings } = parseOk(seed('wasmcloud:keyvalue', ''));
    assert.deepEqual(lines(warnings), [
      `warning: component 'app': type 'actor' is deprecated, translated to 'component'`,
      `warning: component 'app': seed-era linkdef to 'prov' (wasmcloud:keyvalue) translated to link app -> prov on wasi:keyvalue [atomics, store]`,
      `warning: component 'prov': property 'contract' (wasmcloud:keyvalue) is deprecated and was dropped`,
    ]);
    assert.deepEqual(validateManifest(manifest), []);
  });
  it('an unknown contract is an error naming the 1.x link to write', () => {
    const err = parseErr(seed('wasmcloud:sqldb'));
    assert.match(
      err,
      /^spec\.components\[0\]\.traits\[0\]: the seed-era linkdef of component 'app' cannot be translated: contract 'wasmcloud:sqldb' has no known 1\.x link; write a `type: link` trait instead/,
    );
    assert.match(err, /namespace: <ns>, package: <pkg>, interfaces: \[<interface>, \.\.\.\], target: \{name: prov\}\}\} at line 14, column 11$/);
  });
  it('a linkdef whose target has no contract is an error', () =>
    assert.match(parseErr(seed(undefined)), /cannot be translated: its target 'prov' has no 'contract' property; write a `type: link` trait/));
  it('a linkdef without a target, or whose target is not a component, is an error', () => {
    const noTarget = seed('wasmcloud:keyvalue').replace('            target: prov\n', '');
    assert.match(parseErr(noTarget), /cannot be translated: it has no target; .*target: \{name: <component>\}\}\} at line \d+, column \d+$/);
    const unknown = seed('wasmcloud:keyvalue').replace('target: prov', 'target: {name: nope}');
    assert.match(parseErr(unknown), /cannot be translated: its target 'nope' is not a component of this manifest;/);
  });
  it('linkdef values: scalars become their text, null becomes ""', () => {
    const [app] = traitsOf(seed('wasmcloud:keyvalue', '            values: {port: 8080, tls: true, ratio: 1.50, none: ~}\n'));
    const props = app?.[0]?.properties as { target: { config: { properties: Record<string, string> }[] } };
    assert.deepEqual(props.target.config[0]?.properties, { port: '8080', tls: 'true', ratio: '1.50', none: '' });
  });
  it('a contract alone is dropped with a warning', () => {
    const { manifest, warnings } = parseOk(yamlWith(ONE.replace('image:', 'contract: wasmcloud:httpserver\n        image:')));
    assert.deepEqual(manifest.spec.components[0]?.properties, { image: 'example.com/http:1' });
    assert.equal(warnings.length, 1);
  });
});
