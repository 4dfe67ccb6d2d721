/**
 * Coming from the Rust wadm 0.21 (issue 8, item 6): a nats-server holding the streams, consumers and KV
 * buckets the Rust wadm creates (test/harness/rust-wadm.ts, configurations read from its source), with
 * manifests stored in its layout. wadm-ts replicas (the product binary) start beside them within 20 s,
 * serve and deploy the stored manifests on a simulated lattice, use a stream of their own name where the
 * Rust one is incompatible (and say so in their JSON log), and leave every Rust stream, message,
 * consumer and KV entry as it was.
 *
 * Then, at the function level against a real server: what wadm-ts does where it can neither use a
 * stream nor create one beside it (NATS forbids overlapping subjects), and that the stream it created
 * beside stays in use once the Rust one is gone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, type ConsumerConfig, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { capturingLogger } from './harness/replicas.js';
import { StreamConflictError, jetStreamContext, streamName } from '@wadm-ts/store';
import { ensureIngestResources } from '@wadm-ts/ingest';
import { COMMAND_CONSUMER } from '@wadm-ts/protocol';
import { ensureCommandResources } from '@wadm-ts/reconcile';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { simLattice } from './harness/lattice.js';
import { withFleet, type LogLine, type ReplicaProc } from './harness/procs.js';
import { PatientApi, appManifest, footprint, type AppSpec } from './harness/runtime.js';
import { prepareRustWadm, rustConsumers, rustStreams, serverHasTransforms } from './harness/rust-wadm.js';

const LATTICE = 'rustlat';
/** Deployed by the Rust wadm (its record says so): wadm-ts must bring it up on the hosts. */
const DEPLOYED: AppSpec = { name: 'rustweb', version: 'v1', image: 'reg/rustweb:1', instances: 3, provider: { image: 'reg/rustcap:1', instances: 1 } };
/** Stored (two versions) but not deployed by the Rust wadm: listed, then deployed through the API. */
const IDLE: AppSpec = { name: 'rustidle', version: 'v2', image: 'reg/rustidle:2', instances: 2 };
const IDLE_V1: AppSpec = { ...IDLE, version: 'v1', image: 'reg/rustidle:1' };

/** A Rust-layout manifest record (docs/wire/api.md §4): versions in insertion order, then the deployed one. */
function rustRecord(versions: AppSpec[], deployed: string | null): string {
  return `{"manifests":{${versions.map((v) => `${JSON.stringify(v.version)}:${appManifest(v)}`).join(',')}},"deployed_version":${JSON.stringify(deployed)}}`;
}

/** A status message as the Rust wadm publishes it (wadm-types Status). */
const RUST_STATUS = JSON.stringify({
  status: { type: 'deployed', message: '' },
  scalers: [{ id: 'SpreadScaler-rustweb-web', kind: 'SpreadScaler', name: 'web', status: { type: 'deployed' } }],
  version: '',
  components: [],
});

interface Snapshot {
  config: StreamConfig;
  messages: number;
  firstSeq: number;
  lastSeq: number;
}

async function snapshotStreams(jsm: JetStreamManager): Promise<Map<string, Snapshot>> {
  const out = new Map<string, Snapshot>();
  for (const s of rustStreams()) {
    const i = await jsm.streams.info(s.name);
    out.set(s.name, { config: i.config, messages: i.state.messages, firstSeq: i.state.first_seq, lastSeq: i.state.last_seq });
  }
  return out;
}

async function snapshotConsumers(nc: NatsConnection, jsm: JetStreamManager): Promise<Map<string, ConsumerConfig>> {
  const out = new Map<string, ConsumerConfig>();
  for (const c of rustConsumers(LATTICE, serverHasTransforms(nc))) out.set(`${c.stream}/${c.config.durable_name}`, (await jsm.consumers.info(c.stream, c.config.durable_name)).config);
  return out;
}

