import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { earliestRequeue, isSatisfied, planLattice } from '../src/plan/index.js';
import { appHeader, capability, component, fiveHosts, HELLO, HTTP, httpLink, planInput } from './fixtures.js';
import { applyToObserved, configState, deployed, host, kinds, observedWith, Sim } from './plan-sim.js';
import { commandKey } from '../src/plan/ids.js';
import type { Command, InFlight } from '../src/types.js';

const BLOBBY = 'ghcr.io/wasmcloud/components/blobby-rust:0.4.0';
const FS = 'ghcr.io/wasmcloud/blobstore-fs:0.6.0';

const SIMPLE = (address = '0.0.0.0:8080') =>
  appHeader('hello-simple') +
  component('hello', HELLO, 4, ', id: http_hello_world') +
  capability('httpserver', HTTP, 1, ', id: http_server', httpLink('hello', { config: 'httpaddr', address })) +
  '\n';

const COMPLEX = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: complex, annotations: {} }
spec:
  policies:
    - { name: whatever, type: policy.secret.wasmcloud.dev/v1alpha1, properties: { backend: nats-kv } }
  components:
    - name: blobby
      type: component
      properties:
        image: ${BLOBBY}
        id: littleblobbytables
        config:
          - name: defaultcode
            properties: { http: '404' }
          - name: blobby-default-configuration-values
      traits:
        - type: spreadscaler
          properties:
            instances: 5
            spread:
              - { name: eastcoast, requirements: { region: us-brooks-east }, weight: 40 }
              - { name: westcoast, requirements: { region: us-taylor-west }, weight: 40 }
        - type: link
          properties:
            target:
              name: fileserver
              config:
                - name: rootfs
                  properties: { root: /tmp }
            namespace: wasi
            package: blobstore
            interfaces: [blobstore]
    - name: httpserver
      type: capability
      properties: { image: ${HTTP}, id: http_server }
      traits:
        - type: spreadscaler
          properties:
            instances: 3
            spread:
              - { name: westcoast, requirements: { region: us-taylor-west }, weight: 40 }
              - { name: the-moon, requirements: { region: moon }, weight: 20 }
        - type: link
          properties:
            target: { name: blobby }
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            source:
              config:
                - name: httpaddr
                  properties: { address: 0.0.0.0:8081 }
    - name: fileserver
      type: capability
      properties:
        image: ${FS}
        id: fileserver
        config:
          - name: defaultfs
            properties: { root: /tmp/blobby }
      traits:
        - type: spreadscaler
          properties:
            instances: 1
            spread:
              - { name: the-moon, requirements: { region: moon }, weight: 100 }
