/**
 * `model.plan`, `wadm app diff` and `wadm app deploy --dry-run` against a real nats-server, one replica
 * and a simulated lattice: v1 deployed; v2 adds a component, removes a link and changes a count. The
 * plan names each change, its commands are what the deploy then sends, the deployed version plans to
 * nothing, the CLI exits 1 / 0 / 2, and a dry run changes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { createServer } from 'node:net';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { runWadm as wadm } from './harness/cli.js';
import { RawApi } from './harness/api.js';
import { simLattice } from './harness/lattice.js';
import { recordCtl } from './harness/runtime.js';
import { PlanPreviewer } from '@wadm-ts/reconcile';
import { parseManifest } from '@wadm-ts/model';

const LATTICE = 'plandiff';
const APP = 'planapp';
const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const KV = 'ghcr.io/wasmcloud/components/http-keyvalue-counter-rust:0.1.0';
const HTTP = 'ghcr.io/wasmcloud/http-server:0.23.0';
const LINK_ID = `${APP}-httpserver -(wasi:http/default)-> ${APP}-hello`;

const manifest = (version: string, body: string): string => `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: ${APP}
  annotations: { version: ${version} }
spec:
  components:${body}`;

const hello = (n: number): string => `
    - name: hello
      type: component
      properties: { image: ${HELLO} }
      traits:
        - type: spreadscaler
          properties: { instances: ${n} }`;
const counter = `
    - name: counter
      type: component
      properties: { image: ${KV} }
      traits:
        - type: spreadscaler
          properties: { instances: 1 }`;
const httpserver = (linked: boolean): string => `
    - name: httpserver
      type: capability
      properties: { image: ${HTTP} }
      traits:
        - type: spreadscaler
          properties: { instances: 1 }${
            linked
              ? `
        - type: link
          properties:
            target: { name: hello }
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            source:
              config:
                - name: addr
                  properties: { address: '0.0.0.0:8080' }`
              : ''
          }`;

const V1 = manifest('v1', hello(2) + httpserver(true));
/** Adds `counter`, removes the link (and its config), hello 2 -> 3. */
const V2 = manifest('v2', hello(3) + counter + httpserver(false));
/** Never stored: the dry run's manifest. */
const V3 = manifest('v3', hello(1) + httpserver(false));

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
let sim: SimulatedLattice;
let api: RawApi;
let dir: string;

type Json = Record<string, any>;



const common = (): string[] => ['--lattice', LATTICE, '-s', nats.url];

async function statusType(): Promise<string> {
  return String((await api.status(APP))['status']?.['status']?.['type']);
}

const plan = (body: string, contentType?: string): Promise<Json> => api.raw(api.subject('plan', APP), body, contentType);

const summary = (changes: Json[]): string[] => changes.map((c) => `${c['op']} ${c['kind']} ${c['id']}`).sort();

/** What runs in the simulated lattice, for "nothing changed" checks. */
function groundTruth(): string {
  const s = sim.snapshot();
  return JSON.stringify(
    s.hosts
      .map((h) => ({ id: h.id, components: h.components.map((c) => [c.id, c.imageRef, c.count]).sort(), providers: h.providers.map((p) => [p.id, p.imageRef]).sort() }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
  );
}

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(1, nats.url, { cleanupIntervalS: 5, resyncIntervalMs: 1000, signalIntervalMs: 50 });
  sim = await simLattice(nats.url, LATTICE, 2, 500);
  api = new RawApi(nc, LATTICE);
  dir = await mkdtemp(join(tmpdir(), 'wadm-plan-'));
  await waitFor(() => replicas[0]!.stateView.read({ lattice: LATTICE }).snapshot.hosts.length === 2, 15_000, 'wadm to know both hosts');
  assert.equal((await api.put(V1))['result'], 'created');
  assert.equal((await api.deploy(APP, 'v1'))['result'], 'acknowledged');
  await waitFor(async () => (await statusType()) === 'deployed', 30_000, `${APP} v1 deployed`);
  // The lattice state has caught up with what runs: the deployed version plans to nothing.
  await waitFor(async () => {
    const p = await plan(JSON.stringify({ version: 'v1' }));
    return p['changes']?.length === 0 && p['commands']?.length === 0;
  }, 15_000, 'the deployed version to plan to nothing');
  assert.equal((await api.put(V2))['result'], 'newversion');
});

