import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstError, hasErrors, isValidOamKey, validateManifest, type JsonValue, type Policy } from '../src/index.js';
import { cap, comp, lines, link, manifest, trait } from './helpers.js';

const SECRET_POLICY = 'policy.secret.wasmcloud.dev/v1alpha1';

describe('R1 manifest name', () => {
  for (const name of ['mymanifest', 'my-manifest', 'my_manifest', 'mymanifest-v2-v3-final', 'приложение-1']) {
    it(`accepts ${name}`, () => assert.deepEqual(validateManifest(manifest([], { name })), []));
  }
  for (const name of ['my.manifest', 'my manifest', ' foo', '']) {
    it(`rejects ${JSON.stringify(name)}`, () =>
      assert.deepEqual(lines(validateManifest(manifest([], { name }))), [
        `error: manifest name [${name}] is not allowed (should match regex [^[-\\w]+$])`,
      ]));
  }
});

describe('R2 version', () => {
  it('rejects latest', () =>
    assert.deepEqual(lines(validateManifest(manifest([], { annotations: { version: 'latest' } }))), ['error: latest is not allowed in wadm']));
  it('accepts any other version and none', () => {
    assert.deepEqual(validateManifest(manifest([], { annotations: { version: 'Latest' } })), []);
    assert.deepEqual(validateManifest(manifest([], { annotations: {} })), []);
  });
});

describe('OAM keys (R3/R4 rule)', () => {
  for (const key of ['foo', 'app.oam.io/name', 'justaregularstring', 'dash-period.numb3r/any_v4lue', 'version', 'experimental.wasmcloud.dev/shared']) {
    it(`valid: ${key}`, () => assert.equal(isValidOamKey(key), true));
  }
  const invalid = ['my_prefix/app-name', '1my_prefix/app-name', 'my_prefix---/app-name', 'my_prefix/app-name...', 'a'.repeat(255)];
  for (const key of [...invalid, '', 'a/b/c', '/name', 'pre/', '-x', 'x-', 'ünï']) {
    it(`invalid: ${key.length > 20 ? `${key.slice(0, 8)}…(${key.length})` : JSON.stringify(key)}`, () => assert.equal(isValidOamKey(key), false));
  }
});

describe('R3/R4 labels and annotations', () => {
  it('R3 reports each invalid label as a Rust debug tuple, sorted by key', () => {
    const m = manifest([], { labels: { 'z_/a': 'v', 'app.oam.io/name': 'ok', 'b"/q': 'say "hi"\n' } });
    assert.deepEqual(lines(validateManifest(m)), [
      'error: Invalid OAM label: ("b\\"/q", "say \\"hi\\"\\n")',
      'error: Invalid OAM label: ("z_/a", "v")',
    ]);
  });
  it('R4 reports invalid annotation keys', () => {
    const m = manifest([], { annotations: { version: 'v1', 'my_prefix/x': 'y' } });
    assert.deepEqual(lines(validateManifest(m)), ['error: Invalid OAM annotation: ("my_prefix/x", "y")']);
  });
});

describe('R5 names, ids, link targets', () => {
  it('R5a: one error per repeated name', () => {
    const m = manifest([comp('ui'), comp('ui'), comp('ui'), comp('vets'), cap('vets')]);
    assert.deepEqual(lines(validateManifest(m)), [
      'error: Duplicate component name in manifest: ui',
      'error: Duplicate component name in manifest: ui',
      'error: Duplicate component name in manifest: vets',
    ]);
  });
  it('R5b: explicit ids share one registry across components and capabilities', () => {
    const m = manifest([
      comp('a', { properties: { image: 'x', id: 'httpserver' } }),
      cap('b', { properties: { image: 'x', id: 'httpserver' } }),
      cap('c', { properties: { image: 'x', id: 'other' } }),
    ]);
    assert.deepEqual(lines(validateManifest(m)), ['error: Duplicate component identifier in manifest: httpserver']);
  });
  it('R5a/R5b are checked component by component', () => {
    const m = manifest([comp('a', { properties: { image: 'x', id: 'i' } }), comp('b', { properties: { image: 'x', id: 'i' } }), comp('b')]);
    assert.deepEqual(lines(validateManifest(m)), [
      'error: Duplicate component identifier in manifest: i',
      'error: Duplicate component name in manifest: b',
    ]);
  });
  it('R5c: one error listing every missing target, from link-shaped traits of any type', () => {
    const m = manifest([
      comp('echo', {
        traits: [
          trait('linkdef', { namespace: 'wasi', package: 'http', interfaces: ['outgoing-handler'], target: { name: 'httpclyent' } }),
          link('other'),
          link('httpclyent', { name: 'second' }),
          trait('linkdef', { target: 'ignored-custom', values: {} }),
        ],
      }),
    ]);
    const fs = validateManifest(m);
    assert.equal(fs[0]?.msg, 'The following capability component(s) are missing from the manifest: ["httpclyent", "other"]');
    assert.equal(fs.filter((f) => f.msg.startsWith('The following')).length, 1);
  });
});

