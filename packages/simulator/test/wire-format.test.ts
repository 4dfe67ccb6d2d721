import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePublicKey, isPublicKey, uptimeHuman } from '../src/index.js';
import { rfc3339, ulidUuid } from '../src/ids.js';
import { encodeSorted, encodeWire } from '../src/json.js';
import { cloudEvent } from '../src/events.js';
import { decodeScaleComponent, decodeStopProvider } from '../src/wire.js';
import { DecodeError } from '../src/serde.js';

const enc = new TextEncoder();

describe('identity formats', () => {
  test('nkey public keys: 56 chars, prefix, valid CRC', () => {
    for (let i = 0; i < 50; i++) {
      const n = generatePublicKey('server');
      assert.match(n, /^N[A-Z2-7]{55}$/);
      assert.ok(isPublicKey(n, 'server'));
      assert.ok(!isPublicKey(n, 'account'));
    }
    assert.match(generatePublicKey('account'), /^A[A-Z2-7]{55}$/);
    assert.ok(!isPublicKey('N' + 'A'.repeat(55)));
  });

  test('uptime_human follows the humantime examples of the spec', () => {
    assert.equal(uptimeHuman(0), '0s');
    assert.equal(uptimeHuman(30), '30s');
    assert.equal(uptimeHuman(65), '1m 5s');
    assert.equal(uptimeHuman(7200), '2h');
    assert.equal(uptimeHuman(93785), '1day 2h 3m 5s');
    assert.equal(uptimeHuman(172801), '2days 1s');
    assert.equal(uptimeHuman(31_557_600 * 2 + 2_630_016), '2years 1month');
  });

  test('time is RFC 3339 UTC with 0/3/6/9 fractional digits', () => {
    const base = BigInt(Date.UTC(2025, 2, 1, 12, 0, 5)) * 1_000_000n;
    assert.equal(rfc3339(base), '2025-03-01T12:00:05Z');
    assert.equal(rfc3339(base + 123_000_000n), '2025-03-01T12:00:05.123Z');
    assert.equal(rfc3339(base + 123_456_000n), '2025-03-01T12:00:05.123456Z');
    assert.equal(rfc3339(base + 123_456_789n), '2025-03-01T12:00:05.123456789Z');
    assert.match(rfc3339(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$/);
  });

  test('event ids are ULIDs rendered as time-ordered UUIDs', () => {
    const a = ulidUuid(Date.UTC(2024, 6, 1));
    const b = ulidUuid(Date.UTC(2024, 6, 2));
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.ok(a < b);
    assert.equal(a.replace(/-/g, '').slice(0, 12), Date.UTC(2024, 6, 1).toString(16).padStart(12, '0'));
  });
});

describe('JSON writer', () => {
  test('structs keep declaration order, maps are sorted (also integer-like keys), undefined is omitted', () => {
    const labels = new Map([
      ['zone', 'a'],
      ['10', 'x'],
      ['2', 'y'],
      ['B', 'z'],
    ]);
    assert.equal(
      encodeWire({ success: true, message: '', response: undefined }),
      '{"success":true,"message":""}',
    );
    assert.equal(encodeWire({ z: 1, labels, a: null }), '{"z":1,"labels":{"10":"x","2":"y","B":"z","zone":"a"},"a":null}');
    assert.equal(encodeSorted({ z: 1, a: { d: 1, c: [{ y: 1, x: 2 }] } }), '{"a":{"c":[{"x":2,"y":1}],"d":1},"z":1}');
    assert.equal(encodeWire({ s: 'quote " backslash \\ nl \n ctl \u0001 é /' }), '{"s":"quote \\" backslash \\\\ nl \\n ctl \\u0001 é /"}');
  });

  test('CloudEvent envelope order and sorted data', () => {
    const e = cloudEvent('config_set', 'NSRC', { config_name: 'x' });
    assert.match(
      e,
      /^\{"specversion":"1\.0","id":"[0-9a-f-]{36}","type":"com\.wasmcloud\.lattice\.config_set","source":"NSRC","datacontenttype":"application\/json","time":"[^"]+","data":\{"config_name":"x"\}\}$/,
    );
  });
});

describe('request decoding (serde semantics)', () => {
  test('scale: defaults, required component_id, null handling, unknown fields ignored', () => {
    const c = decodeScaleComponent(enc.encode('{"component_id":"x","annotations":null,"extra":1}'));
    assert.deepEqual(c, {
      component_ref: '',
      component_id: 'x',
      annotations: undefined,
      count: 0,
      component_limits: undefined,
      host_id: '',
      config: [],
      allow_update: false,
    });
    assert.throws(() => decodeScaleComponent(enc.encode('{"count":1}')), DecodeError);
    assert.throws(() => decodeScaleComponent(enc.encode('{"component_id":"x","config":null}')), DecodeError);
    assert.throws(() => decodeScaleComponent(enc.encode('{"component_id":"x","count":-1}')), DecodeError);
    assert.throws(() => decodeScaleComponent(enc.encode('{"component_id":"x","annotations":{"a":1}}')), DecodeError);
    assert.throws(() => decodeScaleComponent(enc.encode('')), DecodeError);
    assert.throws(() => decodeScaleComponent(Uint8Array.from([0xff, 0xfe])), DecodeError);
  });

  test('stop provider: provider_ref alias, duplicate field rejected', () => {
    assert.deepEqual(decodeStopProvider(enc.encode('{"provider_ref":"p"}')), { host_id: '', provider_id: 'p' });
    assert.throws(() => decodeStopProvider(enc.encode('{"provider_ref":"p","provider_id":"q"}')), DecodeError);
  });
});
