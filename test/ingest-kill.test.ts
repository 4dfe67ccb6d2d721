/**
 * A replica killed with SIGKILL during ingest loses nothing: three `wadm serve` processes ingest a storm;
 * one is killed mid-storm; the events it had taken but not acknowledged are redelivered (after the
 * consumer's ack wait) to the survivors, and KV ends exactly equal to the simulator's ground truth.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { LatticeStateStore } from '@wadm-ts/store';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { Storm, countEvents, simLattice, waitConverged } from './harness/lattice.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'cli', 'bin', 'wadm.js');

let nats: TestNats;
let nc: NatsConnection;
const procs: ChildProcess[] = [];
const sims: SimulatedLattice[] = [];

function replica(id: string): ChildProcess {
  const p = spawn(process.execPath, [BIN, 'serve', '-s', nats.url, '--host-id', id, '--ingest-ack-wait-ms', '2000', '--structured-logging'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  Object.defineProperty(p, 'output', { get: () => out });
  procs.push(p);
  return p;
}

const output = (p: ChildProcess): string => (p as ChildProcess & { output: string }).output;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
});

after(async () => {
  await Promise.all(sims.map((s) => s.close({ graceful: false })));
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await nats.stop();
});

test('SIGKILL of a replica mid-ingest loses nothing', async () => {
  const reps = ['kill-a', 'kill-b', 'kill-c'].map(replica);
  await waitFor(() => reps.every((p) => output(p).includes('replica ready')), 30_000, 'three replicas ready');
  const names = ['k0', 'k1', 'k2'];
  for (const n of names) sims.push(await simLattice(nats.url, n, 5, 1000));
  const counter = countEvents(nc, names);
  const storm = new Storm(nc, names.map((name, i) => ({ name, sim: sims[i]! })), 11, false);
  const victim = reps[0]!;
  let killedAt = -1;
  await storm.run(() => {
    if (killedAt < 0 && counter.count() >= 1500) {
      killedAt = counter.count();
      victim.kill('SIGKILL');
    }
    return counter.count() >= 4000;
  }, 8);
  counter.stop();
  assert.ok(killedAt > 0);
  if (victim.exitCode === null && victim.signalCode === null) await once(victim, 'exit');
  assert.equal(victim.signalCode, 'SIGKILL');

  const jsm = await jetstreamManager(nc);
  const store = new LatticeStateStore(await new Kvm(nc).open('wadm_state'), jsm, 'wadm_state');
  for (const [i, n] of names.entries()) await waitConverged(store, sims[i]!, n, 60_000);
  const last = (await jsm.streams.info('wasmbus_events')).state.last_seq;
  await waitFor(async () => (await jsm.consumers.info('wasmbus_events', 'wadm_ingest')).ack_floor.stream_seq >= last, 30_000, 'every event acknowledged by the survivors');
  const parked = (await jsm.streams.info('wadm_dead_letters')).state.messages;
  assert.equal(parked, 0, 'nothing parked');
  const ci = await jsm.consumers.info('wasmbus_events', 'wadm_ingest');
  process.stderr.write(
    `# kill test: killed after ${killedAt} of ${counter.count()} events; ${ci.delivered.consumer_seq - ci.delivered.stream_seq} redeliveries; converged with the survivors\n`,
  );
  for (const p of reps.slice(1)) {
    p.kill('SIGTERM');
    const [code] = (await once(p, 'exit')) as [number | null];
    assert.equal(code, 0, output(p).slice(-2000));
  }
});