describe('R6 known interfaces', () => {
  const withIfaces = (ns: string, pkg: string, ifaces: string[], type = 'link') =>
    manifest([comp('a', { traits: [trait(type, { namespace: ns, package: pkg, interfaces: ifaces, target: { name: 'b' } })] }), cap('b')]);
  it('warns for an unknown interface of a known package', () =>
    assert.deepEqual(lines(validateManifest(withIfaces('wasi', 'keyvalue', ['atomic', 'eventual', 'store']))), [
      'warning: unrecognized interface [wasi:keyvalue/atomic]',
      'warning: unrecognized interface [wasi:keyvalue/eventual]',
    ]));
  it('warns for an unknown package of a known namespace', () =>
    assert.deepEqual(lines(validateManifest(withIfaces('wasi', 'keyvalues', ['atomics']))), ['warning: unrecognized interface [wasi:keyvalues/atomics]']));
  it('knows wrpc, wasmcloud:messaging and wasi:config/logging', () => {
    assert.deepEqual(validateManifest(withIfaces('wrpc', 'keyvalue', ['atomics', 'store'])), []);
    assert.deepEqual(validateManifest(withIfaces('wasmcloud', 'messaging', ['consumer', 'handler'])), []);
    assert.deepEqual(validateManifest(withIfaces('wasi', 'logging', ['logging'])), []);
    assert.deepEqual(lines(validateManifest(withIfaces('wasmcloud', 'postgres', ['query']))), ['warning: unrecognized interface [wasmcloud:postgres/query]']);
  });
  it('never warns for a custom namespace, nor for non-link trait types', () => {
    assert.deepEqual(validateManifest(withIfaces('my-wasi', 'keyvalue', ['anything'])), []);
    assert.deepEqual(validateManifest(withIfaces('wasi', 'keyvalue', ['atomic'], 'linkdef')), []);
  });
});

describe('R7 link targets of link traits', () => {
  it('R7a: named and unnamed dangling links warn (with R5c error)', () => {
    const m = manifest([comp('a', { traits: [link('httpclient'), link('x', { name: 'n1' })] })]);
    assert.deepEqual(lines(validateManifest(m)), [
      'error: The following capability component(s) are missing from the manifest: ["httpclient", "x"]',
      'warning: link (target [httpclient]) target [httpclient] is not a listed component',
      'warning: link (name [n1]) target [x] is not a listed component',
    ]);
  });
  it('R7b: a custom link body without target', () => {
    const fs = validateManifest(manifest([comp('a', { traits: [trait('link', { namespace: 'wasi', interfaces: [] })] })]));
    assert.equal(fs[0]?.msg, `custom link is missing 'target' property`);
    assert.equal(fs[0]?.level, 'error');
  });
  it('R7b: a custom link body that is not a map', () => {
    const fs = validateManifest(manifest([comp('a', { traits: [trait('link', 'nonsense')] })]));
    assert.equal(fs[0]?.msg, `custom link is missing 'target' property`);
  });
  it('R7c: a custom link whose target has no string name (incl. the legacy string form)', () => {
    for (const target of ['b', { name: 3 }, { config: [] }] as JsonValue[]) {
      const fs = validateManifest(manifest([comp('a', { traits: [trait('link', { package: 'http', target })] }), comp('b')]));
      assert.deepEqual(fs[0], { level: 'error', msg: `custom link is missing 'target' name property` });
    }
  });
  it('R7d: a custom link whose target is not a component warns', () => {
    const fs = validateManifest(manifest([comp('a', { traits: [trait('link', { package: 'http', target: { name: 'zz' } })] })]));
    assert.deepEqual(fs[0], { level: 'warning', msg: 'custom link target [zz] is not a listed component' });
    const ok = validateManifest(manifest([comp('a', { traits: [trait('link', { package: 'http', target: { name: 'a' } })] })]));
    assert.equal(ok.filter((f) => f.msg.startsWith('custom link target')).length, 0);
  });
  it('R7x: a link trait whose body is scaler-shaped is an error', () => {
    const fs = validateManifest(manifest([comp('a', { traits: [trait('link', { instances: 1 })] })]));
    assert.deepEqual(lines(fs), ['error: Link trait deserialized as scaler trait, ensure fields are correct: {"instances":1}']);
  });
});

