/**
 * A replica's connections and JetStream resources: connecting with retry, the buckets, streams and
 * stores it opens at startup, its in-memory views, and keeping the connection and resources watched
 * (re-ensured after a reconnect).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { LEASE_BUCKET, STATUS_STREAM } from '@wadm-ts/protocol';
import type { Logger, Metrics } from '@wadm-ts/obs';
import {
  LatticeStateStore,
  ManifestView,
  StateView,
  ManifestStore,
  StatusStore,
  connectionOptions,
  isAuthFailure,
  redactServers,
  ensureApiStreams,
  ensureBucket,
  streamName,
  jetStreamContext,
  retryTransient,
  watchConnection,
  type JetStreamContext,
  type RetryOptions,
} from '@wadm-ts/store';
import { ensureIngestResources } from '@wadm-ts/ingest';
import { ensureCommandResources, ensureReconcileStream, ensureWorkConsumer } from '@wadm-ts/reconcile';
import type { ReplicaConfig } from './config.js';

/** The state bucket's KV handle (the reconciler writes in-flight and applied records to it). */
export type StateKv = Awaited<ReturnType<typeof ensureBucket>>;

export async function connectWithRetry(cfg: ReplicaConfig, log: Logger, timeoutMs?: number): Promise<NatsConnection> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  // Settings that cannot work (conflicting credentials, a missing file) fail here, at once, not as retries.
  const options = connectionOptions(cfg.nats);
  const server = redactServers(cfg.nats.server);
  let delay = 250;
  for (;;) {
    try {
      return await connect(options);
    } catch (err) {
      if (Date.now() + delay > deadline) throw new Error(`could not connect to NATS at ${server}: ${(err as Error).message}`, { cause: err });
      if (isAuthFailure(err)) log.error({ err: (err as Error).message, server, retryInMs: delay }, 'NATS refused the credentials (check the user/password, NKey seed, JWT or creds file); retrying');
      else log.warn({ err: (err as Error).message, server, retryInMs: delay }, 'NATS not reachable yet, retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

export interface ReplicaStores {
  ctx: JetStreamContext;
  retry: RetryOptions;
  stateKv: StateKv;
  manifests: ManifestStore;
  statuses: StatusStore;
  state: LatticeStateStore;
  /** Ensure every JetStream resource the replica uses (after a reconnect). */
  ensureAll: () => Promise<void>;
}

/**
 * The JetStream resources the replica needs before anything else, and the stores over them. Every startup
 * step that talks to JetStream is retried while it fails transiently (a cluster electing its meta leader,
 * a node restarting), so replicas started with a fresh cluster all come up; until then the replica is not
 * ready (/readyz 503). After a reconnect they are ensured again (`watchResources`).
 */
export async function openStores(cfg: ReplicaConfig, nc: NatsConnection, logger: Logger, metrics: Metrics): Promise<ReplicaStores> {
  const retry: RetryOptions = { logger, stopped: () => nc.isClosed(), maxDelayMs: 5000 };
  const ctx = await retryTransient('opening JetStream', () => jetStreamContext(nc, cfg.jetstream, { logger }), retry);
  await retryTransient('ensuring the API streams', () => ensureApiStreams(ctx, { multitenant: cfg.multitenant }), retry);
  const manifestKv = await retryTransient(`ensuring bucket ${cfg.manifestBucket}`, () => ensureBucket(ctx, cfg.manifestBucket), retry);
  const stateKv = await retryTransient(`ensuring bucket ${cfg.stateBucket}`, () => ensureBucket(ctx, cfg.stateBucket), retry);
  const ensureAll = async (): Promise<void> => {
    await ensureApiStreams(ctx, { multitenant: cfg.multitenant });
    await ensureBucket(ctx, cfg.manifestBucket);
    await ensureBucket(ctx, cfg.stateBucket);
    await ensureReconcileStream(ctx);
    await ensureIngestResources(ctx, cfg.multitenant, { ackWaitMs: cfg.ingestAckWaitMs });
    await ensureCommandResources(ctx);
    await ensureWorkConsumer(ctx, cfg.takeoverMs, logger);
    await ensureBucket(ctx, LEASE_BUCKET);
  };
  const casRetries = metrics.counter('wadm_manifest_cas_retries_total', 'compare-and-set conflicts retried on the manifest bucket');
  const manifests = new ManifestStore(manifestKv, cfg.manifestBucket, () => casRetries.inc());
  const statuses = new StatusStore(ctx.js, ctx.jsm, () => streamName(ctx, STATUS_STREAM));
  const stateCas = metrics.counter('wadm_state_cas_retries_total', 'compare-and-set conflicts retried on the lattice state bucket');
  const state = new LatticeStateStore(stateKv, ctx.jsm, cfg.stateBucket, () => stateCas.inc());
  return { ctx, retry, stateKv, manifests, statuses, state, ensureAll };
}

/** In-memory views, fed by one watch per bucket (initial values, then updates). */
export async function startViews(cfg: ReplicaConfig, stores: ReplicaStores, logger: Logger): Promise<{ stateView: StateView; manifestView: ManifestView }> {
  const { ctx } = stores;
  const stateView = new StateView({ name: cfg.stateBucket, open: () => ensureBucket(ctx, cfg.stateBucket), jsm: ctx.jsm, logger });
  const manifestView = new ManifestView({ name: cfg.manifestBucket, open: () => ensureBucket(ctx, cfg.manifestBucket), jsm: ctx.jsm, logger });
  await retryTransient('loading the views', () => Promise.all([stateView.start(), manifestView.start()]), stores.retry);
  return { stateView, manifestView };
}

/** `wadm_nats_connected`: 1 while the connection is up, logged on each change. */
export function watchNatsStatus(nc: NatsConnection, metrics: Metrics, logger: Logger): void {
  const connected = metrics.gauge('wadm_nats_connected', '1 while the NATS connection is up');
  connected.set(1);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        connected.set(0);
        logger.warn('NATS disconnected');
      } else if (s.type === 'reconnect') {
        connected.set(1);
        logger.info('NATS reconnected');
      }
    }
  })().catch(() => undefined);
}

/**
 * Re-ensure the JetStream resources after every reconnect (memory storage loses them on restart), then
 * rebuild `mirrors` from fresh initial values: a server with memory storage lost the buckets and started
 * their sequences again, which a resumed watch would not notice.
 */
export function watchResources(nc: NatsConnection, stores: ReplicaStores, mirrors: readonly { reopen(): void }[], stopping: () => boolean, logger: Logger): { stop(): void } {
  return watchConnection(nc, {
    logger,
    onReconnect: (server) =>
      void retryTransient('re-ensuring JetStream resources after a reconnect', stores.ensureAll, { ...stores.retry, stopped: () => nc.isClosed() || stopping(), context: { server } })
        .then(() => {
          for (const m of mirrors) m.reopen();
        })
        .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 're-ensuring JetStream resources after a reconnect failed')),
  });
}