after(async () => {
  await sim?.close({ graceful: false });
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nc?.close();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('model.plan over raw NATS names each change of v2 and the commands; the deployed version plans to nothing', async () => {
  const p = await plan(JSON.stringify({ version: 'v2' }));
  assert.equal(p['result'], 'success', JSON.stringify(p));
  assert.equal(p['name'], APP);
  assert.equal(p['version'], 'v2');
  assert.equal(p['deployed_version'], 'v1');
  assert.deepEqual(summary(p['changes']), [
    'add component counter',
    'add scaler counter/spreadscaler/default',
    'change scaler hello/spreadscaler/default',
    `remove config ${APP}-addr`,
    `remove link ${LINK_ID}`,
  ]);
  const count = (p['changes'] as Json[]).find((c) => c['id'] === 'hello/spreadscaler/default')!;
  assert.deepEqual([count['before'], count['after']], [{ instances: 2 }, { instances: 3 }]);
  const kinds = (p['commands'] as Json[]).map((c) => c['ctl']).sort();
  assert.deepEqual(kinds, ['component.scale', 'component.scale', 'config.del', 'link.del']);
  for (const c of p['commands'] as Json[]) if (c['ctl'] === 'component.scale') assert.ok(sim.hostIds().includes(c['host_id']), JSON.stringify(c));

  // The latest stored version (empty body, or an empty version) is v2.
  assert.deepEqual(summary((await plan(''))['changes']), summary(p['changes']));
  assert.deepEqual(summary((await plan(JSON.stringify({ version: '' })))['changes']), summary(p['changes']));
  // A manifest body (YAML, stored nowhere) plans the same.
  const fromManifest = await plan(V2);
  assert.equal(fromManifest['result'], 'success', JSON.stringify(fromManifest));
  assert.deepEqual(summary(fromManifest['changes']), summary(p['changes']));
  assert.deepEqual(fromManifest['commands'], p['commands']);

  const same = await plan(JSON.stringify({ version: 'v1' }));
  assert.deepEqual([same['result'], same['changes'], same['commands']], ['success', [], []]);
});

test('without a loaded view the planner reads the lattice once from the bucket and plans the same', async () => {
  const m = (text: string) => {
    const r = parseManifest(text);
    assert.ok(r.ok);
    return r.manifest;
  };
  const req = { ref: { lattice: LATTICE }, app: APP, deployed: { name: APP, version: 'v1', manifest: m(V1) }, candidate: { name: APP, version: 'v2', manifest: m(V2) }, others: [] };
  const fromView = await new PlanPreviewer({ view: () => replicas[0]!.stateView, store: replicas[0]!.state }).preview(req);
  const fromBucket = await new PlanPreviewer({ store: replicas[0]!.state }).preview(req);
  assert.equal(fromView.source, 'view');
  assert.equal(fromBucket.source, 'bucket');
  assert.deepEqual(fromBucket.changes, fromView.changes);
  assert.deepEqual(fromBucket.commands, fromView.commands);
  assert.equal(fromBucket.commands.length, 4);
  // Bounded: a lattice with more keys than allowed is refused with a clear error, not read.
  await assert.rejects(new PlanPreviewer({ store: replicas[0]!.state, maxKeys: 1 }).preview(req), /more than the 1 a plan reads/);
});

test('model.plan errors: unknown app, unknown version, a manifest of another name, an invalid manifest', async () => {
  const unknown = await api.raw(api.subject('plan', 'nosuchapp'), '');
  assert.deepEqual(unknown, { result: 'error', message: 'Application with the name nosuchapp not found' });
  const badVersion = await plan(JSON.stringify({ version: 'v9' }));
  assert.deepEqual(badVersion, { result: 'error', message: `Application ${APP} with version v9 doesn't exist` });
  const other = await api.raw(api.subject('plan', 'otherapp'), V2);
  assert.equal(other['result'], 'error');
  assert.match(other['message'], /does not match the application otherapp/);
  const invalid = await plan('apiVersion: [broken');
  assert.equal(invalid['result'], 'error');
  assert.match(invalid['message'], /Unable to parse manifest/);
  const badType = await plan(JSON.stringify({ version: 3 }));
  assert.equal(badType['result'], 'error');
  // The replica keeps serving.
  assert.equal((await plan(JSON.stringify({ version: 'v1' })))['result'], 'success');
  // Nothing was stored by any of it.
  assert.deepEqual((await api.versions(APP))['versions'].map((v: Json) => v['version']), ['v1', 'v2']);
});

test('wadm app diff: exit 1 naming each change, 0 for the deployed version, 2 on errors; -o json parses', async () => {
  let r = await wadm(['app', 'diff', APP, 'v2', ...common()]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  for (const line of ['+ component counter (image ' + KV + ')', `- link ${LINK_ID}`, '~ scaler hello/spreadscaler/default instances 2 -> 3', `- config ${APP}-addr`, '+ scaler counter/spreadscaler/default instances 0 -> 1']) {
    assert.ok(r.stdout.includes(line), `missing ${JSON.stringify(line)} in:\n${r.stdout}`);
  }
  assert.match(r.stdout, /Commands it would issue now \(4\):/);
  assert.match(r.stdout, /link\.del: /);

  r = await wadm(['app', 'diff', APP, 'v1', ...common()]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /No changes/);

  const file = join(dir, 'v2.yaml');
  await writeFile(file, V2);
  r = await wadm(['app', 'diff', file, ...common()]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  r = await wadm(['app', 'diff', '-', ...common()], V1);
  assert.equal(r.code, 0, r.stdout + r.stderr);

  r = await wadm(['app', 'diff', APP, 'v2', '-o', 'json', ...common()]);
  assert.equal(r.code, 1, r.stderr);
  const body = JSON.parse(r.stdout) as Json;
  assert.equal(body['result'], 'success');
  assert.equal(body['changes'].length, 5);
  r = await wadm(['app', 'diff', APP, 'v1', '-o', 'json', ...common()]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout)['changes'], []);

  r = await wadm(['app', 'diff', 'nosuchapp', ...common()]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /not found/);
  r = await wadm(['app', 'diff', join(dir, 'missing.yaml'), ...common()]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /Failed to read manifest/);
  r = await wadm(['app', 'diff', '-', ...common()], 'apiVersion: [broken');
  assert.equal(r.code, 2, r.stdout + r.stderr);
  r = await wadm(['app', 'diff', APP, '--lattice', LATTICE, '-s', `127.0.0.1:${await closedPort()}`]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  r = await wadm(['app', 'diff', APP, 'v2', '-o', 'json', '--lattice', LATTICE, '-s', nats.url.replace(/:\d+$/, `:${await closedPort()}`)]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
});

test('wadm app deploy --dry-run prints the plan and changes nothing', async () => {
  const ctl = recordCtl(nc, LATTICE);
  const truth = groundTruth();
  const file = join(dir, 'v3.yaml');
  await writeFile(file, V3);
  let r = await wadm(['app', 'deploy', '--dry-run', file, ...common()]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /~ scaler hello\/spreadscaler\/default instances 2 -> 1/);
  r = await wadm(['app', 'deploy', '--dry-run', APP, 'v2', '-o', 'json', ...common()]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(JSON.parse(r.stdout)['version'], 'v2');
  // Nothing stored, nothing deployed, nothing sent to the hosts (a few resync passes later).
  const versions = await api.versions(APP);
  assert.deepEqual(versions['versions'], [
    { version: 'v1', deployed: true },
    { version: 'v2', deployed: false },
  ]);
  await nc.flush();
  const mutations = ctl.records.filter((x) => !['host.ping', 'host.get', 'link.get', 'config.get', 'claims.get'].includes(x.op));
  ctl.stop();
  assert.deepEqual(mutations, []);
  assert.equal(groundTruth(), truth);
  assert.equal(await statusType(), 'deployed');
});

test('the plan\'s commands are what deploying v2 then sends', async () => {
  const p = await plan(JSON.stringify({ version: 'v2' }));
  const expected = (p['commands'] as Json[]).map((c) => `${c['ctl']} ${c['host_id'] ?? ''}`).sort();
  const ctl = recordCtl(nc, LATTICE);
  await nc.flush();
  assert.equal((await api.deploy(APP, 'v2'))['result'], 'acknowledged');
  await waitFor(async () => (await statusType()) === 'deployed' && sim.snapshot().hosts.flatMap((h) => h.components).filter((c) => c.imageRef === KV).length === 1, 30_000, `${APP} v2 deployed`);
  await waitFor(async () => {
    const q = await plan(JSON.stringify({ version: 'v2' }));
    return q['changes']?.length === 0 && q['commands']?.length === 0;
  }, 15_000, 'v2, deployed, to plan to nothing');
  ctl.stop();
  const sent = ctl.records
    .filter((x) => !['host.ping', 'host.get', 'link.get', 'config.get', 'claims.get'].includes(x.op))
    .map((x) => `${x.op} ${x.op === 'component.scale' || x.op.startsWith('provider.') ? (x.arg ?? '') : ''}`)
    .sort();
  assert.deepEqual([...new Set(sent)], [...new Set(expected)]);
  assert.equal(sent.length, expected.length, `sent ${JSON.stringify(sent)}, planned ${JSON.stringify(expected)}`);
});
