/** The wadm API over raw NATS: every operation and error body of docs/wire/api.md. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { waitFor } from './harness/nats.js';
import { startReplicas, withReplicas } from './harness/replicas.js';
import { RawApi, FIXTURES_DIR, example } from './harness/api.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

const fx = withReplicas(1);

/** A fresh lattice per test keeps tests independent. */
let latticeSeq = 0;
function api(): RawApi {
  return new RawApi(fx.nc, `lattice${++latticeSeq}`);
}

function withVersion(yamlText: string, version: string): string {
  return yamlText.replace(/(\n  annotations:\n)/, `$1    version: ${version}\n`);
}

/** Collect `wadm.evt.{lattice}.*` CloudEvents. */
function eventsOf(lattice: string): { events: Array<Record<string, any>>; stop(): void } {
  const events: Array<Record<string, any>> = [];
  const sub = fx.nc.subscribe(`wadm.evt.${lattice}.*`, { callback: (_e, m) => {
    events.push(JSON.parse(m.string()));
  } });
  return { events, stop: () => sub.unsubscribe() };
}

describe('model.put / model.get / model.versions / model.del (the crud test of the Rust wadm)', () => {
  test('crud', async () => {
    const a = api();
    const sql = example('oam/sqldbpostgres.yaml');
    let r = await a.put(sql);
    assert.deepEqual(r, {
      result: 'created',
      total_versions: 1,
      current_version: 'v0.0.1',
      message: 'Successfully put manifest rust-sqldb-postgres-query ',
      name: 'rust-sqldb-postgres-query',
      warnings: ['unrecognized interface [wasmcloud:postgres/query]'],
    });

    r = await a.put(example('oam/simple1.yaml'));
    assert.equal(r['result'], 'created');
    assert.equal(r['total_versions'], 1);
    assert.match(r['current_version'], ULID);
    const ulid = r['current_version'] as string;

    r = await a.get('my-example-app');
    assert.equal(r['result'], 'success');
    assert.equal(r['message'], 'Successfully fetched application my-example-app');
    assert.equal(r['manifest'].metadata.annotations.version, ulid);
    assert.equal(r['manifest'].spec.components[0].type, 'component', 'actor is normalised');

    r = await a.list();
    assert.equal(r['result'], 'success');
    assert.equal(r['message'], 'Successfully fetched list of applications');
    assert.deepEqual(
      r['models'].map((m: Record<string, unknown>) => [m['name'], m['version']]),
      [
        ['my-example-app', ulid],
        ['rust-sqldb-postgres-query', 'v0.0.1'],
      ],
    );

    const simple1 = example('oam/simple1.yaml');
    r = await a.put(withVersion(simple1, 'v0.0.2'));
    assert.deepEqual([r['result'], r['total_versions'], r['current_version']], ['newversion', 2, 'v0.0.2']);
    assert.equal(r['message'], `Successfully put manifest my-example-app ${ulid}`);
    r = await a.put(withVersion(simple1, 'v0.0.3'));
    assert.deepEqual([r['result'], r['total_versions']], ['newversion', 3]);
    assert.equal((await a.list())['models'].length, 2);

    r = await a.versions('my-example-app');
    assert.deepEqual(r, {
      result: 'success',
      message: 'Successfully fetched versions for application my-example-app',
      versions: [
        { version: ulid, deployed: false },
        { version: 'v0.0.2', deployed: false },
        { version: 'v0.0.3', deployed: false },
      ],
    });

    r = await a.get('my-example-app', 'v0.0.2');
    assert.equal(r['message'], 'Successfully fetched application my-example-app v0.0.2');
    assert.equal(r['manifest'].metadata.annotations.version, 'v0.0.2');

    r = await a.del('my-example-app', 'v0.0.2');
    assert.deepEqual(r, { result: 'deleted', message: 'Successfully deleted version v0.0.2 of application my-example-app', undeploy: false });
    assert.deepEqual((await a.versions('my-example-app'))['versions'].map((v: Record<string, unknown>) => v['version']), [ulid, 'v0.0.3']);

    r = await a.del('my-example-app', null);
    assert.deepEqual(r, { result: 'deleted', message: 'Successfully deleted application my-example-app', undeploy: true });
    r = await a.get('my-example-app');
    assert.deepEqual(r, { result: 'notfound', message: 'Application with the name my-example-app not found' });

    r = await a.del('rust-sqldb-postgres-query', 'v0.0.1');
    assert.deepEqual(r, { result: 'deleted', message: 'Successfully deleted last version of application rust-sqldb-postgres-query', undeploy: true });
    assert.equal((await a.get('rust-sqldb-postgres-query'))['result'], 'notfound');
    assert.deepEqual((await a.list())['models'], []);
  });

  test('get of a missing version, and versions of a missing app', async () => {
    const a = api();
    await a.put(example('oam/sqldbpostgres.yaml'));
    assert.deepEqual(await a.get('rust-sqldb-postgres-query', 'nope'), {
      result: 'notfound',
      message: "Application rust-sqldb-postgres-query with version nope doesn't exist",
    });
    assert.equal((await a.get('rust-sqldb-postgres-query', 'latest'))['result'], 'notfound', '"latest" is literal on get');
    assert.deepEqual(await a.versions('missing'), { result: 'notfound', message: 'Application with the name missing not found', versions: [] });
    const bad = await a.raw(a.subject('get', 'rust-sqldb-postgres-query'), '{not json');
    assert.equal(bad['result'], 'error');
    assert.match(bad['message'], /^Unable to parse get application request: /);
  });

  test('delete noops change nothing', async () => {
    const a = api();
    assert.deepEqual(await a.del('ghost', 'v1'), { result: 'noop', message: "Application ghost doesn't exist or was already deleted", undeploy: false });
    assert.deepEqual(await a.del('ghost'), { result: 'noop', message: "Application ghost doesn't exist or was already deleted", undeploy: false });
    await a.put(example('oam/sqldbpostgres.yaml'));
    const ev = eventsOf(a.lattice);
    await a.deploy('rust-sqldb-postgres-query');
    // The deploy's own events (its status, waiting: the lattice has no hosts) come from the owner's pass;
    // what counts is that the no-op delete adds none.
    await waitFor(() => ev.events.some((e) => e['type'] === 'com.wadm.application_status' && e['data']?.['status']?.['status']?.['type'] === 'waiting'), 10_000, 'the deploy status announced');
    const before = ev.events.length;
    assert.deepEqual(await a.del('rust-sqldb-postgres-query', 'v9'), { result: 'noop', message: "Application version v9 doesn't exist", undeploy: false });
    // A no-op delete must not undeploy anything (Rust wadm re-sends manifest_unpublished here).
    const versions = await a.versions('rust-sqldb-postgres-query');
    assert.deepEqual(versions['versions'], [{ version: 'v0.0.1', deployed: true }]);
    await fx.nc.flush();
    ev.stop();
    assert.deepEqual(ev.events.slice(before), []);
  });

  test('0.x request fields are accepted: delete_all, undeploy on delete; destructive / non_destructive on undeploy', async () => {
    const a = api();
    const sql = example('oam/sqldbpostgres.yaml');
    await a.put(sql);
    await a.put(sql.replace('version: v0.0.1', 'version: v0.0.2'));
    await a.deploy('rust-sqldb-postgres-query');
    let r = await a.raw(a.subject('undeploy', 'rust-sqldb-postgres-query'), JSON.stringify({ destructive: true }));
    assert.equal(r['result'], 'acknowledged');
    r = await a.raw(a.subject('undeploy', 'rust-sqldb-postgres-query'), JSON.stringify({ non_destructive: false }));
    assert.equal(r['message'], 'Application rust-sqldb-postgres-query was already undeployed');
    r = await a.raw(a.subject('del', 'rust-sqldb-postgres-query'), JSON.stringify({ version: '', delete_all: false, undeploy: true }));
    assert.deepEqual(r, { result: 'noop', message: "Application version  doesn't exist", undeploy: false });
    r = await a.raw(a.subject('del', 'rust-sqldb-postgres-query'), JSON.stringify({ version: '', delete_all: true }));
    assert.deepEqual(r, { result: 'deleted', message: 'Successfully deleted application rust-sqldb-postgres-query', undeploy: true });
    assert.equal((await a.get('rust-sqldb-postgres-query'))['result'], 'notfound');
  });

  test('every example manifest puts (legacy with warnings) and round-trips through get', async () => {
    const a = api();
    for (const dir of ['oam', 'legacy']) {
      for (const file of readdirSync(join(FIXTURES_DIR, 'examples', dir)).sort()) {
        const text = example(`${dir}/${file}`);
        const put = await a.put(text);
        assert.ok(put['result'] === 'created' || put['result'] === 'newversion', `${dir}/${file}: ${JSON.stringify(put)}`);
        if (dir === 'legacy') assert.ok(put['warnings']?.length > 0, `${dir}/${file} reports its translations as warnings`);
        const got = await a.get(put['name'], put['current_version']);
        assert.equal(got['result'], 'success', `${dir}/${file}`);
        // Putting what get returned (as JSON, the way wash sends it) under another version stores the same manifest.
        const again = structuredClone(got['manifest']);
        again.metadata.annotations.version = `${put['current_version']}-again`;
        const put2 = await a.put(JSON.stringify(again), 'application/json');
        assert.equal(put2['result'], 'newversion', `${dir}/${file}: ${JSON.stringify(put2)}`);
        const got2 = await a.get(put['name'], `${put['current_version']}-again`);
        got2['manifest'].metadata.annotations.version = put['current_version'];
        assert.deepEqual(got2['manifest'], got['manifest'], `${dir}/${file} round-trips`);
        if (dir === 'oam' && file.endsWith('.yaml')) {
          const src = parseYaml(text) as Record<string, any>;
          assert.equal(got['manifest'].metadata.name, src['metadata'].name);
          assert.equal(got['manifest'].spec.components.length, src['spec'].components.length);
        }
      }
    }
  });
});

