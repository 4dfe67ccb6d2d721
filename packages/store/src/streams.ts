/**
 * JetStream resources wadm-ts needs for the API: the manifest KV bucket, the status stream and the
 * wadm event stream. Existing resources are used as they are (operators may pre-create them with
 * more replicas); missing ones are created.
 */
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

export const STATUS_STREAM = 'wadm_status';
export const EVENTS_STREAM = 'wadm_events';
const SEVENTY_SECONDS_NS = 70 * 1_000_000_000;

export interface JetStreamSettings {
  domain?: string;
  /** `file` (default) or `memory`. */
  persistence?: 'file' | 'memory';
  /** Replicas for streams and buckets that wadm-ts creates (default 1). */
  replicas?: number;
}

export interface JetStreamContext {
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
  settings: JetStreamSettings;
}

export async function jetStreamContext(nc: NatsConnection, settings: JetStreamSettings = {}): Promise<JetStreamContext> {
  const opts = settings.domain ? { domain: settings.domain } : {};
  const js = jetstream(nc, opts);
  const jsm = await jetstreamManager(nc, opts);
  return { js, jsm, kvm: new Kvm(js), settings };
}

function storageOf(s: JetStreamSettings): StorageType {
  return s.persistence === 'memory' ? StorageType.Memory : StorageType.File;
}

/** Create a stream when it is missing; keep an existing one as it is. */
export async function ensureStream(ctx: JetStreamContext, cfg: Partial<StreamConfig> & { name: string; subjects: string[] }): Promise<void> {
  try {
    await ctx.jsm.streams.info(cfg.name);
    return;
  } catch (err) {
    if (!/stream not found/i.test(String((err as Error).message))) throw err;
  }
  try {
    await ctx.jsm.streams.add({ storage: storageOf(ctx.settings), num_replicas: ctx.settings.replicas ?? 1, ...cfg });
  } catch (err) {
    // Another replica created it first: fine.
    if (!/already in use|already exists/i.test(String((err as Error).message))) throw err;
  }
}

export async function ensureApiStreams(ctx: JetStreamContext): Promise<void> {
  await ensureStream(ctx, {
    name: STATUS_STREAM,
    subjects: ['wadm.status.*.*'],
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 10,
    allow_direct: true,
  });
  await ensureStream(ctx, {
    name: EVENTS_STREAM,
    subjects: ['wadm.evt.*.>'],
    retention: RetentionPolicy.Limits,
    max_age: SEVENTY_SECONDS_NS,
  });
}

/** Open (creating when missing) a KV bucket with history 1. */
export async function ensureBucket(ctx: JetStreamContext, name: string): Promise<KV> {
  return ctx.kvm.create(name, {
    history: 1,
    storage: storageOf(ctx.settings),
    replicas: ctx.settings.replicas ?? 1,
  });
}
