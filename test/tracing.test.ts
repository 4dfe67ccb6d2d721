/**
 * OTLP traces (issue 9, item 6): with `-t -e URL` a replica exports a span per API request, reconcile
 * pass and control command, with `lattice`, `app` and `replica` attributes and `service.name`; a
 * collector that is not there neither blocks nor crashes a replica.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { freePort } from '@wadm-ts/dev';
import { startNats, type TestNats } from './harness/nats.js';
import { eventually } from './harness/cluster.js';
import { ReplicaFleet } from './harness/procs.js';
import { simLattice } from './harness/lattice.js';
import { PatientApi, appManifest } from './harness/runtime.js';

interface OtlpSpan {
  name: string;
  attributes: Record<string, string>;
  resource: Record<string, string>;
}

let nats: TestNats;
let nc: NatsConnection;
let sim: SimulatedLattice;
let fleet: ReplicaFleet;
let collector: Server;
const spans: OtlpSpan[] = [];

type KeyValue = { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } };
const flat = (kvs: KeyValue[] | undefined): Record<string, string> =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, String(kv.value.stringValue ?? kv.value.intValue ?? kv.value.boolValue ?? '')]));

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  // A minimal OTLP/HTTP (JSON) collector.
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: KeyValue[] }; scopeSpans: Array<{ spans: Array<{ name: string; attributes: KeyValue[] }> }> }> };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ name: s.name, attributes: flat(s.attributes), resource: flat(rs.resource.attributes) });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
  fleet = new ReplicaFleet({ natsUrl: nats.url, args: ['--stream-persistence', 'memory', '--resync-interval-ms', '1000'] });
  sim = await simLattice(nats.url, 'traced', 2);
});

after(async () => {
  await sim?.close({ graceful: false });
  fleet?.killAll();
  collector?.close();
  await nats?.stop();
});

test('spans for put, deploy, a reconcile pass and a control command reach the collector', async () => {
  const port = (collector.address() as AddressInfo).port;
  const r = fleet.spawn('traced-0', ['-t', '-e', `http://127.0.0.1:${port}`]);
  await fleet.ready([r]);
  const api = new PatientApi(nc, 'traced', 2000, 30_000);
  await api.put(appManifest({ name: 'seen', version: 'v1', image: 'reg/seen:1', instances: 2 }));
  await api.deploy('seen');
  await eventually('the spans arrived', () => {
    const names = new Set(spans.map((s) => s.name));
    for (const n of ['wadm.api put', 'wadm.api deploy', 'wadm.reconcile', 'wadm.command ScaleComponent']) assert.ok(names.has(n), `${n} in ${[...names].join(', ')}`);
  }, 30_000);
  const deploy = spans.find((s) => s.name === 'wadm.api deploy')!;
  assert.equal(deploy.attributes['lattice'], 'traced');
  assert.equal(deploy.attributes['app'], 'seen');
  assert.equal(deploy.attributes['replica'], 'traced-0');
  assert.equal(deploy.resource['service.name'], 'wadm-ts');
  const cmd = spans.find((s) => s.name === 'wadm.command ScaleComponent')!;
  assert.equal(cmd.attributes['app'], 'seen');
  assert.equal(cmd.attributes['lattice'], 'traced');
  assert.equal(spans.find((s) => s.name === 'wadm.reconcile')!.attributes['lattice'], 'traced');
});

test('an unreachable collector neither blocks nor crashes a replica', async () => {
  const dead = await freePort();
  const r = fleet.spawn('traced-1', ['-t', '-e', `http://127.0.0.1:${dead}/v1/traces`]);
  await fleet.ready([r]);
  const api = new PatientApi(nc, 'traced', 2000, 30_000);
  await api.put(appManifest({ name: 'unseen', version: 'v1', image: 'reg/unseen:1', instances: 1 }));
  const d = await api.deploy('unseen');
  assert.equal(d.reply['result'], 'acknowledged');
  await eventually('deployed', async () => {
    const st = (await api.call('status', 'unseen')).reply['status'] as { status?: { type?: string } } | undefined;
    assert.equal(st?.status?.type, 'deployed');
  }, 30_000);
  assert.ok(r.alive(), 'still running');
});
