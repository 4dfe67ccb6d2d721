import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appHeader, capability, component, HELLO, HTTP, httpLink } from './fixtures.js';
import { host, Sim } from './plan-sim.js';

const CLIENT = 'ghcr.io/wasmcloud/http-client:0.12.0';
const SHARED = "{ experimental.wasmcloud.dev/shared: 'true' }";

const SHARED_HTTP =
  appHeader('shared-http', SHARED) +
  capability('httpclient', CLIENT, 1) +
  capability('httpserver', HTTP, 1) +
  '\n';

const SHARED_HTTP_DEV =
  appHeader('shared-http-dev') +
  component('hello', HELLO, 12) +
  `
        - type: link
          properties:
            target: { name: http-client-this }
            namespace: wasi
            package: http
            interfaces: [outgoing-handler]
    - name: http-client-this
      type: capability
      properties:
        application: { name: shared-http, component: httpclient }
    - name: httpserver
      type: capability
      properties:
        application: { name: shared-http, component: httpserver }
      traits:
        - type: spreadscaler
          properties: { instances: 3 }` +
  httpLink('hello', { config: 'httpaddr', address: '0.0.0.0:8080' }) +
  '\n';

const SHARED_COMPONENT = `${appHeader('shared-component', SHARED)}
    - name: link-to-meee
      type: component
      properties:
        image: ${HELLO}
        config:
          - name: defaults
            properties: { left: right }
      traits:
        - type: spreadscaler
          properties: { instances: 1 }
`;

const SHARED_COMPONENT_DEV =
  appHeader('shared-component-dev') +
  component('hello', HELLO, 12) +
  `
        - type: link
          properties:
            target: { name: component-dep }
            namespace: custom
            package: package
            interfaces: [inter, face]
    - name: component-dep
      type: component
      properties:
        application: { name: shared-component, component: link-to-meee }
      traits:
        - type: link
          properties:
            target:
              name: hello
              config:
                - name: someconfig
                  properties: { foo: bar }
            namespace: custom
            package: package
            interfaces: [inter, face]` +
  capability('httpserver', HTTP, 1, '', httpLink('component-dep')) +
  '\n';

const linkSet = (sim: Sim) =>
  sim.observed.links.map((l) => `${l.link.source_id} -(${l.link.wit_namespace}:${l.link.wit_package}/${l.link.interfaces.join(',')}:${l.link.name})-> ${l.link.target}`).sort();

describe('shared applications (docs/wire/scenarios.md §3)', () => {
  it('shared providers: references resolve to the shared app\'s ids and only produce links', () => {
    const sim = new Sim([host('a'), host('b')]);
    sim.deploy(SHARED_HTTP);
    let r = sim.converge();
    assert.equal(sim.providerCount(HTTP), 1);
    assert.equal(sim.providerCount(CLIENT), 1);
    assert.deepEqual(sim.observed.links, []);
    assert.equal(r.final.statuses['shared-http']!.status.type, 'deployed');

    sim.deploy(SHARED_HTTP_DEV);
    const p = sim.plan();
    // The spreadscaler on the shared reference is ignored: only the hello spread and two links.
    assert.deepEqual(p.statuses['shared-http-dev']!.scalers!.map((s) => `${s.kind} ${s.name}`), [
      'SpreadScaler shared_http_dev-hello',
      'LinkScaler shared_http_dev-hello -(wasi:http)-> shared_http-httpclient',
      'LinkScaler shared_http-httpserver -(wasi:http)-> shared_http_dev-hello',
    ]);
    r = sim.converge();
    assert.deepEqual(sim.configValues.get('shared_http_dev-httpaddr'), { address: '0.0.0.0:8080' });
    assert.equal(sim.providerCount(HTTP), 1);
    assert.equal(sim.providerCount(CLIENT), 1);
    assert.equal(sim.componentSum(HELLO, 'shared-http-dev'), 12);
    assert.deepEqual(linkSet(sim), [
      'shared_http-httpserver -(wasi:http/incoming-handler:default)-> shared_http_dev-hello',
      'shared_http_dev-hello -(wasi:http/outgoing-handler:default)-> shared_http-httpclient',
    ]);
    assert.equal(r.final.statuses['shared-http']!.status.type, 'deployed');
    assert.equal(r.final.statuses['shared-http-dev']!.status.type, 'deployed');

    // Undeploying the dependent app removes its links and component, never the shared providers.
    sim.undeploy('shared-http-dev');
    sim.converge();
    assert.equal(sim.providerCount(HTTP), 1);
    assert.equal(sim.providerCount(CLIENT), 1);
    assert.deepEqual(sim.observed.links, []);
    assert.equal(sim.componentSum(HELLO), 0);
  });

  it('shared components: links both ways and from a local provider, configs named after the referencing app', () => {
    const sim = new Sim([host('a'), host('b')]);
    sim.deploy(SHARED_COMPONENT);
    sim.converge();
    assert.deepEqual(sim.configValues.get('shared_component-defaults'), { left: 'right' });
    assert.equal(sim.componentSum(HELLO, 'shared-component'), 1);
    sim.deploy(SHARED_COMPONENT_DEV);
    const r = sim.converge();
    assert.equal(sim.providerCount(HTTP), 1);
    assert.equal(sim.componentSum(HELLO, 'shared-component'), 1);
    assert.equal(sim.componentSum(HELLO, 'shared-component-dev'), 12);
    assert.deepEqual(sim.configValues.get('shared_component_dev-someconfig'), { foo: 'bar' });
    assert.deepEqual(linkSet(sim), [
      'shared_component-link_to_meee -(custom:package/inter,face:default)-> shared_component_dev-hello',
      'shared_component_dev-hello -(custom:package/inter,face:default)-> shared_component-link_to_meee',
      'shared_component_dev-httpserver -(wasi:http/incoming-handler:default)-> shared_component-link_to_meee',
    ]);
    assert.deepEqual(sim.link('shared_component-link_to_meee', 'shared_component_dev-hello')?.target_config, ['shared_component_dev-someconfig']);
    assert.equal(r.final.statuses['shared-component']!.status.type, 'deployed');
    assert.equal(r.final.statuses['shared-component-dev']!.status.type, 'deployed');
  });

  it('a shared component with an explicit id is referenced by that id', () => {
    const sim = new Sim([host('a')]);
    sim.deploy(SHARED_HTTP.replace(`properties: { image: ${CLIENT} }`, `properties: { image: ${CLIENT}, id: the_client }`));
    sim.deploy(SHARED_HTTP_DEV);
    sim.converge();
    assert.ok(sim.link('shared_http_dev-hello', 'the_client'));
  });
});
