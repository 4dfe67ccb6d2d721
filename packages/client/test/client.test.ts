import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { NO_RESPONDERS_MESSAGE, WadmClient, WadmClientError } from '../src/index.js';
import { connectTo, startNatsServer, type TestServer } from './nats-server.js';

interface Seen {
  subject: string;
  body: string;
  contentType: string | undefined;
}

const MANIFEST = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: hello
  annotations:
    version: v0.0.1
spec:
  components:
    - name: http
      type: actor
      properties:
        image: ghcr.io/example/http:0.1.0
      traits:
        - type: spreadscaler
          properties:
            replicas: 1
`;

/** Answer every request under `pattern` with `reply(seen)` (once the server knows the subscription); remember what was received. */
async function respond(nc: NatsConnection, pattern: string, reply: (seen: Seen) => unknown): Promise<Seen[]> {
  const seen: Seen[] = [];
  nc.subscribe(pattern, {
    callback: (_err, msg: Msg) => {
      const s = { subject: msg.subject, body: msg.string(), contentType: msg.headers?.get('Content-Type') || undefined };
      seen.push(s);
      const body = reply(s);
      if (body !== undefined) msg.respond(JSON.stringify(body));
    },
  });
  await nc.flush();
  return seen;
}

async function rejectsWith(p: Promise<unknown>, kind: WadmClientError['kind'], message?: RegExp | string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof WadmClientError, `expected WadmClientError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