describe('R8 secrets and policies', () => {
  const policies: Policy[] = [
    { name: 'vault', type: SECRET_POLICY, properties: { backend: 'vault' } },
    { name: 'plain', type: 'policy.other/v1', properties: { backend: 'x' } },
    { name: 'nobackend', type: SECRET_POLICY, properties: {} },
  ];
  const secret = (name: string, policy: string) => ({ name, properties: { policy, key: 'k' } });
  it('accepts a secret mapped to a secret policy with a backend; ignores unreferenced bad policies', () =>
    assert.deepEqual(validateManifest(manifest([comp('a', { properties: { image: 'x', secrets: [secret('s', 'vault')] } })], { policies })), []));
  it('R8a unknown, R8b not a secret policy, R8c no backend', () => {
    const m = manifest([comp('a', { properties: { image: 'x', secrets: [secret('s1', 'nope'), secret('s2', 'plain'), secret('s3', 'nobackend')] } })], { policies });
    assert.deepEqual(lines(validateManifest(m)), [
      `error: secret 's1' is mapped to unknown policy 'nope'`,
      `error: secret 's2' is mapped to policy 'plain' which is not a secret policy. Expected type '${SECRET_POLICY}'`,
      `error: secret 's3' is mapped to policy 'nobackend' which does not include a 'backend' property`,
    ]);
  });
  it('checks link target and source secrets too', () => {
    const l = link('b', { target: { name: 'b', secrets: [secret('t', 'nope')] }, source: { secrets: [secret('s', 'nope2')] } });
    const m = manifest([comp('a', { traits: [l] }), cap('b')], { policies });
    assert.deepEqual(lines(validateManifest(m)), [`error: secret 't' is mapped to unknown policy 'nope'`, `error: secret 's' is mapped to unknown policy 'nope2'`]);
  });
});

describe('R9 trait shapes', () => {
  it('R9a: a link trait whose body is custom, printed as JSON with sorted keys', () => {
    const fs = validateManifest(manifest([comp('a', { traits: [trait('link', { target: { name: 'a' }, package: 'p', namespace: 'n' })] })]));
    assert.deepEqual(lines(fs), ['error: Link trait deserialized as custom trait, ensure fields are correct: {"namespace":"n","package":"p","target":{"name":"a"}}']);
  });
  it('R9b: a spreadscaler without instances (incorrect_component fixture)', () => {
    const body = { spread: [{ name: 'uiclinicapp', requirements: { app: 'petclinic' } }] };
    const fs = validateManifest(manifest([comp('ui', { traits: [trait('spreadscaler', body)] })]));
    assert.deepEqual(lines(fs), [
      'error: Scaler trait deserialized as custom trait, ensure fields are correct: {"spread":[{"name":"uiclinicapp","requirements":{"app":"petclinic"}}]}',
    ]);
  });
  it('R9b: daemonscaler with a bad body; a scaler trait with a link body', () => {
    const m = manifest([
      comp('a', {
        traits: [trait('daemonscaler', { instances: -1 }), trait('spreadscaler', { namespace: 'n', package: 'p', interfaces: [], target: { name: 'a' } })],
      }),
    ]);
    assert.deepEqual(lines(validateManifest(m)), [
      'error: Scaler trait deserialized as custom trait, ensure fields are correct: {"instances":-1}',
      'error: Scaler trait deserialized as custom trait, ensure fields are correct: {"interfaces":[],"namespace":"n","package":"p","target":{"name":"a"}}',
    ]);
  });
  it('other trait types may have any body', () =>
    assert.deepEqual(validateManifest(manifest([comp('a', { traits: [trait('customscaler', { instances: 4, clouds: ['aws'] }), trait('linkdef', null)] })])), []));
});

describe('R10 image / application', () => {
  const app = { name: 'shared-app', component: 'c' };
  const cases: [string, Parameters<typeof comp>[1], string][] = [
    ['R10a both', { properties: { image: 'x', application: app } }, `Component cannot have both 'image' and 'application' properties`],
    ['R10b neither', { properties: {} }, `Component must have either 'image' or 'application' property`],
    ['R10c config', { properties: { application: app, config: [{ name: 'c' }] } }, `Shared component 'shared-app' cannot specify additional 'config'`],
    [
      'R10d secrets',
      { properties: { application: app, secrets: [{ name: 's', properties: { policy: 'p', key: 'k' } }] } },
      `Shared component 'shared-app' cannot specify additional 'secrets'`,
    ],
    [
      'R10e scaler',
      { properties: { application: app }, traits: [trait('daemonscaler', { instances: 1 })] },
      `Shared component 'shared-app' cannot include a scaler trait`,
    ],
  ];
  for (const [title, extra, msg] of cases) {
    it(title, () => assert.deepEqual(lines(validateManifest(manifest([comp('x', extra)]))).filter((l) => !l.includes('policy')), [`error: ${msg}`]));
  }
  it('only the first applicable R10 failure per component', () => {
    const m = manifest([
      comp('x', { properties: { application: app, config: [{ name: 'c' }], secrets: [{ name: 's', properties: { policy: 'p', key: 'k' } }] } }),
    ]);
    assert.deepEqual(lines(validateManifest(m)).filter((l) => l.includes('Shared')), [`error: Shared component 'shared-app' cannot specify additional 'config'`]);
  });
  it('a shared reference may carry link traits; an empty config list is fine', () =>
    assert.deepEqual(validateManifest(manifest([comp('x', { properties: { application: app, config: [] }, traits: [link('y')] }), cap('y')])), []));
});