describe('bad requests', () => {
  test('duplicate version and reserved latest', async () => {
    const a = api();
    const sql = example('oam/sqldbpostgres.yaml');
    await a.put(sql);
    assert.deepEqual(await a.put(sql), { result: 'error', message: 'Manifest version v0.0.1 already exists' });
    const latest = sql.replace('version: v0.0.1', 'version: latest');
    assert.deepEqual(await a.put(latest), { result: 'error', message: 'invalid manifest version, errors: "latest is not allowed in wadm"' });
    assert.equal((await a.versions('rust-sqldb-postgres-query'))['versions'].length, 1, 'nothing stored by the failed puts');
  });

  test('malformed input gets a clear error, stores nothing, and the replica keeps serving', async () => {
    const a = api();
    const good = example('oam/echo.yaml');
    const cases: Array<[string, string | Uint8Array, RegExp]> = [
      ['bad YAML', 'apiVersion: [unclosed\nkind: x', /^Unable to parse manifest: .*line \d+/s],
      ['unknown top-level field', good.replace('kind: Application', 'kind: Application\nbogus: 1'), /^Unable to parse manifest: .*bogus/s],
      ['empty body', '', /^Unable to parse manifest: /],
      ['binary garbage', new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x9c, 0x80, 0x1b, 0x5b]), /^Unable to parse manifest: /],
      ['multi-document YAML', `${good}\n---\n${good}`, /^Unable to parse manifest: /],
      ['10 MiB body', new Uint8Array(10 * 1024 * 1024).fill(0x61), /exceeds the limit of 1048576 bytes/],
      ['JSON array', '[1,2,3]', /^Unable to parse manifest: /],
    ];
    for (const name of ['my.app', 'my*app', 'my>app', 'my app']) {
      cases.push([`name ${JSON.stringify(name)}`, good.replace('name: echo\n', `name: "${name}"\n`), /contains invalid characters|is not allowed/]);
    }
    for (const [what, body, re] of cases) {
      const r = await a.put(body);
      assert.equal(r['result'], 'error', what);
      assert.match(r['message'], re, `${what}: ${r['message']}`);
      assert.deepEqual(Object.keys(r).sort(), ['message', 'result'], what);
    }
    assert.deepEqual((await a.list())['models'], [], 'nothing was stored');
    const ok = await a.put(good);
    assert.equal(ok['result'], 'created', 'the replica still serves');
  });

  test('validation errors are all reported', async () => {
    const a = api();
    const m = {
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'dup', annotations: {} },
      spec: {
        components: [
          { name: 'a', type: 'component', properties: { image: 'x', id: 'same' } },
          { name: 'a', type: 'component', properties: { image: 'y', id: 'same' } },
        ],
      },
    };
    const r = await a.put(JSON.stringify(m), 'application/json');
    assert.equal(r['result'], 'error');
    assert.match(r['message'], /Duplicate component name in manifest: a/);
    assert.match(r['message'], /Duplicate component identifier in manifest: same/);
  });

  test('content types', async () => {
    const a = api();
    const json = example('oam/simple1.json');
    assert.equal((await a.put(json))['result'], 'created', 'JSON without a header');
    const yaml = withVersion(example('oam/simple2.yaml'), 'v1');
    const r = await a.put(yaml, 'application/yaml');
    assert.ok(['created', 'newversion'].includes(r['result']), JSON.stringify(r));
    const j2 = JSON.parse(json);
    j2.metadata.annotations.version = 'v0.0.2';
    assert.equal((await a.put(JSON.stringify(j2), 'application/json'))['result'], 'newversion');
    assert.deepEqual(await a.put(json, 'application/json; charset=utf-8'), {
      result: 'error',
      message: 'Unable to parse manifest: Unsupported content type application/json; charset=utf-8 given. Wadm supports YAML and JSON',
    });
    const strict = await a.put(yaml, 'application/json');
    assert.equal(strict['result'], 'error', 'YAML sent as application/json is rejected');
  });

  test('invalid and unsupported subjects', async () => {
    const a = api();
    let r = await a.raw(`wadm.api.${a.lattice}.model`);
    assert.deepEqual(r, { result: 'error', message: 'Invalid subject: Expected to find operation' });
    r = await a.raw(`wadm.api.${a.lattice}`);
    assert.deepEqual(r, { result: 'error', message: 'Invalid subject: Expected to find API category' });
    r = await a.raw(`wadm.api.${a.lattice}.model.get.rust-sqldb-postgres-query.foo.bar`);
    assert.equal(r['result'], 'error');
    assert.match(r['message'], /^Invalid subject: Found extra components of subject/);
    for (const s of ['blah.get.x', 'model.put.foo', 'model.list.foo', 'model.del', 'model.history', 'model.frobnicate.x']) {
      r = await a.raw(`wadm.api.${a.lattice}.${s}`);
      assert.deepEqual(r, { result: 'error', message: `Unsupported subject: wadm.api.${a.lattice}.${s}` }, s);
    }
    r = await a.raw(a.subject('history', 'x'));
    assert.deepEqual(r, { result: 'error', message: 'Model deployment history is not currently supported. It may be added in a future version' });
  });

  test('names that are not subject-token safe are refused on name subjects', async () => {
    const a = api();
    const r = await a.raw(`wadm.api.${a.lattice}.model.get.na=me`);
    assert.equal(r['result'], 'error');
    assert.match(r['message'], /invalid characters/);
  });
});

