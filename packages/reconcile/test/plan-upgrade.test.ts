import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from '../src/types.js';
import { appHeader, component, httpLink, HELLO, HTTP } from './fixtures.js';
import { assertNothingObserved, host, Sim } from './plan-sim.js';

const DOG1 = 'ghcr.io/wasmcloud/components/dog-fetcher-rust:0.1.0';
const DOG2 = 'ghcr.io/wasmcloud/components/dog-fetcher-rust:0.1.1';
const KV = 'ghcr.io/wasmcloud/components/http-keyvalue-counter-rust:0.1.0';
const ECHO = 'ghcr.io/wasmcloud/components/echo-messaging-rust:0.1.0';
const HTTP_OLD = 'ghcr.io/wasmcloud/http-server:0.20.1';
const REDIS = 'ghcr.io/wasmcloud/keyvalue-redis:0.26.0';

const header = appHeader('updateapp');
const httpserver = (image: string, helloAddress: string, config = '') => `
    - name: httpserver
      type: capability
      properties:
        image: ${image}
        id: http_server${config}
      traits:${httpLink('hello-world', { name: 'hello', config: 'hello-world-address', address: helloAddress })}${httpLink('dog-fetcher', { name: 'dog', config: 'dog-fetcher-address', address: '0.0.0.0:8081' })}`;
const kvLink = `
        - type: link
          properties:
            target:
              name: redis
              config:
                - name: kvconfig
                  properties: { URL: 'redis://127.0.0.1:6379' }
            namespace: wasi
            package: keyvalue
            interfaces: [atomics, store]`;

const V1 =
  header +
  component('dog-fetcher', DOG1, 5) +
  component('hello-world', HELLO, 3, ', id: http_hello_world') +
  component('kvcounter', KV, 3, '', kvLink) +
  httpserver(HTTP_OLD, '0.0.0.0:8080') +
  `
    - name: redis
      type: capability
      properties: { image: ${REDIS}, id: keyvalue_redis }
`;
const V2 = header + component('dog-fetcher', DOG2, 5) + component('echo-messaging', ECHO, 1) + component('hello-world', HELLO, 3, ', id: http_hello_world') + httpserver(HTTP, '0.0.0.0:8082') + '\n';
const V3 =
  header +
  component('dog-fetcher', DOG2, 5) +
  component('echo-messaging', ECHO, 1) +
  component('hello-world', HELLO, 3, ', id: http_hello_world') +
  httpserver(HTTP, '0.0.0.0:8080', `\n        config:\n          - name: http-config\n            properties: { number: '1' }`) +
  '\n';

const touches = (cmds: readonly Command[], id: string) =>
  cmds.some((c) => (c.kind === 'ScaleComponent' && c.component_id === id) || ((c.kind === 'StartProvider' || c.kind === 'StopProvider') && c.provider_id === id));
const configOfLink = (sim: Sim, source: string, target: string, side: 'source_config' | 'target_config') => sim.configValues.get(sim.link(source, target)?.[side][0] ?? '');