describe('R11 duplicate links', () => {
  const kv = (ifaces: string[], name?: string) =>
    trait('link', { namespace: 'wasi', package: 'keyvalue', interfaces: ifaces, target: { name: 'kv' }, ...(name ? { name } : {}) });
  it('reports a repeated (name, namespace, package, interface) within one component', () => {
    const m = manifest([comp('my-component', { traits: [kv(['atomics']), kv(['store', 'atomics'])] }), cap('kv')]);
    assert.deepEqual(lines(validateManifest(m)), [`error: Duplicate link found inside component 'my-component': default (wasi:keyvalue/atomics)`]);
  });
  it('an explicit name "default" equals the default name', () => {
    const m = manifest([comp('c', { traits: [kv(['atomics']), kv(['atomics'], 'default')] }), cap('kv')]);
    assert.equal(validateManifest(m).length, 1);
  });
  it('distinct interfaces, names or components are fine', () => {
    const m = manifest([comp('c', { traits: [kv(['atomics']), kv(['store']), kv(['atomics'], 'other')] }), comp('d', { traits: [kv(['atomics'])] }), cap('kv')]);
    assert.deepEqual(validateManifest(m), []);
  });
});

describe('R12 link config names', () => {
  it('reports repeated managed config names across all links (target first, then source); references are exempt', () => {
    const cfg = (name: string, withProps = true): JsonValue => (withProps ? { name, properties: { k: 'v' } } : { name });
    const m = manifest([
      comp('a', {
        traits: [
          link('b', { target: { name: 'b', config: [cfg('redis-url'), cfg('shared', false)] }, source: { config: [cfg('default-port')] } }),
          trait('link', { namespace: 'wasi', package: 'keyvalue', interfaces: ['store'], target: { name: 'b', config: [cfg('redis-url'), cfg('shared', false)] } }),
        ],
      }),
      cap('b', {
        traits: [
          link('a', { source: { config: [cfg('alternate-port'), cfg('alternate-port')] } }),
          trait('link', { namespace: 'wasi', package: 'blobstore', interfaces: ['blobstore'], target: { name: 'a' }, source: { config: [cfg('default-port')] } }),
        ],
      }),
    ]);
    assert.deepEqual(lines(validateManifest(m)), [
      `error: Duplicate link config name found: 'redis-url'`,
      `error: Duplicate link config name found: 'alternate-port'`,
      `error: Duplicate link config name found: 'default-port'`,
    ]);
  });
});

describe('evaluation order and helpers', () => {
  it('reports every failure, in wadm order', () => {
    const m = manifest(
      [
        comp('a', { properties: {}, traits: [link('zz'), link('zz'), trait('spreadscaler', {})] }),
        comp('a', { properties: { image: 'x', secrets: [{ name: 's', properties: { policy: 'p', key: 'k' } }] } }),
      ],
      { name: 'bad name', annotations: { version: 'latest' }, labels: { 'bad_/x': '1' } },
    );
    assert.deepEqual(lines(validateManifest(m)), [
      'error: manifest name [bad name] is not allowed (should match regex [^[-\\w]+$])',
      'error: latest is not allowed in wadm',
      'error: Invalid OAM label: ("bad_/x", "1")',
      'error: Duplicate component name in manifest: a',
      'error: The following capability component(s) are missing from the manifest: ["zz"]',
      'warning: link (target [zz]) target [zz] is not a listed component',
      'warning: link (target [zz]) target [zz] is not a listed component',
      `error: secret 's' is mapped to unknown policy 'p'`,
      'error: Scaler trait deserialized as custom trait, ensure fields are correct: {}',
      `error: Component must have either 'image' or 'application' property`,
      `error: Duplicate link found inside component 'a': default (wasi:http/incoming-handler)`,
    ]);
  });
  it('hasErrors / firstError ignore warnings', () => {
    const w = { level: 'warning' as const, msg: 'w' };
    const e = { level: 'error' as const, msg: 'e' };
    assert.equal(hasErrors([w]), false);
    assert.equal(hasErrors([w, e]), true);
    assert.equal(firstError([w]), undefined);
    assert.deepEqual(firstError([w, e, { level: 'error', msg: 'e2' }]), e);
  });
});
