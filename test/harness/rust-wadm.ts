/**
 * The JetStream resources a Rust wadm 0.21 leaves on a NATS server, created here with the configurations
 * it sends (read from wadm v0.21.0 `crates/wadm/src/nats.rs`, `lib.rs`, `consumers/{commands,events}.rs`
 * and async-nats 0.39 `create_key_value`), so a test can start wadm-ts on "a NATS that ran the Rust wadm".
 *
 * Defaults of the Rust wadm: no stream prefix, single tenant, file storage, every max_bytes -1,
 * num_replicas 1, DEFAULT_EXPIRY_TIME 70 s. Fields a 2.9 server does not know (consumer metadata,
 * subject transforms of sources) are sent anyway, as the Rust client does; the server ignores them.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

const NS = 1_000_000_000;
const EXPIRY = 70 * NS;

/** A KV bucket's stream as async-nats 0.39 `create_key_value` creates it (history 1, replicas 1). */
function rustBucket(bucket: string): Partial<StreamConfig> & { name: string } {
  return {
    name: `KV_${bucket}`,
    description: '',
    subjects: [`$KV.${bucket}.>`],
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 1,
    max_bytes: -1,
    max_age: 0,
    max_msg_size: -1,
    storage: StorageType.File,
    allow_rollup_hdrs: true,
    deny_delete: true,
    deny_purge: false,
    allow_direct: true,
    discard: DiscardPolicy.New,
    num_replicas: 1,
  };
}

/** The streams of a single-tenant Rust wadm 0.21 without `--stream-prefix`, in the order it creates them. */
export function rustStreams(): Array<Partial<StreamConfig> & { name: string }> {
  const limits = (name: string, subject: string, description: string): Partial<StreamConfig> & { name: string } => ({
    name,
    description,
    subjects: [subject],
    retention: RetentionPolicy.Limits,
    max_age: EXPIRY,
    allow_rollup_hdrs: false,
    max_bytes: -1,
    storage: StorageType.File,
    num_replicas: 1,
  });
  return [
    rustBucket('wadm_state'),
    rustBucket('wadm_manifests'),
    limits('wadm_events', 'wadm.evt.*.>', 'A stream that stores all events coming in on the wadm.evt subject in a cluster'),
    {
      name: 'wadm_commands',
      description: 'A stream that stores all commands for wadm',
      subjects: ['wadm.cmd.*'],
      retention: RetentionPolicy.Workqueue,
      max_age: EXPIRY,
      allow_rollup_hdrs: false,
      max_bytes: -1,
      storage: StorageType.File,
      num_replicas: 1,
    },
    {
      name: 'wadm_status',
      description: 'A stream that stores all status updates for wadm applications',
      subjects: ['wadm.status.*.*'],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 10,
      allow_direct: true,
      max_age: 0,
      max_bytes: -1,
      storage: StorageType.File,
      num_replicas: 1,
    },
    limits('wasmbus_events', 'wasmbus.evt.*.>', 'A stream that stores all events coming in on the wasmbus.evt subject in a cluster'),
    {
      name: 'wadm_notify',
      description: 'A stream for capturing all notification events for wadm',
      subjects: ['wadm.notify.*'],
      retention: RetentionPolicy.Interest,
      max_age: EXPIRY,
      max_bytes: -1,
      storage: StorageType.File,
      num_replicas: 1,
    },
    {
      name: 'wadm_event_consumer',
      description: "A stream that sources from wadm_events and wasmbus_events for wadm event consumer's use",
      subjects: [],
      retention: RetentionPolicy.Workqueue,
      max_age: EXPIRY,
      sources: [
        { name: 'wasmbus_events', subject_transforms: [{ src: 'wasmbus.evt.*.>', dest: 'wadm_event_consumer.evt.{{wildcard(1)}}.>' }] },
        { name: 'wadm_events', subject_transforms: [{ src: 'wadm.evt.*.>', dest: 'wadm_event_consumer.evt.{{wildcard(1)}}.>' }] },
      ],
      allow_rollup_hdrs: false,
      max_bytes: -1,
      storage: StorageType.File,
      num_replicas: 1,
    },
  ];
}

/**
 * The two durable per-lattice consumers a Rust wadm creates once it has seen a host of the lattice.
 *
 * With `transforms: false` (a server before 2.10, which ignores the subject transforms of the sources,
 * so `wadm_event_consumer` holds the events under their own subjects and refuses the Rust filter), the
 * event consumer filters on the subjects its messages have there. The Rust wadm 0.21 itself needs 2.10;
 * this keeps a Rust consumer on that work-queue stream on a 2.9 test server.
 */
export function rustConsumers(lattice: string, transforms = true): Array<{ stream: string; config: Partial<ConsumerConfig> & { durable_name: string } }> {
  const durable = (prefix: string, what: string, filter: string): Partial<ConsumerConfig> & { durable_name: string } => ({
    name: `${prefix}-${lattice}`,
    durable_name: `${prefix}-${lattice}`,
    description: `Durable wadm ${what} consumer for lattice ${lattice}`,
    ack_policy: AckPolicy.Explicit,
    ack_wait: 2 * NS,
    max_deliver: 3,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filter,
    metadata: { lattice },
  });
  return [
    { stream: 'wadm_commands', config: durable('wadm_commands', 'commands', `wadm.cmd.${lattice}`) },
    { stream: 'wadm_event_consumer', config: durable('wadm_event_consumer', 'events', transforms ? `wadm_event_consumer.evt.${lattice}.>` : `wasmbus.evt.${lattice}.>`) },
  ];
}

/** Whether the server applies subject transforms of stream sources (nats-server 2.10+). */
export function serverHasTransforms(nc: NatsConnection): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(nc.info?.version ?? '');
  return m ? Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 10) : true;
}

/** One JetStream API request as the Rust client sends it (raw JSON: @nats-io refuses 2.10 fields on a 2.9 server). */
async function api(nc: NatsConnection, subject: string, body: unknown): Promise<void> {
  const m = await nc.request(`$JS.API.${subject}`, JSON.stringify(body), { timeout: 5000 });
  const r = JSON.parse(m.string()) as { error?: { code: number; err_code?: number; description?: string } };
  if (r.error) throw new Error(`${subject}: ${r.error.description ?? JSON.stringify(r.error)}`);
}

/**
 * Create every stream, and the consumers of `lattices`, as the Rust wadm would have: the subjects and
 * bodies async-nats 0.39 sends (`STREAM.CREATE.<name>`; `CONSUMER.CREATE.<stream>.<name>.<filter>` with
 * action "create").
 */
export async function prepareRustWadm(nc: NatsConnection, lattices: readonly string[]): Promise<void> {
  for (const s of rustStreams()) await api(nc, `STREAM.CREATE.${s.name}`, s);
  for (const l of lattices) {
    for (const c of rustConsumers(l, serverHasTransforms(nc))) {
      await api(nc, `CONSUMER.CREATE.${c.stream}.${c.config.durable_name}.${c.config.filter_subject}`, { stream_name: c.stream, config: c.config, action: 'create' });
    }
  }
}
