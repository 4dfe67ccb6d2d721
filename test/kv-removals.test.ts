/**
 * Keys of watched buckets are removed with delete markers, never purged (packages/store/src/kv-remove.ts).
 * On nats-server 2.9.10 a purge moves every consumer of the stream forward to the purge, so a watch that
 * lags behind the server skips what lies in between and the replica's view stays wrong for good; the
 * chaos test saw owners keep in-flight records, applied records and entity tombstones that KV no
 * longer held. Here a view that reads its socket late watches while another client removes keys: it
 * must end up exactly as KV is.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { createLogger } from '@wadm-ts/obs';
import { KvMirror, dropMarkers, removeKey } from '@wadm-ts/store';
import { startNats, type TestNats } from './harness/nats.js';
import { silent } from './harness/replicas.js';

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

const busy = (ms: number): void => {
  const t = performance.now();
  while (performance.now() - t < ms);
};

test('a view that lags behind the server sees every removal another client makes, and dropped markers leave no key', async () => {
  const nc = await nats.connect();
  const writer = await nats.connect();
  try {
    const jsm = await jetstreamManager(nc);
    const kv = await new Kvm(nc).create('removals', { history: 1 });
    let slow = false;
    const mirror = new KvMirror<string>({
      name: 'removals',
      open: async () => kv,
      jsm,
      logger: createLogger({ replica: 'test', level: 'silent', destination: silent }),
      // A busy replica: while it decodes, it does not read its socket, and the server holds back the
      // watch's messages (flow control): the watch's consumer lags behind the stream on the server.
      decode: (_k, d) => {
        if (slow) busy(2);
        return new TextDecoder().decode(d).slice(-6);
      },
    });
    await mirror.start();
    const other = await new Kvm(writer).open('removals');
    const value = 'x'.repeat(8_000);
    const revisions = new Map<string, number>();
    slow = true;
    for (let i = 0; i < 300; i++) revisions.set(`k${i}`, await other.put(`k${i}`, `${value}${String(i).padStart(6, '0')}`));
    for (let i = 0; i < 300; i += 2) await removeKey(other, `k${i}`, revisions.get(`k${i}`)!);
    assert.equal(await mirror.sync(60_000), true, 'the view caught up with the bucket');
    slow = false;
    const wrong: string[] = [];
    for (let i = 0; i < 300; i++) {
      const held = mirror.get(`k${i}`) !== undefined;
      if (held !== (i % 2 === 1)) wrong.push(`k${i}: view ${held ? 'holds it' : 'lacks it'}`);
    }
    assert.deepEqual(wrong, [], 'the view is what KV holds');

    // The markers of removed keys go one message at a time: the keys are gone from the stream.
    const subjects = Array.from({ length: 150 }, (_, j) => `$KV.removals.k${2 * j}`);
    const last = (await jsm.streams.info('KV_removals')).state.last_seq;
    assert.equal(await dropMarkers(jsm, 'KV_removals', subjects, last), 150);
    const left = (await jsm.streams.info('KV_removals', { subjects_filter: '$KV.removals.>' })).state.subjects ?? {};
    assert.equal(Object.keys(left).length, 150, 'only the live keys are left');
    await mirror.stop();
  } finally {
    await writer.close();
    await nc.close();
  }
});

test('no source file purges a key or a subject of a stream (nats-server 2.9.10 moves every consumer past a purge)', () => {
  const root = join(process.cwd(), 'packages');
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) {
        readFileSync(p, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/\.purge\(/.test(line) && !/^\s*(\*|\/\/)/.test(line)) offenders.push(`${p}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  for (const pkg of readdirSync(root)) {
    const src = join(root, pkg, 'src');
    try {
      if (statSync(src).isDirectory()) walk(src);
    } catch {
      // a package without sources
    }
  }
  assert.deepEqual(offenders, []);
});