describe('deploy / undeploy / status', () => {
  test('deploy and undeploy publish CloudEvents and move deployed_version', async () => {
    const a = api();
    const ev = eventsOf(a.lattice);
    assert.deepEqual(await a.deploy('nope'), { result: 'notfound', message: 'Application with the name nope not found', name: 'nope', version: null });
    assert.deepEqual(await a.undeploy('nope'), { result: 'notfound', message: 'Application with the name nope not found', name: 'nope', version: null });
    const sql = example('oam/sqldbpostgres.yaml');
    await a.put(sql);
    await a.put(sql.replace('version: v0.0.1', 'version: v0.0.2'));
    let r = await a.deploy('rust-sqldb-postgres-query');
    assert.deepEqual(r, { result: 'acknowledged', message: 'Successfully deployed application rust-sqldb-postgres-query v0.0.2', name: 'rust-sqldb-postgres-query', version: 'v0.0.2' });
    await waitFor(() => ev.events.length >= 1, 5000, 'manifest_published');
    const pub = ev.events[0]!;
    assert.equal(pub['type'], 'com.wadm.manifest_published');
    assert.equal(pub['source'], 'wadm');
    assert.equal(pub['specversion'], '1.0');
    assert.equal(pub['datacontenttype'], 'application/json');
    assert.equal(pub['data'].metadata.annotations.version, 'v0.0.2');
    assert.deepEqual(Object.keys(pub['data']), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.deepEqual((await a.versions('rust-sqldb-postgres-query'))['versions'], [
      { version: 'v0.0.1', deployed: false },
      { version: 'v0.0.2', deployed: true },
    ]);
    r = await a.deploy('rust-sqldb-postgres-query', 'v0.0.1');
    assert.equal(r['version'], 'v0.0.1');
    assert.equal((await a.versions('rust-sqldb-postgres-query'))['versions'][0].deployed, true);
    r = await a.deploy('rust-sqldb-postgres-query', 'latest');
    assert.equal(r['version'], 'v0.0.2');
    r = await a.deploy('rust-sqldb-postgres-query', 'v9');
    assert.deepEqual(r, {
      result: 'error',
      message: "Application with the name 'rust-sqldb-postgres-query' does not have a version 'v9' to deploy",
      name: 'rust-sqldb-postgres-query',
      version: 'v9',
    });
    const list = (await a.raw(a.subject('list'))) as unknown as Array<Record<string, unknown>>;
    assert.ok(Array.isArray(list), 'model.list replies with a bare array');
    assert.equal(list[0]!['deployed_version'], 'v0.0.2');
    assert.deepEqual(list[0]!['detailed_status'], {
      status: { type: 'waiting', message: 'Waiting for status: Lattice contains no hosts, deployment not started.' },
      version: '',
      components: [],
    });
    assert.equal(list[0]!['status'], 'undeployed');
    assert.equal(list[0]!['status_message'], 'Waiting for status: Lattice contains no hosts, deployment not started.');
    assert.match(String(list[0]!['description']), /^Demo WebAssembly component using the wasmCloud SQLDB Postgres provider/);

    r = await a.undeploy('rust-sqldb-postgres-query');
    assert.deepEqual(r, { result: 'acknowledged', message: 'Successfully undeployed application rust-sqldb-postgres-query', name: 'rust-sqldb-postgres-query', version: null });
    r = await a.undeploy('rust-sqldb-postgres-query');
    assert.deepEqual(r, { result: 'acknowledged', message: 'Application rust-sqldb-postgres-query was already undeployed', name: 'rust-sqldb-postgres-query', version: null });
    assert.ok((await a.versions('rust-sqldb-postgres-query'))['versions'].every((v: Record<string, unknown>) => v['deployed'] === false));
    await waitFor(() => ev.events.filter((e) => e['type'] === 'com.wadm.manifest_unpublished').length >= 2, 5000, 'manifest_unpublished');
    const unpub = ev.events.find((e) => e['type'] === 'com.wadm.manifest_unpublished')!;
    assert.deepEqual(unpub['data'], { name: 'rust-sqldb-postgres-query' });
    const bad = await a.raw(a.subject('undeploy', 'rust-sqldb-postgres-query'), 'garbage');
    assert.match(bad['message'], /^Unable to parse undeploy application request: /);
    ev.stop();
  });

  test('deleting the deployed version undeploys', async () => {
    const a = api();
    const ev = eventsOf(a.lattice);
    const sql = example('oam/sqldbpostgres.yaml');
    await a.put(sql);
    await a.put(sql.replace('version: v0.0.1', 'version: v0.0.2'));
    await a.deploy('rust-sqldb-postgres-query');
    const r = await a.del('rust-sqldb-postgres-query', 'v0.0.2');
    assert.deepEqual(r, { result: 'deleted', message: 'Successfully deleted version v0.0.2 of application rust-sqldb-postgres-query', undeploy: true });
    await waitFor(() => ev.events.some((e) => e['type'] === 'com.wadm.manifest_unpublished'), 5000, 'unpublished');
    assert.deepEqual((await a.versions('rust-sqldb-postgres-query'))['versions'], [{ version: 'v0.0.1', deployed: false }]);
    ev.stop();
  });

  test('status: default, then the last message on wadm.status.{lattice}.{name}', async () => {
    const a = api();
    await a.put(example('oam/sqldbpostgres.yaml'));
    assert.deepEqual(await a.status('rust-sqldb-postgres-query'), {
      result: 'ok',
      message: 'Successfully fetched status for application rust-sqldb-postgres-query',
      status: { status: { type: 'undeployed' }, version: '', components: [] },
    });
    const published = {
      status: { type: 'deployed' },
      scalers: [{ id: 'abc', kind: 'SpreadScaler', name: 'x', status: { type: 'deployed' } }],
      version: '',
      components: [],
    };
    const js = (await import('@nats-io/jetstream')).jetstream(fx.nc);
    await js.publish(`wadm.status.${a.lattice}.rust-sqldb-postgres-query`, JSON.stringify(published));
    const r = await a.status('rust-sqldb-postgres-query');
    assert.deepEqual(r['status'], published);
    const listed = (await a.list())['models'][0];
    assert.deepEqual(listed['detailed_status'], published);
    assert.equal(listed['status'], 'deployed');
  });

  test('deploy-time checks: id clash across apps, shared components, and shared apps in use', async () => {
    const a = api();
    const app = (name: string, components: unknown[], annotations: Record<string, string> = {}): string =>
      JSON.stringify({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name, annotations: { version: 'v1', ...annotations } }, spec: { components } });
    await a.put(app('one', [{ name: 'http', type: 'capability', properties: { image: 'img', id: 'http_server' } }]));
    await a.put(app('two', [{ name: 'web', type: 'capability', properties: { image: 'img', id: 'http_server' } }]));
    assert.equal((await a.deploy('one'))['result'], 'acknowledged');
    assert.deepEqual(await a.deploy('two'), { result: 'error', message: "Component identifier 'http_server' is already deployed in a different application 'one'." });
    assert.equal((await a.deploy('one'))['result'], 'acknowledged', 'redeploy of the same app keeps its ids');

    const user = app('user', [{ name: 'srv', type: 'capability', properties: { application: { name: 'shared-http', component: 'httpserver' } } }]);
    const put = await a.put(user);
    assert.equal(put['message'], 'Successfully put manifest user , but some shared components are not deployed: ["srv"]');
    assert.deepEqual(await a.deploy('user'), { result: 'error', message: 'Application contains shared components that are not deployed in other applications: ["srv"]' });
    await a.put(app('shared-http', [{ name: 'httpserver', type: 'capability', properties: { image: 'httpserver:1' } }], { 'experimental.wasmcloud.dev/shared': 'true' }));
    assert.equal((await a.deploy('user'))['result'], 'error', 'shared app not deployed yet');
    assert.equal((await a.deploy('shared-http'))['result'], 'acknowledged');
    assert.equal((await a.deploy('user'))['result'], 'acknowledged');

    const u = await a.undeploy('shared-http');
    assert.equal(u['result'], 'error');
    assert.match(u['message'], /shared application used by deployed application\(s\) user/);
    const d = await a.del('shared-http');
    assert.equal(d['result'], 'error');
    assert.match(d['message'], /used by deployed application\(s\) user/);
    assert.equal((await a.undeploy('user'))['result'], 'acknowledged');
    assert.equal((await a.undeploy('shared-http'))['result'], 'acknowledged');
  });
});

