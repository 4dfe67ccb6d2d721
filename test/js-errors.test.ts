/**
 * JetStream errors are recognised by the server's err_code: each predicate is checked against the error
 * a real nats-server returns for that situation.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, AckPolicy, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { isCasConflict, isConsumerExists, isNoMessage, isStreamNameExists, isStreamNotFound, isSubjectsOverlap, jetStreamErrCode, JsErrCode } from '@wadm-ts/store';
import { startNats, type TestNats } from './harness/nats.js';

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

test('each predicate matches the error the server returns, and only that one', async () => {
  const nc = await nats.connect();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'E', subjects: ['e.>'] });

  const exists = await caught(() => jsm.streams.add({ name: 'E', subjects: ['other.>'] }));
  assert.equal(isStreamNameExists(exists), true);
  assert.equal(jetStreamErrCode(exists), JsErrCode.StreamNameExists);

  const overlap = await caught(() => jsm.streams.add({ name: 'F', subjects: ['e.x'] }));
  assert.equal(isSubjectsOverlap(overlap), true);
  assert.equal(isStreamNameExists(overlap), false);

  const missing = await caught(() => jsm.streams.info('NOPE'));
  assert.equal(isStreamNotFound(missing), true);
  assert.equal(isNoMessage(missing), true, 'reading the last status of a missing stream reads nothing');

  const kv = await new Kvm(jetstream(nc)).create('B');
  await kv.create('k', 'a');
  const conflict = await caught(() => kv.create('k', 'b'));
  assert.equal(isCasConflict(conflict), true);
  assert.equal(isCasConflict(await caught(() => kv.update('k', 'b', 99))), true);
  assert.equal(isCasConflict(missing), false);

  // The same durable again (another config is accepted as an update on nats-server 2.9; 2.10+ answers 10148).
  await jsm.consumers.add('E', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const ephemeralWithName = await caught(() => jsm.consumers.add('E', { durable_name: 'c', ack_policy: AckPolicy.None, deliver_subject: 'x' }));
  assert.equal(jetStreamErrCode(ephemeralWithName), 10012, String(ephemeralWithName));
  assert.equal(isConsumerExists(ephemeralWithName), false, 'an update the server refuses is not "exists, keep it"');
  assert.equal(isCasConflict(ephemeralWithName), false);
});

test('consumer-exists codes of newer servers (10013, 10148, 10105), in a cause chain too', () => {
  for (const err_code of [JsErrCode.ConsumerNameExists, JsErrCode.ConsumerAlreadyExists, JsErrCode.ConsumerExistingActive]) {
    const e = new JetStreamApiError({ code: 400, err_code, description: 'consumer already exists' });
    assert.equal(isConsumerExists(e), true);
    assert.equal(isConsumerExists(new Error('creating the work consumer failed', { cause: e })), true);
  }
  assert.equal(isConsumerExists(new Error('consumer name already in use')), false, 'text alone is not recognised');
});