describe('WadmClient', () => {
  let server: TestServer;
  let serverNc: NatsConnection;
  let nc: NatsConnection;

  before(async () => {
    server = await startNatsServer();
    serverNc = await connectTo(server);
    nc = await connectTo(server);
  });

  after(async () => {
    await nc.close();
    await serverNc.close();
    await server.stop();
  });

  it('put parses locally and sends normalised JSON with Content-Type: application/json', async () => {
    const seen = await respond(serverNc, 'wadm.api.put1.model.>', () => ({
      result: 'created',
      total_versions: 1,
      current_version: 'v0.0.1',
      message: 'Successfully put manifest hello ',
      name: 'hello',
    }));
    const client = new WadmClient(nc, { lattice: 'put1' });
    const reply = await client.put(MANIFEST);
    assert.equal(reply.result, 'created');
    assert.equal(reply.current_version, 'v0.0.1');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.subject, 'wadm.api.put1.model.put');
    assert.equal(seen[0]!.contentType, 'application/json');
    const sent = JSON.parse(seen[0]!.body) as { metadata: { name: string }; spec: { components: { type: string }[] } };
    assert.equal(sent.metadata.name, 'hello');
    assert.equal(sent.spec.components[0]!.type, 'component');
  });

  it('put rejects a manifest that does not parse, without sending anything', async () => {
    const seen = await respond(serverNc, 'wadm.api.put2.model.>', () => ({ result: 'error', message: 'should not be reached' }));
    const client = new WadmClient(nc, { lattice: 'put2' });
    await rejectsWith(client.put('apiVersion: [unclosed'), 'invalid_manifest', /^Invalid manifest: /);
    await nc.flush();
    assert.equal(seen.length, 0);
  });

  it('get, delete and deploy send an empty body, or {"version"} when a version is given', async () => {
    const seen = await respond(serverNc, 'wadm.api.bodies.model.>', (s) =>
      s.subject.includes('.get.')
        ? { result: 'success', message: 'ok', manifest: { kind: 'Application' } }
        : s.subject.includes('.del.')
          ? { result: 'deleted', message: 'ok', undeploy: false }
          : { result: 'acknowledged', message: 'ok', name: 'hello', version: 'v1' },
    );
    const client = new WadmClient(nc, { lattice: 'bodies' });
    await client.get('hello');
    await client.get('hello', 'v1');
    await client.delete('hello');
    await client.delete('hello', 'v1');
    await client.deploy('hello');
    await client.deploy('hello', 'v1');
    await client.undeploy('hello');
    assert.deepEqual(
      seen.map((s) => [s.subject, s.body]),
      [
        ['wadm.api.bodies.model.get.hello', ''],
        ['wadm.api.bodies.model.get.hello', '{"version":"v1"}'],
        ['wadm.api.bodies.model.del.hello', ''],
        ['wadm.api.bodies.model.del.hello', '{"version":"v1"}'],
        ['wadm.api.bodies.model.deploy.hello', ''],
        ['wadm.api.bodies.model.deploy.hello', '{"version":"v1"}'],
        ['wadm.api.bodies.model.undeploy.hello', ''],
      ],
    );
  });

  it('plan sends {"version"} (or nothing) to model.plan.{name}; planManifest the parsed manifest as JSON; errors get defaults', async () => {
    const seen = await respond(serverNc, 'wadm.api.plans.model.plan.>', (s) =>
      s.subject.endsWith('.nope') ? { result: 'error', message: 'Application with the name nope not found' } : { result: 'success', message: 'ok', name: 'hello', version: 'v0.0.1', deployed_version: null, changes: [], commands: [] },
    );
    const client = new WadmClient(nc, { lattice: 'plans' });
    assert.deepEqual((await client.plan('hello')).changes, []);
    await client.plan('hello', 'v1');
    await client.planManifest(MANIFEST);
    assert.deepEqual(await client.plan('nope'), { result: 'error', message: 'Application with the name nope not found', name: 'nope', version: '', deployed_version: null, changes: [], commands: [] });
    assert.deepEqual(
      seen.slice(0, 2).map((s) => [s.subject, s.body]),
      [
        ['wadm.api.plans.model.plan.hello', ''],
        ['wadm.api.plans.model.plan.hello', '{"version":"v1"}'],
      ],
    );
    const m = seen[2]!;
    assert.equal(m.subject, 'wadm.api.plans.model.plan.hello');
    assert.equal(m.contentType, 'application/json');
    assert.equal(JSON.parse(m.body).spec.components[0].type, 'component');
    await rejectsWith(client.planManifest('apiVersion: [broken'), 'invalid_manifest');
  });

  it('list uses model.get, listDeprecated uses model.list, versions and status use their subjects', async () => {
    const summary = {
      name: 'hello',
      version: 'v1',
      description: null,
      deployed_version: null,
      detailed_status: { status: { type: 'undeployed' }, version: '', components: [] },
      status: 'undeployed',
      status_message: '',
    };
    const seen = await respond(serverNc, 'wadm.api.subjects.model.>', (s) => {
      if (s.subject.endsWith('.get')) return { result: 'success', message: 'ok', models: [summary] };
      if (s.subject.endsWith('.list')) return [summary];
      if (s.subject.includes('.versions.')) return { result: 'success', message: 'ok', versions: [{ version: 'v1', deployed: false }] };
      return { result: 'ok', message: 'ok', status: summary.detailed_status };
    });
    const client = new WadmClient(nc, { lattice: 'subjects' });
    assert.deepEqual((await client.list()).models, [summary]);
    assert.deepEqual(await client.listDeprecated(), [summary]);
    assert.deepEqual((await client.versions('hello')).versions, [{ version: 'v1', deployed: false }]);
    assert.equal((await client.status('hello')).result, 'ok');
    assert.deepEqual(
      seen.map((s) => s.subject),
      [
        'wadm.api.subjects.model.get',
        'wadm.api.subjects.model.list',
        'wadm.api.subjects.model.versions.hello',
        'wadm.api.subjects.model.status.hello',
      ],
    );
  });

  it('fills in the fields missing from the generic error body', async () => {
    await respond(serverNc, 'wadm.api.generic.model.>', () => ({ message: 'Internal storage error', result: 'error' }));
    const client = new WadmClient(nc, { lattice: 'generic' });
    assert.deepEqual(await client.list(), { message: 'Internal storage error', result: 'error', models: [] });
    assert.deepEqual(await client.versions('a'), { message: 'Internal storage error', result: 'error', versions: [] });
    assert.deepEqual(await client.delete('a'), { message: 'Internal storage error', result: 'error', undeploy: false });
    assert.deepEqual(await client.deploy('a', 'v2'), { message: 'Internal storage error', result: 'error', name: 'a', version: 'v2' });
    await rejectsWith(client.listDeprecated(), 'api_error', 'Internal storage error');
  });

  it('uses the account and prefix in subjects', async () => {
    const seen = await respond(serverNc, 'acct.custom.pre.mt.model.>', () => ({ result: 'ok', message: 'ok' }));
    const client = new WadmClient(nc, { lattice: 'mt', prefix: ' .custom.pre. ', account: 'acct' });
    await client.status('app');
    assert.equal(seen[0]!.subject, 'acct.custom.pre.mt.model.status.app');
  });

  it('turns "no responders" into the wash message', async () => {
    const client = new WadmClient(nc, { lattice: 'nobody-here' });
    await rejectsWith(client.list(), 'no_responders', NO_RESPONDERS_MESSAGE);
  });

  it('reports a timeout clearly', async () => {
    await respond(serverNc, 'wadm.api.slow.model.>', () => undefined);
    const client = new WadmClient(nc, { lattice: 'slow', timeoutMs: 100 });
    await rejectsWith(client.status('app'), 'timeout', /^Timed out after 100 ms waiting for wadm to reply on wadm\.api\.slow\.model\.status\.app/);
  });

  it('rejects a reply that is not JSON', async () => {
    serverNc.subscribe('wadm.api.garbage.model.>', { callback: (_e, m) => void m.respond('not json') });
    await serverNc.flush();
    const client = new WadmClient(nc, { lattice: 'garbage' });
    await rejectsWith(client.status('app'), 'bad_reply', /is not JSON/);
  });

  it('refuses names and lattices that cannot be subject tokens', async () => {
    const client = new WadmClient(nc, { lattice: 'default' });
    await rejectsWith(client.get('a.b'), 'invalid_argument', /Invalid application name "a\.b"/);
    await rejectsWith(client.deploy('*'), 'invalid_argument');
    assert.throws(() => new WadmClient(nc, { lattice: 'a.b' }), WadmClientError);
    assert.throws(() => client.subscribeStatus('>'), WadmClientError);
  });

  it('subscribeStatus yields decoded statuses and skips garbage', async () => {
    const client = new WadmClient(nc, { lattice: 'feed' });
    const sub = client.subscribeStatus('hello');
    await nc.flush();
    serverNc.publish('wadm.status.feed.hello', 'garbage');
    serverNc.publish(
      'wadm.status.feed.hello',
      JSON.stringify({ status: { type: 'reconciling' }, scalers: [{ id: 'x', kind: 'SpreadScaler', name: 'http', status: { type: 'reconciling' } }], version: '', components: [] }),
    );
    serverNc.publish('wadm.status.feed.hello', JSON.stringify({ status: { type: 'ready' }, version: '', components: [] }));
    const types: string[] = [];
    for await (const status of sub) {
      types.push(status.status.type);
      if (types.length === 2) break;
    }
    assert.deepEqual(types, ['reconciling', 'deployed']);
    sub.stop();
  });
});