describe('a NATS that ran the Rust wadm 0.21', () => {
  const fx = withFleet({ args: ['--stream-persistence', 'file', '--resync-interval-ms', '1000'] });
  let jsm: JetStreamManager;
  let sim: SimulatedLattice;
  let replicas: ReplicaProc[] = [];
  let streamsBefore: Map<string, Snapshot>;
  let consumersBefore: Map<string, ConsumerConfig>;
  /** Rust messages written before wadm-ts started: stream → [seq, data]. */
  const rustMessages: Array<{ stream: string; seq: number; data: string }> = [];
  const rustStateKeys = new Map<string, { revision: number; value: string }>();

  before(async () => {
    await fx.started;
    jsm = await jetstreamManager(fx.nc);
    await prepareRustWadm(fx.nc, [LATTICE]);
    const js = jetstream(fx.nc);
    const kvm = new Kvm(js);

    // The Rust wadm's manifest records and lattice index.
    const manifests = await kvm.open('wadm_manifests');
    await manifests.put(`${LATTICE}-${DEPLOYED.name}`, rustRecord([DEPLOYED], DEPLOYED.version));
    await manifests.put(`${LATTICE}-${IDLE.name}`, rustRecord([IDLE_V1, IDLE], null));
    await manifests.put(LATTICE, JSON.stringify([DEPLOYED.name, IDLE.name]));

    // Its lattice state (one key per entity kind and lattice), its last status, a command it had not run
    // yet (the Rust command consumer still holds it), one of its manifest events.
    const state = await kvm.open('wadm_state');
    const hostId = 'NRUSTHOSTAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    await state.put(`host_${LATTICE}`, JSON.stringify({ [hostId]: { id: hostId, friendly_name: 'old-host', labels: {}, components: {}, providers: [], uptime_seconds: 10, last_seen: '2024-01-01T00:00:00Z' } }));
    await state.put(`component_${LATTICE}`, JSON.stringify({}));
    await state.put(`provider_${LATTICE}`, JSON.stringify({}));
    for (const k of [`host_${LATTICE}`, `component_${LATTICE}`, `provider_${LATTICE}`]) {
      const e = (await state.get(k))!;
      rustStateKeys.set(k, { revision: e.revision, value: e.string() });
    }
    const put = async (stream: string, subject: string, data: string): Promise<void> => {
      const ack = await js.publish(subject, data);
      assert.equal(ack.stream, stream);
      rustMessages.push({ stream, seq: ack.seq, data });
    };
    await put('wadm_status', `wadm.status.${LATTICE}.${DEPLOYED.name}`, RUST_STATUS);
    await put(
      'wadm_commands',
      `wadm.cmd.${LATTICE}`,
      JSON.stringify({ ScaleComponent: { component_id: `${DEPLOYED.name}-web`, reference: DEPLOYED.image, host_id: hostId, count: 3, model_name: DEPLOYED.name, annotations: {}, config: [] } }),
    );
    await put(
      'wadm_events',
      `wadm.evt.${LATTICE}.manifest_published`,
      JSON.stringify({ specversion: '1.0', id: 'rust-1', type: 'com.wadm.manifest_published', source: 'wadm', datacontenttype: 'application/json', data: { manifest: JSON.parse(appManifest(DEPLOYED)) } }),
    );
    streamsBefore = await snapshotStreams(jsm);
    consumersBefore = await snapshotConsumers(fx.nc, jsm);

    sim = fx.track(await simLattice(fx.nats.url, LATTICE, 2, 1000));
  });

  test('two replicas are ready within 20 s and log the incompatible wadm_commands and the stream they use beside it', async () => {
    const t0 = Date.now();
    replicas = [fx.fleet.spawn('rc-0'), fx.fleet.spawn('rc-1')];
    await fx.fleet.ready(replicas, 20_000);
    assert.ok(Date.now() - t0 < 20_000);
    for (const r of replicas) {
      const dead = r.lines.filter((l) => (l['level'] as number) >= 50);
      assert.deepEqual(dead, [], `${r.id} logged errors`);
      const conflict = r.lines.find((l: LogLine) => l['stream'] === 'wadm_commands' && l['using'] === 'wadm_ts_commands');
      assert.ok(conflict, `${r.id} names wadm_commands and the stream it uses instead: ${JSON.stringify(r.lines.filter((l) => l['stream']))}`);
      assert.equal(conflict['level'], 40, 'a warning');
      assert.match(String(conflict.msg), /wadm_commands/);
      assert.match(String(conflict.msg), /wadm_ts_commands/);
      assert.match(String(conflict.msg), /subjects/);
      const diff = conflict['differences'] as Array<{ field: string; found: unknown; wanted: unknown }>;
      assert.deepEqual(
        diff.find((d) => d.field === 'subjects'),
        { field: 'subjects', found: ['wadm.cmd.*'], wanted: ['wadm.cmd.*.*'] },
      );
      // The compatible Rust streams are used as they are; none of them is replaced.
      assert.ok(!r.lines.some((l) => typeof l['using'] === 'string' && l['stream'] !== 'wadm_commands'), 'only wadm_commands is replaced');
    }
    const ours = await jsm.streams.info('wadm_ts_commands');
    assert.deepEqual(ours.config.subjects, ['wadm.cmd.*.*']);
    assert.equal(ours.config.retention, RetentionPolicy.Workqueue);
    assert.equal((await jsm.consumers.info('wadm_ts_commands', COMMAND_CONSUMER)).config.durable_name, COMMAND_CONSUMER);
    await assert.rejects(jsm.consumers.info('wadm_commands', COMMAND_CONSUMER), /consumer not found/);
  });

  test('the stored manifests are listed, the Rust-deployed one comes up and another deploys through the API', async () => {
    const api = new PatientApi(fx.nc, LATTICE, 5000, 60_000);
    const list = await api.list();
    assert.equal(list['result'], 'success', JSON.stringify(list));
    const models = list['models'] as Array<{ name: string; deployed_version?: string | null; version: string }>;
    assert.deepEqual(models.map((m) => m.name).sort(), [IDLE.name, DEPLOYED.name]);
    assert.equal(models.find((m) => m.name === DEPLOYED.name)?.deployed_version, DEPLOYED.version);
    assert.deepEqual(
      ((await api.versions(IDLE.name))['versions'] as Array<{ version: string; deployed: boolean }>).map((v) => [v.version, v.deployed]),
      [['v1', false], ['v2', false]],
    );

    const deployed = async (app: AppSpec): Promise<void> => {
      await waitFor(
        async () => {
          const s = (await api.call('status', app.name)).reply;
          const f = footprint(sim.snapshot(), app.name);
          const want = { instances: app.instances, providers: app.provider?.instances ?? 0, links: app.provider ? 1 : 0 };
          return s['status']?.['status']?.['type'] === 'deployed' && f.instances === want.instances && f.providers === want.providers && f.links === want.links;
        },
        30_000,
        `${app.name} deployed with its instances on the hosts`,
      );
    };
    await deployed(DEPLOYED);
    await api.deploy(IDLE.name);
    await deployed(IDLE);
    assert.deepEqual(footprint(sim.snapshot(), IDLE.name).images, [IDLE.image], 'the latest version');

    // Status on the wire is what `wash app status` and wadm-client's subscribe_to_status read: the Rust
    // stream, the Rust subject, the Rust shape.
    const last = await jsm.streams.getMessage('wadm_status', { last_by_subj: `wadm.status.${LATTICE}.${IDLE.name}` });
    const status = last!.json<{ status: { type: string }; scalers: Array<{ id: string; kind: string; name: string; status: { type: string } }>; version: string; components: unknown[] }>();
    assert.equal(status.status.type, 'deployed');
    assert.ok(status.scalers.length > 0 && status.scalers.every((s) => typeof s.kind === 'string' && typeof s.status.type === 'string'));
    assert.deepEqual(status.components, []);

    // The records stay in the Rust layout; wadm-ts's rollout history is one extra key after it, which the
    // Rust wadm's StoredManifest ignores on read (no deny_unknown_fields) and drops on its writes.
    const kv = await new Kvm(fx.nc).open('wadm_manifests');
    const rec = JSON.parse((await kv.get(`${LATTICE}-${IDLE.name}`))!.string()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(rec).slice(0, 2), ['manifests', 'deployed_version']);
    assert.deepEqual(Object.keys(rec).slice(2), ['rollout']);
    assert.equal(rec['deployed_version'], IDLE.version);
    assert.deepEqual(Object.keys(rec['manifests'] as object), ['v1', 'v2']);
  });

  test('the Rust data is intact: stream configs, their messages, the consumers and the lattice state', async () => {
    const now = await snapshotStreams(jsm);
    for (const [name, before] of streamsBefore) {
      const after = now.get(name)!;
      assert.deepEqual(after.config, before.config, `${name}: configuration unchanged`);
    }
    // Nobody but the Rust wadm writes to its command stream: every message is still there.
    const cmds = now.get('wadm_commands')!;
    const cmdsBefore = streamsBefore.get('wadm_commands')!;
    assert.deepEqual([cmds.messages, cmds.firstSeq, cmds.lastSeq], [cmdsBefore.messages, cmdsBefore.firstSeq, cmdsBefore.lastSeq]);
    for (const m of rustMessages) {
      const got = await jsm.streams.getMessage(m.stream, { seq: m.seq });
      assert.equal(got?.string(), m.data, `${m.stream} #${m.seq} unchanged`);
    }
    const consumers = await snapshotConsumers(fx.nc, jsm);
    for (const [k, before] of consumersBefore) assert.deepEqual(consumers.get(k), before, `${k}: unchanged`);
    const names: string[] = [];
    for await (const c of jsm.consumers.list('wadm_commands')) names.push(c.name);
    assert.deepEqual(names, [`wadm_commands-${LATTICE}`], 'no consumer of wadm-ts on the Rust command stream');
    const state = await new Kvm(fx.nc).open('wadm_state');
    for (const [k, v] of rustStateKeys) {
      const e = await state.get(k);
      assert.deepEqual({ revision: e?.revision, value: e?.string() }, v, `${k} unchanged`);
    }
  });

  test('a replica started later resolves the same streams', async () => {
    const late = fx.fleet.spawn('rc-late');
    await fx.fleet.ready([late], 20_000);
    assert.ok(late.lines.some((l) => l['stream'] === 'wadm_commands' && l['using'] === 'wadm_ts_commands'));
    const deployedNow = footprint(sim.snapshot(), DEPLOYED.name).instances;
    assert.equal(deployedNow, DEPLOYED.instances);
    const codes = await fx.fleet.shutdown();
    assert.deepEqual(Object.values(codes), [0, 0, 0]);
  });
});