`;

describe('configs and links', () => {
  it('simple.yaml: PutConfig first, the link only once its config is observed, then deployed', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(SIMPLE());
    const r1 = sim.step();
    assert.deepEqual(kinds(r1.commands), ['PutConfig', 'ScaleComponent', 'ScaleComponent', 'ScaleComponent', 'ScaleComponent', 'StartProvider']);
    assert.deepEqual(r1.commands[0], { kind: 'PutConfig', config_name: 'hello_simple-httpaddr', config: { address: '0.0.0.0:8080' }, model_name: 'hello-simple' });
    const link = r1.statuses['hello-simple']!.scalers!.find((s) => s.kind === 'LinkScaler')!;
    assert.equal(link.name, 'http_server -(wasi:http)-> http_hello_world');
    assert.deepEqual(link.status, { type: 'reconciling', message: 'Waiting for configuration hello_simple-httpaddr' });
    const r2 = sim.step();
    assert.deepEqual(r2.commands, [
      {
        kind: 'PutLink',
        source_id: 'http_server',
        target: 'http_hello_world',
        name: 'default',
        wit_namespace: 'wasi',
        wit_package: 'http',
        interfaces: ['incoming-handler'],
        source_config: ['hello_simple-httpaddr'],
        target_config: [],
        model_name: 'hello-simple',
      },
    ]);
    const { final, rounds } = sim.converge();
    assert.equal(rounds, 0);
    assert.deepEqual(final.statuses['hello-simple']!.status, { type: 'deployed' });
    assert.deepEqual(sim.configValues.get('hello_simple-httpaddr'), { address: '0.0.0.0:8080' });
    assert.equal(sim.componentSum(HELLO, 'hello-simple'), 4);
    assert.equal(sim.providerCount(HTTP), 1);
    assert.deepEqual(final.applied, [
      {
        app: 'hello-simple',
        links: [{ source_id: 'http_server', wit_namespace: 'wasi', wit_package: 'http', name: 'default', target: 'http_hello_world' }],
        configs: { 'hello_simple-httpaddr': final.applied[0]!.configs['hello_simple-httpaddr']! },
      },
    ]);
  });

  it('a link or config put still in flight when the app is undeployed stays on record, and is deleted once it lands', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(SIMPLE());
    // The first pass issues the config put; once the config is seen, the link put. Neither has landed yet.
    let p = sim.plan();
    const putConfig = p.commands.find((c) => c.kind === 'PutConfig')!;
    assert.ok(putConfig);
    sim.observed = applyToObserved(sim.observed, p.commands.filter((c) => c !== putConfig), sim.configValues);
    sim.applied = p.applied;
    const inflight = (cs: Command[]): InFlight[] => cs.map((c) => ({ key: commandKey(c), command: c, issuedAt: sim.now, expiresAt: sim.now + 5000 }));
    // Config landed now; the link put goes out and is in flight when the undeploy comes.
    sim.observed = applyToObserved(sim.observed, [putConfig], sim.configValues);
    p = sim.plan(inflight([putConfig]));
    const putLink = p.commands.find((c) => c.kind === 'PutLink')!;
    assert.ok(putLink);
    sim.applied = p.applied;
    sim.undeploy('hello-simple');
    p = sim.plan(inflight([putLink]));
    assert.deepEqual(p.applied.map((r) => r.links.length), [1], 'the link whose put is in flight stays on record');
    sim.applied = p.applied;
    // The put lands late: the next pass deletes the link, and nothing of the app remains.
    sim.observed = applyToObserved(sim.observed, [putLink, ...p.commands], sim.configValues);
    p = sim.plan();
    assert.ok(p.commands.some((c) => c.kind === 'DeleteLink'), 'the late link is deleted');
    sim.applied = p.applied;
    sim.observed = applyToObserved(sim.observed, p.commands, sim.configValues);
    sim.converge();
    assert.deepEqual(sim.observed.links, []);
    assert.deepEqual(sim.applied, []);
    // Without a put in flight, a link never seen is dropped from the record at once.
    const s2 = new Sim(fiveHosts());
    s2.deploy(SIMPLE());
    s2.applied = [{ app: 'hello-simple', links: [{ source_id: 'http_server', wit_namespace: 'wasi', wit_package: 'http', name: 'default' }], configs: {} }];
    s2.undeploy('hello-simple');
    assert.deepEqual(s2.plan().applied, []);
  });

  it('an applied link or config not observed stays on record for the grace period, is deleted if it shows up, and is forgotten after', () => {
    const rec = { app: 'hello-simple', links: [{ source_id: 'http_server', wit_namespace: 'wasi', wit_package: 'http', name: 'default' }], configs: { 'hello_simple-httpaddr': 'h' } };
    const ids = ['config:hello_simple-httpaddr', 'link:http_server/wasi/http/default'];
    // Undeployed, and neither is observed (its event may be stuck with an ingest worker that died).
    const s = new Sim(fiveHosts());
    s.unseenGraceMs = 10_000;
    s.applied = [rec];
    const t0 = s.now;
    let p = s.plan();
    assert.deepEqual(p.commands, []);
    assert.deepEqual(p.applied, [{ ...rec, unseen: { [ids[0]!]: t0, [ids[1]!]: t0 } }], 'kept, marked unseen since now');
    assert.equal(earliestRequeue({ lattice: 'default', now: s.now, apps: [], applied: [rec], observed: s.observed, inflight: [], unseenGraceMs: 10_000 }, p), t0 + 10_000);
    s.applied = p.applied;
    s.now += 4000;
    assert.deepEqual(s.plan().applied, p.applied, 'the mark keeps its first time');
    // The lagging events arrive: both are deleted, and stay on record until the deletion is seen.
    s.observed = observedWith(s.observed.hosts, {
      configs: [configState('hello_simple-httpaddr')],
      links: [{ kind: 'link', link: { source_id: 'http_server', target: 'http_hello_world', name: 'default', wit_namespace: 'wasi', wit_package: 'http', interfaces: ['incoming-handler'], source_config: [], target_config: [] }, seq: 9 }],
    });
    p = s.plan();
    assert.deepEqual(kinds(p.commands).sort(), ['DeleteConfig', 'DeleteLink']);
    assert.deepEqual(p.applied.map((r) => r.links.length), [1]);
    // Never observed: forgotten once the grace period has passed.
    const s2 = new Sim(fiveHosts());
    s2.unseenGraceMs = 10_000;
    s2.applied = [{ ...rec, unseen: { [ids[0]!]: s2.now - 10_000, [ids[1]!]: s2.now - 10_000 } }];
    assert.deepEqual(s2.plan().applied, []);
  });

  it('undeploy (simple.yaml) removes every component, provider, link and managed config of the app, exactly once', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(SIMPLE());
    sim.converge();
    sim.undeploy('hello-simple');
    const p = sim.step();
    assert.deepEqual(kinds(p.commands).sort(), ['DeleteConfig', 'DeleteLink', 'ScaleComponent', 'ScaleComponent', 'ScaleComponent', 'ScaleComponent', 'StopProvider']);
    assert.ok(p.commands.every((c) => c.kind !== 'ScaleComponent' || c.count === 0));
    assert.deepEqual(p.statuses, {});
    const { rounds, final } = sim.converge();
    assert.equal(rounds, 0);
    assert.deepEqual(final.applied, []);
    assert.equal(sim.componentSum(HELLO), 0);
    assert.equal(sim.providerCount(HTTP), 0);
    assert.deepEqual(sim.observed.links, []);
    assert.deepEqual(sim.observed.configs, []);
  });

  it('complex.yaml: fails on a missing external config, then converges once it exists', () => {
    const sim = new Sim(fiveHosts());
    sim.deploy(COMPLEX);
    const p = sim.step();
    const blobby = p.statuses['complex']!.scalers!.find((s) => s.name === 'littleblobbytables')!;
    assert.deepEqual(blobby.status, { type: 'failed', message: 'Specified configuration blobby-default-configuration-values does not exist' });
    assert.equal(p.statuses['complex']!.status.type, 'failed');
    assert.ok(!p.commands.some((c) => c.kind === 'ScaleComponent'), 'nothing that needs the config is issued');
    sim.observed = { ...sim.observed, configs: [...sim.observed.configs, configState('blobby-default-configuration-values')] };
    const { final } = sim.converge();
    assert.equal(final.statuses['complex']!.status.type, 'deployed');
    for (const [name, v] of [
      ['complex-defaultcode', { http: '404' }],
      ['complex-rootfs', { root: '/tmp' }],
      ['complex-httpaddr', { address: '0.0.0.0:8081' }],
      ['complex-defaultfs', { root: '/tmp/blobby' }],
    ] as const) {
      assert.deepEqual(sim.configValues.get(name), v, name);
    }
    assert.equal(sim.componentSum(BLOBBY, 'complex'), 5);
    assert.equal(sim.providerCount(HTTP), 3);
    assert.equal(sim.providerCount(FS), 1);
    assert.deepEqual(sim.link('http_server', 'littleblobbytables')?.interfaces, ['incoming-handler']);
    assert.deepEqual(sim.link('littleblobbytables', 'fileserver')?.target_config, ['complex-rootfs']);
    assert.deepEqual(sim.observed.providers.filter((x) => x.providerId === 'fileserver').map((x) => x.hostId), ['m1']);
    assert.ok(!sim.observed.components.some((c) => c.hostId === 'm1'));
    const blobbyHosts = Object.fromEntries(sim.observed.components.map((c) => [c.hostId, c.maxInstances]));
    assert.deepEqual(Object.keys(blobbyHosts).sort(), ['e1', 'e2', 'w1', 'w2']);
    assert.deepEqual(Object.values(blobbyHosts).sort(), [1, 1, 1, 2]);
    const blobbyCmd = sim.history.flatMap((h) => h.commands).find((c) => c.kind === 'ScaleComponent');
    assert.deepEqual(blobbyCmd?.kind === 'ScaleComponent' && blobbyCmd.config, ['complex-defaultcode', 'blobby-default-configuration-values']);
  });

  it('a link counts as present only if every field matches', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(SIMPLE());
    sim.converge();
    const good = sim.observed.links[0]!;
    const variants = [
      { interfaces: ['incoming-handler', 'extra'] },
      { target: 'someone_else' },
      { source_config: [] },
      { target_config: ['x'] },
    ];
    for (const v of variants) {
      sim.observed = { ...sim.observed, links: [{ ...good, link: { ...good.link, ...v } }] };
      const p = sim.plan();
      assert.deepEqual(kinds(p.commands), ['PutLink'], JSON.stringify(v));
      assert.ok(!isSatisfied(p.commands[0]!, sim.observed));
    }
    sim.observed = { ...sim.observed, links: [good] };
    assert.deepEqual(sim.plan().commands, []);
  });

  it('a changed config value is re-put (same name, same scaler ids: nothing restarted); a removed link and config are deleted', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(SIMPLE());
    sim.converge();
    sim.deploy(SIMPLE('0.0.0.0:8082'), 'v2');
    const p = sim.step();
    assert.deepEqual(p.commands, [{ kind: 'PutConfig', config_name: 'hello_simple-httpaddr', config: { address: '0.0.0.0:8082' }, model_name: 'hello-simple' }]);
    assert.equal(p.statuses['hello-simple']!.status.type, 'reconciling');
    assert.deepEqual(sim.converge().rounds, 0);
    assert.deepEqual(sim.configValues.get('hello_simple-httpaddr'), { address: '0.0.0.0:8082' });
    // v3: the link (and with it its config) is gone from the manifest.
    const noLink = SIMPLE().replace(/        - type: link[\s\S]*$/u, '');
    sim.deploy(noLink, 'v3');
    const p3 = sim.step();
    assert.deepEqual(p3.commands, [
      { kind: 'DeleteLink', source_id: 'http_server', link_name: 'default', wit_namespace: 'wasi', wit_package: 'http', model_name: 'hello-simple', target: 'http_hello_world' },
      { kind: 'DeleteConfig', config_name: 'hello_simple-httpaddr', model_name: 'hello-simple' },
    ]);
    assert.deepEqual(p3.statuses['hello-simple']!.status, { type: 'reconciling', message: 'Removing 2 resource(s) no longer in the manifest' });
    const { final, rounds } = sim.converge();
    assert.equal(rounds, 0);
    assert.deepEqual(final.applied, []);
    assert.equal(final.statuses['hello-simple']!.status.type, 'deployed');
  });

  it('a config re-put when it vanished from the lattice', () => {
    const sim = new Sim([host('h1')]);
    sim.deploy(SIMPLE());
    sim.converge();
    sim.observed = { ...sim.observed, configs: [] };
    assert.deepEqual(kinds(sim.plan().commands), ['PutConfig']);
  });

  it('secrets become SECRET_ configs described by their policy', () => {
    const app = deployed(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: sec-app, annotations: {} }
spec:
  policies:
    - name: nats-kv
      type: policy.secret.wasmcloud.dev/v1alpha1
      properties: { backend: nats-kv, zone: b, account: a }
  components:
    - name: hello
      type: component
      properties:
        image: ${HELLO}
        secrets:
          - name: api-password
            properties: { policy: nats-kv, key: password, field: pw, version: '2' }
      traits:
        - type: spreadscaler
          properties: { instances: 1 }
`);
    const p = planLattice(planInput([app]));
    assert.deepEqual(p.commands, [
      {
        kind: 'PutConfig',
        config_name: 'SECRET_sec_app-api_password',
        config: {
          name: 'api-password',
          type: 'secret.wasmcloud.dev/v1alpha1',
          backend: 'nats-kv',
          key: 'password',
          policy: '{"type":"properties.secret.wasmcloud.dev/v1alpha1","properties":{"account":"a","zone":"b"}}',
          field: 'pw',
          version: '2',
        },
        model_name: 'sec-app',
      },
    ]);
    const p2 = planLattice(planInput([app], { applied: p.applied, observed: observedWith([host('h1')], { configs: [configState('SECRET_sec_app-api_password')] }) }));
    assert.deepEqual(p2.commands.map((c) => c.kind === 'ScaleComponent' && c.config), [['SECRET_sec_app-api_password']]);
  });

  it('a secret whose policy is missing fails its scaler', () => {
    const app = deployed(`${appHeader('s')}
    - name: hello
      type: component
      properties:
        image: ${HELLO}
        secrets:
          - { name: pw, properties: { policy: nope, key: k } }
      traits:
        - type: spreadscaler
          properties: { instances: 1 }
`);
    const p = planLattice(planInput([app]));
    assert.deepEqual(p.commands, []);
    assert.deepEqual(p.statuses['s']!.status, { type: 'failed', message: 'Secret pw refers to policy nope, which does not exist' });
  });
});
