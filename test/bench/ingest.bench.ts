/**
 * Ingest throughput: a mixed storm of real lattice events (from simulated hosts) is captured in the
 * `wasmbus_events` stream with no replica running; then 1 or 3 `wadm serve` processes start and we time
 * until every event is acknowledged. Next to it, in the same run and on the same server: raw JetStream
 * publish throughput and raw KV compare-and-set throughput (the primitives ingest is built from).
 * Prints a JSON section (the runner renders docs/benchmarks.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { jetStreamContext } from '@wadm-ts/store';
import { ensureIngestResources } from '@wadm-ts/ingest';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor } from '../harness/nats.js';
import { Storm, countEvents, simLattice } from '../harness/lattice.js';
import { emit, pool } from './common.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'bin', 'wadm.js');
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);

async function ingestRun(replicas: number): Promise<{ events: number; seconds: number; perSecond: number }> {
  const nats = await startNats();
  const nc = await nats.connect();
  try {
    await ensureIngestResources(await jetStreamContext(nc), false, { ackWaitMs: 30_000 });
    const names = ['b0', 'b1', 'b2', 'b3', 'b4'];
    const sims: SimulatedLattice[] = [];
    for (const n of names) sims.push(await simLattice(nats.url, n, 10, 5000));
    const counter = countEvents(nc, names);
    await new Storm(nc, names.map((name, i) => ({ name, sim: sims[i]! })), 3, false).run(() => counter.count() >= EVENTS, 32);
    counter.stop();
    await Promise.all(sims.map((s) => s.close({ graceful: false })));
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info('wasmbus_events')).state.last_seq;
    const procs: ChildProcess[] = Array.from({ length: replicas }, (_, i) =>
      spawn(process.execPath, [BIN, 'serve', '-s', nats.url, '--host-id', `bench-${i}`, '--structured-logging'], { stdio: 'ignore', env: { ...process.env, WADM_LOG_LEVEL: 'warn' } }),
    );
    // Time from the first acknowledged event to the last (process start-up is not ingest).
    let first: { at: bigint; floor: number } | undefined;
    await waitFor(
      async () => {
        const floor = (await jsm.consumers.info('wasmbus_events', 'wadm_ingest')).ack_floor.stream_seq;
        if (!first && floor > 0) first = { at: process.hrtime.bigint(), floor };
        return floor >= last;
      },
      600_000,
      'ingest to finish',
    );
    const seconds = Number(process.hrtime.bigint() - first!.at) / 1e9;
    const events = last - first!.floor;
    for (const p of procs) p.kill('SIGTERM');
    return { events, seconds, perSecond: events / seconds };
  } finally {
    await nats.stop();
  }
}

async function rawRun(n: number): Promise<{ publishPerSecond: number; casPerSecond: number }> {
  const nats = await startNats();
  const nc = await nats.connect();
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'bench_raw', subjects: ['bench.raw.>'] });
    const js = jetstream(nc);
    const payload = JSON.stringify({ specversion: '1.0', id: 'x', type: 'com.wasmcloud.lattice.component_scaled', source: 'N', data: { component_id: 'c', max_instances: 1 } });
    let t = process.hrtime.bigint();
    await pool(n, 64, async (i) => void (await js.publish(`bench.raw.${i % 50}`, payload)));
    const publishPerSecond = n / (Number(process.hrtime.bigint() - t) / 1e9);
    const kv = await new Kvm(js).create('bench_kv', { history: 1 });
    const keys = 500;
    for (let k = 0; k < keys; k++) await kv.put(`k.${k}`, '0');
    t = process.hrtime.bigint();
    // One compare-and-set = read the entry, then update with its revision (what every ingest write does).
    await pool(n, 64, async (i) => {
      for (;;) {
        const e = await kv.get(`k.${i % keys}`);
        try {
          await kv.update(`k.${i % keys}`, String(i), e!.revision);
          return;
        } catch {
          // lost the race: retry
        }
      }
    });
    const casPerSecond = n / (Number(process.hrtime.bigint() - t) / 1e9);
    return { publishPerSecond, casPerSecond };
  } finally {
    await nats.stop();
  }
}

const raw = await rawRun(EVENTS);
const one = await ingestRun(1);
const three = await ingestRun(3);
emit({
  bench: 'ingest',
  id: 'ingest',
  params: { events: EVENTS },
  title: 'Event ingest',
  note:
    `A storm of ${EVENTS.toLocaleString('en-US')}+ mixed lattice events (BENCH_EVENTS: scales, provider starts and stops, links, configs, labels, heartbeats) from 50 simulated hosts in 5 lattices is captured in \`wasmbus_events\` with no replica running; then the replicas start and drain it. ` +
    'Every ingested event costs 2–4 KV reads and compare-and-set writes. On this 2-core machine 3 replica processes share the cores with nats-server (and whatever else runs): across runs they measured from 0.8× to 1.6× the rate of 1 replica; their point here is availability.',
  rows: [
    { key: 'ingest.raw.publish', what: 'raw JetStream publish (acked), 64 in flight', value: raw.publishPerSecond, unit: 'msgs/s', means: 'The primitive ingest starts from, on the same server: publishes acknowledged by the stream.' },
    { key: 'ingest.raw.cas', what: 'raw KV compare-and-set (get + update), 64 in flight', value: raw.casPerSecond, unit: 'ops/s', means: 'The primitive every ingest write is: read an entry, update it with its revision.' },
    { key: 'ingest.r1', what: `ingest, 1 replica (${one.events} events in ${one.seconds.toFixed(2)} s)`, value: one.perSecond, unit: 'events/s', means: "From the consumer's first acknowledged event to the last (process start-up excluded)." },
    { key: 'ingest.r3', what: `ingest, 3 replicas (${three.events} events in ${three.seconds.toFixed(2)} s)`, value: three.perSecond, unit: 'events/s', means: 'The same with 3 replicas sharing the consumer.' },
  ],
});