describe('streams wadm-ts can neither use nor create beside', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  before(async () => {
    nats = await startNats();
    nc = await nats.connect();
    jsm = await jetstreamManager(nc);
  });
  after(() => nats?.stop());

  test('another stream captures the command subjects: a clear error naming it, nothing created or changed', async () => {
    await jsm.streams.add({ name: 'operator_cmds', subjects: ['wadm.cmd.>'] });
    await jetstream(nc).publish('wadm.cmd.x.y', 'keep');
    const { logger, lines } = capturingLogger();
    const ctx = await jetStreamContext(nc, {}, { logger });
    await assert.rejects(ensureCommandResources(ctx), (err: unknown) => {
      assert.ok(err instanceof StreamConflictError, String(err));
      assert.match(err.message, /wadm_commands/);
      assert.match(err.message, /operator_cmds/);
      assert.match(err.message, /wadm\.cmd\.\*\.\*/);
      return true;
    });
    const logged = lines.find((l) => l['level'] === 50 && l['stream'] === 'wadm_commands');
    assert.ok(logged, JSON.stringify(lines));
    assert.deepEqual(logged['overlapping'], ['operator_cmds']);
    const names: string[] = [];
    for await (const n of jsm.streams.names()) names.push(n);
    assert.deepEqual(names, ['operator_cmds'], 'nothing created');
    const info = await jsm.streams.info('operator_cmds');
    assert.deepEqual([info.config.subjects, info.state.messages], [['wadm.cmd.>'], 1]);
    await jsm.streams.delete('operator_cmds');
  });

  test('a stream with the needed subjects but another retention: refused with the difference (a stream beside it would overlap)', async () => {
    await jsm.streams.add({ name: 'wasmbus_events', subjects: ['wasmbus.evt.*.>'], retention: RetentionPolicy.Workqueue });
    const { logger, lines } = capturingLogger();
    const ctx = await jetStreamContext(nc, {}, { logger });
    await assert.rejects(ensureIngestResources(ctx, false), (err: unknown) => {
      assert.ok(err instanceof StreamConflictError, String(err));
      assert.match(err.message, /wasmbus_events/);
      assert.match(err.message, /retention/);
      return true;
    });
    assert.ok(lines.some((l) => l['level'] === 50 && l['stream'] === 'wasmbus_events' && JSON.stringify(l['differences']).includes('retention')), JSON.stringify(lines));
    assert.equal((await jsm.streams.info('wasmbus_events')).config.retention, RetentionPolicy.Workqueue, 'unchanged');
    await jsm.streams.delete('wasmbus_events');
  });

  test("someone else's consumer on wadm-ts's work queue: a clear error naming it, the consumer kept", async () => {
    await jsm.streams.add({ name: 'wadm_commands', subjects: ['wadm.cmd.*.*'], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add('wadm_commands', { durable_name: 'someone-else', ack_policy: AckPolicy.Explicit, filter_subject: 'wadm.cmd._.other' });
    const { logger, lines } = capturingLogger();
    const ctx = await jetStreamContext(nc, {}, { logger });
    await assert.rejects(ensureCommandResources(ctx), (err: unknown) => {
      assert.ok(err instanceof StreamConflictError, String(err));
      assert.match(err.message, /wadm_commands/);
      assert.match(err.message, /someone-else/);
      return true;
    });
    assert.ok(lines.some((l) => l['level'] === 50 && l['stream'] === 'wadm_commands' && JSON.stringify(l['otherConsumers']) === '["someone-else"]'), JSON.stringify(lines));
    const names: string[] = [];
    for await (const c of jsm.consumers.list('wadm_commands')) names.push(c.name);
    assert.deepEqual(names, ['someone-else']);
    await jsm.streams.delete('wadm_commands');
  });

  test('once beside, always beside: with the Rust command stream gone, wadm-ts keeps using its own (no second command stream)', async () => {
    await jsm.streams.add({ name: 'wadm_commands', subjects: ['wadm.cmd.*'], retention: RetentionPolicy.Workqueue });
    const first = await jetStreamContext(nc, {}, { logger: capturingLogger().logger });
    await ensureCommandResources(first);
    assert.equal(streamName(first, 'wadm_commands'), 'wadm_ts_commands');
    await jsm.streams.delete('wadm_commands'); // the operator removes the Rust stream
    const { logger, lines } = capturingLogger();
    const later = await jetStreamContext(nc, {}, { logger });
    await ensureCommandResources(later);
    assert.equal(streamName(later, 'wadm_commands'), 'wadm_ts_commands');
    await assert.rejects(jsm.streams.info('wadm_commands'), /stream not found/);
    assert.ok(lines.some((l) => l['stream'] === 'wadm_commands' && l['using'] === 'wadm_ts_commands' && l['level'] === 30), JSON.stringify(lines));
    // A fresh server (or one where nothing was in the way) uses the canonical name.
    await jsm.streams.delete('wadm_ts_commands');
    const fresh = await jetStreamContext(nc, {}, { logger });
    await ensureCommandResources(fresh);
    assert.equal(streamName(fresh, 'wadm_commands'), 'wadm_commands');
    assert.deepEqual((await jsm.streams.info('wadm_commands')).config.subjects, ['wadm.cmd.*.*']);
  });
});