describe('upgrades (docs/wire/scenarios.md §2, one host)', () => {
  it('v1 → v2 → v3: unchanged resources keep running, removed ones are cleaned, changed configs re-put', () => {
    const sim = new Sim([host('h1', { app: 'upgradey' })]);

    // Phase 1
    sim.deploy(V1, 'v1');
    assert.equal(sim.step().statuses['updateapp']!.status.type, 'reconciling');
    let r = sim.converge();
    assert.equal(sim.componentSum(DOG1, 'updateapp'), 5);
    assert.equal(sim.componentSum(HELLO, 'updateapp'), 3);
    assert.equal(sim.componentSum(KV, 'updateapp'), 3);
    assert.equal(sim.providerCount(HTTP_OLD), 1);
    assert.equal(sim.providerCount(REDIS), 1);
    assert.deepEqual(configOfLink(sim, 'http_server', 'http_hello_world', 'source_config'), { address: '0.0.0.0:8080' });
    assert.deepEqual(configOfLink(sim, 'http_server', 'updateapp-dog_fetcher', 'source_config'), { address: '0.0.0.0:8081' });
    assert.deepEqual(configOfLink(sim, 'updateapp-kvcounter', 'keyvalue_redis', 'target_config'), { URL: 'redis://127.0.0.1:6379' });
    assert.deepEqual(r.final.statuses['updateapp']!.status, { type: 'deployed' });

    // Phase 2
    sim.deploy(V2, 'v2');
    const first = sim.plan();
    assert.equal(first.statuses['updateapp']!.status.type, 'reconciling');
    // Same id, new image: the running instance is updated in place (one host, 5 instances: no room within
    // maxUnavailable 1, so one host at a time).
    const dog = first.statuses['updateapp']!.scalers!.find((s) => s.name === 'updateapp-dog_fetcher')!;
    assert.deepEqual(dog.status, {
      type: 'reconciling',
      message: 'rolling out updateapp-dog_fetcher: 0 of 5 updated, 1 host at a time (maxUnavailable 1 leaves no room and no host is spare to start on first)',
    });
    assert.ok(first.commands.some((c) => c.kind === 'UpdateComponent' && c.component_id === 'updateapp-dog_fetcher' && c.new_component_ref === DOG2));
    assert.ok(!first.commands.some((c) => c.kind === 'ScaleComponent' && c.component_id === 'updateapp-dog_fetcher'), 'not stopped and started again');
    const before = sim.history.length;
    r = sim.converge();
    const v2Commands = sim.history.slice(before).flatMap((h) => h.commands);
    assert.equal(sim.componentSum(DOG2, 'updateapp'), 5);
    assert.equal(sim.componentSum(DOG1, 'updateapp'), 0);
    assert.equal(sim.componentSum(ECHO, 'updateapp'), 1);
    assert.equal(sim.componentSum(HELLO, 'updateapp'), 3);
    assert.equal(sim.componentSum(KV, 'updateapp'), 0);
    assert.equal(sim.providerCount(HTTP), 1);
    assert.equal(sim.providerCount(HTTP_OLD), 0);
    assert.equal(sim.providerCount(REDIS), 0);
    assert.deepEqual(configOfLink(sim, 'http_server', 'http_hello_world', 'source_config'), { address: '0.0.0.0:8082' });
    assert.equal(sim.link('updateapp-kvcounter', 'keyvalue_redis'), undefined);
    assert.ok(!sim.observed.configs.some((c) => c.name === 'updateapp-kvconfig'), 'the removed link\'s config is deleted');
    assert.ok(!touches(v2Commands, 'http_hello_world'), 'the unchanged component is left running');
    assert.ok(!v2Commands.some((c) => (c.kind === 'PutLink' || c.kind === 'DeleteLink') && c.source_id === 'http_server'), 'links of an id that stays are left alone');
    assert.deepEqual(r.final.statuses['updateapp']!.status, { type: 'deployed' });

    // Phase 3
    sim.deploy(V3, 'v3');
    const p3 = sim.plan();
    assert.equal(p3.statuses['updateapp']!.status.type, 'reconciling');
    const before3 = sim.history.length;
    r = sim.converge();
    const v3Commands = sim.history.slice(before3).flatMap((h) => h.commands);
    // The provider's config list changed ⇒ new scaler id ⇒ restarted, after its new config exists.
    const startAt = v3Commands.findIndex((c) => c.kind === 'StartProvider');
    const putAt = v3Commands.findIndex((c) => c.kind === 'PutConfig' && c.config_name === 'updateapp-http_config');
    assert.ok(putAt >= 0 && startAt > putAt);
    assert.ok(v3Commands.some((c) => c.kind === 'StopProvider' && c.provider_id === 'http_server'));
    assert.equal(sim.observed.providers.find((p) => p.providerId === 'http_server')!.imageRef, HTTP);
    assert.equal(sim.providerCount(HTTP), 1);
    assert.equal(sim.componentSum(DOG2, 'updateapp'), 5);
    assert.equal(sim.componentSum(ECHO, 'updateapp'), 1);
    assert.equal(sim.componentSum(HELLO, 'updateapp'), 3);
    assert.ok(!touches(v3Commands, 'http_hello_world') && !touches(v3Commands, 'updateapp-dog_fetcher'));
    assert.deepEqual(configOfLink(sim, 'http_server', 'http_hello_world', 'source_config'), { address: '0.0.0.0:8080' });
    assert.deepEqual(configOfLink(sim, 'http_server', 'updateapp-dog_fetcher', 'source_config'), { address: '0.0.0.0:8081' });
    assert.deepEqual(r.final.statuses['updateapp']!.status, { type: 'deployed' });

    // Undeploy: everything the app owns goes, once.
    sim.undeploy('updateapp');
    const u = sim.step();
    assert.ok(u.commands.length > 0);
    r = sim.converge();
    assert.equal(r.rounds, 0);
    assertNothingObserved(sim.observed);
    assert.deepEqual(r.final.applied, []);
  });
});
