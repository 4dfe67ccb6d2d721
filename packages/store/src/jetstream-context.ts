/**
 * The JetStream clients of one connection and the settings every stream and bucket wadm-ts ensures is
 * created with (storage, replicas), with the logging and lookups the ensure functions share.
 */
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@wadm-ts/obs';
import { isStreamNotFound } from './js-errors.js';
import { JsPublisher } from './js-publisher.js';

export interface JetStreamSettings {
  domain?: string;
  /** `file` (default) or `memory`. */
  persistence?: 'file' | 'memory';
  /** Replicas of every stream and bucket wadm-ts creates, and what existing ones are updated to (default 1 for new ones; existing ones are left alone when unset). */
  replicas?: number;
}

export interface JetStreamContext {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
  /** Publishes with their acknowledgements on one subscription (js-publisher.ts); the buckets ensureBucket opens write through it. */
  publisher: JsPublisher;
  settings: JetStreamSettings;
  /** Where ensureStream / ensureBucket log refused updates and conflicts (process warnings when absent). */
  logger?: StreamLogger;
  /**
   * Canonical stream name → the stream ensureStream resolved it to: the same name, or wadm-ts's own name
   * beside an incompatible stream (see ensureStream). Read it with streamName().
   */
  streams?: Map<string, string>;
}

export type StreamLogger = Pick<Logger, 'warn' | 'info'> & { error?: Logger['error'] };

/**
 * The clients for one connection. `jetstreamManager` checks the JetStream API with an account-info
 * request, which times out on a cluster that is still electing its meta leader: retry this with
 * retryTransient at startup.
 */
export async function jetStreamContext(nc: NatsConnection, settings: JetStreamSettings = {}, opts: { logger?: StreamLogger } = {}): Promise<JetStreamContext> {
  const o = settings.domain ? { domain: settings.domain } : {};
  const js = jetstream(nc, o);
  const jsm = await jetstreamManager(nc, o);
  return { nc, js, jsm, kvm: new Kvm(js), publisher: new JsPublisher(nc), settings, streams: new Map(), ...(opts.logger ? { logger: opts.logger } : {}) };
}

export function storageOf(s: JetStreamSettings): StorageType {
  return s.persistence === 'memory' ? StorageType.Memory : StorageType.File;
}

/** A warning on the context's logger (a process warning when it has none). */
export function warn(ctx: JetStreamContext, fields: Record<string, unknown>, msg: string): void {
  if (ctx.logger) ctx.logger.warn(fields, msg);
  else process.emitWarning(`${msg} ${JSON.stringify(fields)}`, 'WadmJetStreamWarning');
}

/** An error on the context's logger (a warning when it logs no errors). */
export function logError(ctx: JetStreamContext, fields: Record<string, unknown>, msg: string): void {
  if (ctx.logger?.error) ctx.logger.error(fields, msg);
  else warn(ctx, fields, msg);
}

/** The stream's info, or undefined when there is no such stream. */
export async function streamInfo(ctx: JetStreamContext, name: string): Promise<StreamInfo | undefined> {
  try {
    return await ctx.jsm.streams.info(name);
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  }
}