describe('subjects', () => {
  test('custom prefix and multitenant form', async () => {
    const [mt] = await startReplicas(1, fx.nats.url, { multitenant: true, apiPrefix: 'custom.api', replicaId: 'mt' });
    try {
      const a = new RawApi(fx.nc, 'tenantlattice', 'custom.api');
      const sql = example('oam/sqldbpostgres.yaml');
      const subj = (op: string, name?: string): string => `ACCOUNT1.${a.subject(op, name)}`;
      let r = await a.raw(subj('put'), sql);
      assert.equal(r['result'], 'created');
      r = await a.raw(`ACCOUNT2.${a.subject('get', 'rust-sqldb-postgres-query')}`);
      assert.equal(r['result'], 'notfound', 'accounts are isolated');
      r = await a.raw(subj('get', 'rust-sqldb-postgres-query'));
      assert.equal(r['result'], 'success');
    } finally {
      await mt!.stop();
    }
  });

  test('a request without a reply subject gets nothing and breaks nothing', async () => {
    const a = api();
    fx.nc.publish(a.subject('put'), example('oam/echo.yaml'));
    await waitFor(async () => (await a.list())['models'].length === 1, 5000, 'fire-and-forget put');
  });

  test('the stored record has the Rust wadm layout', async () => {
    const a = api();
    await a.put(example('oam/sqldbpostgres.yaml'));
    await a.deploy('rust-sqldb-postgres-query');
    const { Kvm } = await import('@nats-io/kv');
    const kv = await new Kvm(fx.nc).open('wadm_manifests');
    const rec = JSON.parse((await kv.get(`${a.lattice}-rust-sqldb-postgres-query`))!.string());
    // The Rust layout first; wadm-ts's rollout history is one extra key after it (the Rust wadm ignores it).
    assert.deepEqual(Object.keys(rec).slice(0, 2), ['manifests', 'deployed_version']);
    assert.deepEqual(Object.keys(rec).slice(2), ['rollout']);
    assert.equal(rec.rollout.deployed.version, 'v0.0.1');
    assert.deepEqual(Object.keys(rec.manifests), ['v0.0.1']);
    assert.equal(rec.deployed_version, 'v0.0.1');
    assert.deepEqual(JSON.parse((await kv.get(a.lattice))!.string()), ['rust-sqldb-postgres-query']);
  });

  test('a bucket written by the Rust wadm is served as-is, integer-like versions in insertion order', async () => {
    const a = api();
    const { Kvm } = await import('@nats-io/kv');
    const kv = await new Kvm(fx.nc).open('wadm_manifests');
    const m = (v: string): string =>
      JSON.stringify({ apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: 'legacy', annotations: { version: v } }, spec: { components: [] } });
    await kv.put(`${a.lattice}-legacy`, `{"manifests":{"2":${m('2')},"10":${m('10')},"1":${m('1')}},"deployed_version":"10"}`);
    await kv.put(a.lattice, '["legacy"]');
    assert.deepEqual((await a.versions('legacy'))['versions'], [
      { version: '2', deployed: false },
      { version: '10', deployed: true },
      { version: '1', deployed: false },
    ]);
    assert.equal((await a.get('legacy'))['manifest'].metadata.annotations.version, '1', 'latest = last inserted');
  });
});
