/**
 * Concurrency guarantees of the manifest store, with 3 replicas answering the same API queue group:
 * every concurrent put lands, and a put racing a delete never resurrects or half-deletes an app.
 * Both tests fail without compare-and-set (a plain put loses versions; a non-CAS delete/put
 * interleaving brings back old versions or leaves a record missing from the index).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import { startNats, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { RawApi } from './harness/api.js';

let nats: TestNats;
let replicas: Replica[];
const clients: NatsConnection[] = [];

before(async () => {
  nats = await startNats();
  replicas = await startReplicas(3, nats.url);
  for (let i = 0; i < 10; i++) clients.push(await nats.connect());
});

after(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await nats.stop();
});

function manifest(name: string, version: string): string {
  return JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, annotations: { version } },
    spec: { components: [{ name: 'c', type: 'component', properties: { image: `img:${version}` } }] },
  });
}

test('3 replicas, 50 concurrent clients putting distinct versions of one app: all land', async () => {
  const versions = Array.from({ length: 50 }, (_, i) => `v${i}`);
  const replies = await Promise.all(
    versions.map((v, i) => new RawApi(clients[i % clients.length]!, 'race').put(manifest('contended', v), 'application/json')),
  );
  for (const r of replies) assert.ok(r['result'] === 'created' || r['result'] === 'newversion', JSON.stringify(r));
  assert.equal(replies.filter((r) => r['result'] === 'created').length, 1, 'exactly one put created the app');
  assert.deepEqual(replies.map((r) => r['total_versions']).sort((a, b) => a - b), versions.map((_, i) => i + 1), 'each put saw a distinct total');
  const listed = await new RawApi(clients[0]!, 'race').versions('contended');
  assert.deepEqual(listed['versions'].map((v: { version: string }) => v.version).sort(), [...versions].sort());
  // The replies were spread over the replicas (the queue group), so CAS was exercised across processes' connections.
  let served = 0;
  for (const r of replicas) {
    const m = await r.metrics.registry.getSingleMetric('wadm_api_requests_total')!.get();
    if (m.values.some((v) => v.labels['operation'] === 'put' && v.value > 0)) served++;
  }
  assert.ok(served >= 2, `puts were served by ${served} replica(s)`);
});

test('put racing delete: never a resurrected or half-deleted app', async () => {
  const api = (i: number): RawApi => new RawApi(clients[i % clients.length]!, 'racedel');
  for (let round = 0; round < 40; round++) {
    const name = `app${round % 4}`;
    const old = await api(round).put(manifest(name, `old-${round}`), 'application/json');
    assert.ok(['created', 'newversion'].includes(old['result']), JSON.stringify(old));
    const [del, put] = await Promise.all([api(round + 1).del(name), api(round + 2).put(manifest(name, `new-${round}`), 'application/json')]);
    assert.equal(del['result'], 'deleted');
    assert.ok(['created', 'newversion'].includes(put['result']), JSON.stringify(put));
    const versions = await api(round).versions(name);
    const list = (await api(round).list())['models'].map((m: { name: string }) => m.name);
    if (versions['result'] === 'notfound') {
      // The delete came last: it removed everything, including the new version; the index agrees.
      assert.equal(put['result'], 'newversion', 'a put that created the app cannot be deleted by a delete that started before it');
      assert.ok(!list.includes(name), `round ${round}: deleted app still listed`);
    } else {
      // The put came last: a fresh app holding only the new version (never the old one).
      assert.deepEqual(versions['versions'], [{ version: `new-${round}`, deployed: false }], `round ${round}: resurrected ${JSON.stringify(versions)}`);
      assert.equal(put['result'], 'created');
      assert.ok(list.includes(name), `round ${round}: existing app missing from the index`);
    }
    if (versions['result'] !== 'notfound') await api(round).del(name);
  }
});
