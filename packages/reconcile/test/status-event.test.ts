/** The `application_status` notification is built around the status's JSON: the same bytes as encoding the whole CloudEvent. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusToWire, type Status } from '@wadm-ts/model';
import { APPLICATION_STATUS, cloudEvent } from '@wadm-ts/protocol';
import { applicationStatusEvent } from '../src/runtime/status-publisher.js';

test('applicationStatusEvent gives the bytes of JSON.stringify(cloudEvent(...)), key order included', () => {
  const status: Status = {
    status: { type: 'reconciling', message: 'Scaling "quoted" \\ component on 2 host(s)' },
    scalers: [{ id: 'abc', kind: 'SpreadScaler', name: 'hello', status: { type: 'reconciling', message: '' } }],
    version: '',
    components: [],
  };
  const json = JSON.stringify(statusToWire(status));
  for (const name of ['app', 'näme-with-ünicode', 'a"b']) {
    const out = applicationStatusEvent(name, json, new Date('2026-01-02T03:04:05.678Z'));
    const parsed = JSON.parse(out) as { id: string; time: string };
    const expected = { ...cloudEvent('wadm', APPLICATION_STATUS, { name, status: statusToWire(status) }, new Date('2026-01-02T03:04:05.678Z')), id: parsed.id };
    assert.equal(out, JSON.stringify(expected));
    assert.match(parsed.id, /^[0-9a-f-]{36}$/);
  }
});
