import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { failureMatches, sameCommand, sha256Hex } from '../src/plan/index.js';
import { canonicalJson } from '../src/plan/ids.js';
import { CommandFilter } from '../src/plan/inflight.js';
import type { Command } from '../src/types.js';
import { SCALER } from './plan-sim.js';
import type { FailureEntity } from '@wadm-ts/entities';

const scale = (host: string, count: number, scaler?: string): Command => ({
  kind: 'ScaleComponent',
  component_id: 'app-c',
  host_id: host,
  count,
  reference: 'img',
  model_name: 'app',
  annotations: scaler === undefined ? {} : { [SCALER]: scaler },
  config: ['a', 'b'],
});
const start = (host: string, reference = 'pimg'): Command => ({ kind: 'StartProvider', provider_id: 'app-p', host_id: host, reference, model_name: 'app', annotations: {}, config: [] });
const link = (name: string): Command => ({
  kind: 'PutLink',
  source_id: 'app-p',
  target: 'app-c',
  name,
  wit_namespace: 'wasi',
  wit_package: 'http',
  interfaces: ['incoming-handler'],
  source_config: [],
  target_config: [],
  model_name: 'app',
});

describe('sha256Hex', () => {
  it('is the digest of the parts concatenated (utf-8)', () => {
    assert.equal(sha256Hex(['abc']), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(sha256Hex(['a', '', 'bc']), sha256Hex(['abc']));
    const parts = ['SpreadScaler', 'äpp', 'c', '☃'];
    const h = createHash('sha256');
    for (const p of parts) h.update(p, 'utf8');
    assert.equal(sha256Hex(parts), h.digest('hex'));
  });
});

describe('sameCommand', () => {
  it('agrees with canonical JSON equality (key order ignored, undefined keys absent, array order kept)', () => {
    const a = scale('h1', 2, 's');
    const pairs: Array<[unknown, unknown]> = [
      [a, { ...a }],
      [a, Object.fromEntries(Object.entries(a).reverse())],
      [a, { ...a, count: 3 }],
      [a, { ...a, config: ['b', 'a'] }],
      [a, { ...a, config: ['a'] }],
      [a, { ...a, annotations: { [SCALER]: 's', x: 'y' } }],
      [a, { ...a, extra: undefined }],
      [{ ...a, extra: undefined }, a],
      [a, { ...a, extra: null }],
      [link('x'), link('x')],
      [link('x'), link('y')],
      [start('h1'), scale('h1', 1)],
      [{ l: [1, undefined] }, { l: [1, null] }],
      [{ l: [] }, { l: {} }],
    ];
    for (const [x, y] of pairs) assert.equal(sameCommand(x as Command, y as Command), canonicalJson(x) === canonicalJson(y), `${canonicalJson(x)} vs ${canonicalJson(y)}`);
  });
});

describe('CommandFilter', () => {
  const failure = (f: Omit<FailureEntity, 'kind' | 'seq'>): FailureEntity => ({ kind: 'failure', seq: 0, ...f });
  const failures: FailureEntity[] = [
    failure({ what: 'component', subject: 'app-c', hostId: 'h1', error: 'old', at: 90 }),
    failure({ what: 'component', subject: 'app-c', hostId: 'h1', annotations: { [SCALER]: 'other' }, error: 'other scaler', at: 99 }),
    failure({ what: 'component', subject: 'app-c', hostId: 'h2', annotations: { [SCALER]: 's' }, error: 'h2 b', at: 95 }),
    failure({ what: 'component', subject: 'app-c', hostId: 'h2', error: 'h2 a', at: 95 }),
    failure({ what: 'component', subject: 'app-c', error: 'no host', at: 99 }),
    failure({ what: 'component', subject: 'app-c', hostId: 'h3', error: 'expired', at: 10 }),
    failure({ what: 'component', subject: 'app-c', hostId: 'h4', error: 'deleted', at: 99, deleted: true }),
    failure({ what: 'provider', subject: 'app-p', hostId: 'h1', imageRef: 'other', error: 'other image', at: 98 }),
    failure({ what: 'provider', subject: 'app-p', hostId: 'h1', error: 'any image', at: 97 }),
    failure({ what: 'provider', subject: 'app-p', hostId: 'h2', imageRef: 'pimg', error: 'same image', at: 97 }),
    failure({ what: 'link', subject: 'lat._.default.link.app-p.wasi.http.x', error: 'link x', at: 96 }),
    failure({ what: 'link', subject: 'link.app-p.wasi.http.y', error: 'no dot before link', at: 96 }),
    failure({ what: 'link', subject: '.link.app-p.wasi.http.z', error: 'leading dot', at: 96 }),
    failure({ what: 'link', subject: 'lat._.default.link.zapp-p.wasi.http.x', error: 'other source', at: 97 }),
  ];
  const commands = [
    ...['h1', 'h2', 'h3', 'h4', 'h5'].flatMap((h) => [scale(h, 1), scale(h, 1, 's'), scale(h, 1, 'other'), start(h), start(h, 'other')]),
    link('x'),
    link('y'),
    link('z'),
    link('w'),
    { kind: 'StopProvider', provider_id: 'app-p', host_id: 'h1', model_name: 'app' } satisfies Command,
  ];

  it('finds the same failure as a scan of every active failure, most recent first', () => {
    const now = 100;
    const backoff = 20;
    const filter = new CommandFilter([], [...failures].reverse(), now, backoff);
    const active = failures.filter((f) => !f.deleted && f.at > now - backoff).sort((a, b) => b.at - a.at || (a.error < b.error ? -1 : 1));
    let ends: number[] = [];
    for (const c of commands) {
      const want = active.find((f) => failureMatches(f, c));
      if (want) ends.push(want.at + backoff);
      assert.deepEqual(filter.check(c), want ? { outcome: 'backoff', error: want.error } : { outcome: 'emit' }, JSON.stringify(c));
    }
    ends = ends.sort((a, b) => a - b);
    assert.ok(ends.length > 5);
    assert.equal(filter.earliestBackoffEnd(), ends[0]);
  });
});
