/**
 * One wadm-ts replica: connects to NATS, ensures the JetStream resources, and runs the API service,
 * event ingest, the lease holder and owner loops of the lattices it owns, and the command workers.
 * Any number of replicas run side by side.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ApiServer } from '@wadm-ts/api';
import { LEASE_BUCKET, STATUS_STREAM, type LatticeRef } from '@wadm-ts/protocol';
import { createLogger, Metrics, Tracing, type Logger } from '@wadm-ts/obs';
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
  stateKeys,
  releasedOf,
  retryTransient,
  watchConnection,
  type RetryOptions,
} from '@wadm-ts/store';
import { HostReaper, IngestWorker, LatticeQuerier, ensureIngestResources } from '@wadm-ts/ingest';
import { CommandWorker, LatticeWork, Leases, Owners, PlanPreviewer, ReconcileSignaler, Reconciler, ensureCommandResources, ensureReconcileStream, ensureWorkConsumer, referencedConfigs, type Command, type DeployedApp } from '@wadm-ts/reconcile';
import type { DestinationStream } from 'pino';
import { startAdmin, type AdminHandle } from './admin-http.js';
import type { ReplicaConfig } from './config.js';
import type { HostEntity } from '@wadm-ts/entities';

export interface Replica {
  readonly id: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly nc: NatsConnection;
  readonly api: ApiServer;
  readonly ingest: IngestWorker;
  readonly reaper: HostReaper;
  readonly signaler: ReconcileSignaler;
  readonly state: LatticeStateStore;
  readonly stateView: StateView;
  readonly manifestView: ManifestView;
  readonly reconciler: Reconciler;
  readonly leases: Leases;
  readonly owners: Owners;
  readonly work: LatticeWork;
  readonly commands: CommandWorker;
  readonly admin?: AdminHandle;
  ready(): boolean;
  /** Drain: stop taking work, finish what is under way, close the connection. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  logDestination?: DestinationStream;
  /** Give up connecting after this many ms (default: keep trying). */
  connectTimeoutMs?: number;
}

/** In-flight lifetimes: starts and in-place updates wait for an image fetch (`--update-timeout-ms`), the rest 5 s. */
function inflightTtl(updateTimeoutMs: number): (c: Command) => number {
  return (c) => (c.kind === 'StartProvider' || c.kind === 'UpdateComponent' ? updateTimeoutMs : 5_000);
}

async function connectWithRetry(cfg: ReplicaConfig, log: Logger, timeoutMs?: number): Promise<NatsConnection> {
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

export async function startReplica(cfg: ReplicaConfig, opts: StartOptions = {}): Promise<Replica> {
  const logger =
    opts.logger ??
    createLogger({ replica: cfg.replicaId, structured: cfg.structuredLogging, ...(opts.logDestination ? { destination: opts.logDestination } : {}) });
  const metrics = new Metrics({ defaultMetrics: true, labels: { replica: cfg.replicaId } });
  let isReady = false;
  const admin = cfg.httpAdmin ? await startAdmin(cfg.httpAdmin, metrics, () => isReady) : undefined;
  if (admin) logger.info({ url: admin.url }, 'admin endpoint listening');
  const tracing = Tracing.start({ enabled: cfg.tracing, ...(cfg.tracingEndpoint ? { endpoint: cfg.tracingEndpoint } : {}), replica: cfg.replicaId, logger });

  const nc = await connectWithRetry(cfg, logger, opts.connectTimeoutMs);
  logger.info({ server: nc.getServer() }, 'connected to NATS');
  // --- JetStream resources (wt-jsres): every startup step that talks to JetStream is retried while it
  // fails transiently (a cluster electing its meta leader, a node restarting), so replicas started with a
  // fresh cluster all come up; until then the replica is not ready (/readyz 503). After a reconnect the
  // resources are ensured again (a memory-storage server loses them on restart).
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
  // --- end JetStream resources
  const casRetries = metrics.counter('wadm_manifest_cas_retries_total', 'compare-and-set conflicts retried on the manifest bucket');
  const manifests = new ManifestStore(manifestKv, cfg.manifestBucket, () => casRetries.inc());
  const statuses = new StatusStore(ctx.js, ctx.jsm, () => streamName(ctx, STATUS_STREAM));
  const stateCas = metrics.counter('wadm_state_cas_retries_total', 'compare-and-set conflicts retried on the lattice state bucket');
  const state = new LatticeStateStore(stateKv, ctx.jsm, cfg.stateBucket, () => stateCas.inc());
  await retryTransient('ensuring the reconcile stream', () => ensureReconcileStream(ctx), retry);
  const signaler = new ReconcileSignaler(ctx.js, logger, metrics, cfg.signalIntervalMs);
  signaler.start();

  // model.plan: the reconciler's planner over this replica's view of the lattice (a one-off bounded read
  // of the lattice's state keys until the view is loaded). Set once the views exist.
  let planView: StateView | undefined;
  const previewer = new PlanPreviewer({ view: () => planView, store: state, unseenGraceMs: Math.max(10_000, 2 * cfg.ingestAckWaitMs) });
  const api = new ApiServer({
    planner: (req) => previewer.preview({ ref: req.scope, app: req.name, deployed: req.deployed, candidate: req.candidate, others: req.others, released: req.released }),
    nc,
    js: ctx.js,
    manifests,
    statuses,
    logger,
    metrics,
    prefix: cfg.apiPrefix,
    multitenant: cfg.multitenant,
    maxBodyBytes: cfg.maxRequestBytes,
    maxJobs: cfg.maxJobs,
    signal: (scope, reason) => signaler.mark(scope, reason),
    ...(tracing.enabled ? { tracing } : {}),
  });
  await api.start();

  // In-memory views, fed by one watch per bucket (initial values, then updates); ingest reads through the state view.
  const stateView = new StateView({ name: cfg.stateBucket, open: () => ensureBucket(ctx, cfg.stateBucket), jsm: ctx.jsm, logger });
  const manifestView = new ManifestView({ name: cfg.manifestBucket, open: () => ensureBucket(ctx, cfg.manifestBucket), jsm: ctx.jsm, logger });
  await retryTransient('loading the views', () => Promise.all([stateView.start(), manifestView.start()]), retry);
  state.useView(stateView);
  manifests.useView(manifestView);
  planView = stateView;

  await retryTransient('ensuring the ingest resources', () => ensureIngestResources(ctx, cfg.multitenant, { ackWaitMs: cfg.ingestAckWaitMs }), retry);
  const ingest = new IngestWorker({ ctx, store: state, signaler, logger, metrics, multitenant: cfg.multitenant, concurrency: cfg.maxJobs, ackWaitMs: cfg.ingestAckWaitMs });
  await ingest.start();
  await retryTransient('ensuring the command resources', () => ensureCommandResources(ctx), retry);
  const fenced = !cfg.unsafeDisableFencing;
  if (!fenced) logger.warn('WADM_UNSAFE_DISABLE_FENCING is set: lease epochs are not enforced (test use only)');
  // Owners and leases refer to each other through the callbacks.
  let owners: Owners | undefined;
  const leases = new Leases({
    ctx,
    logger,
    metrics,
    replicaId: cfg.replicaId,
    leaseMs: cfg.takeoverMs,
    onAcquired: (h) => owners?.acquired(h),
    onLost: (h) => owners?.lost(h),
    beforeRelease: (h) => owners?.drain(h, cfg.takeoverMs) ?? Promise.resolve(),
    ...(fenced ? {} : { unsafeDisableFencing: true }),
  });
  // An applied link/config that is not observed stays on record past the longest observation lag: an
  // ingest worker that died holding its event (redelivered after the ingest ack wait).
  const unseenGraceMs = Math.max(10_000, 2 * cfg.ingestAckWaitMs);
  const reconciler = new Reconciler({ ctx, stateKv, state: stateView, manifests: manifestView, manifestStore: manifests, leases, logger, metrics, unseenGraceMs, inflightTtlMs: inflightTtl(cfg.updateTimeoutMs), ...(tracing.enabled ? { tracing } : {}), ...(fenced ? {} : { unsafeDisableFencing: true }) });
  // Control requests to hosts (commands and queries) go out on a connection of their own (see CommandWorkerOptions.ctl).
  const ctlNc = await connectWithRetry({ ...cfg, nats: { ...cfg.nats, name: `${cfg.nats.name ?? 'wadm-ts'} control` } }, logger, opts.connectTimeoutMs);
  const querier = new LatticeQuerier({ nc: ctlNc, ctx, store: state, view: stateView, logger, metrics, pingWindowMs: cfg.hostPingWindowMs });
  const deployedApps = (ref: LatticeRef): DeployedApp[] => {
    const out: DeployedApp[] = [];
    for (const a of manifestView.apps(ref)) {
      const v = a.deployedVersion === null ? undefined : a.versions.find((x) => x.version === a.deployedVersion);
      if (v) out.push({ name: a.name, version: v.version, manifest: v.manifest });
    }
    return out;
  };
  owners = new Owners({
    ctx,
    leases,
    reconciler,
    state: stateView,
    manifests: manifestView,
    logger,
    metrics,
    maxConcurrent: cfg.maxReconciles,
    resyncMs: cfg.resyncIntervalMs,
    debounceMs: Math.min(cfg.signalIntervalMs, 100),
    gcAfterMs: cfg.latticeGcAfterS * 1000,
    fenced,
    observer: {
      cold: (ref) => !querier.queried(ref),
      // A cold start asks every host that answers a ping; a new owner every known host; a resync a share.
      query: (ref, why) => querier.query(ref, { ping: why === 'cold', allHosts: why === 'acquired', configs: referencedConfigs(deployedApps(ref)) }),
    },
  });
  const ownersRef = owners;
  const commands = new CommandWorker({
    nc,
    ctl: ctlNc,
    ...(tracing.enabled ? { tracing } : {}),
    ctx,
    logger,
    metrics,
    guards: {
      epochOf: (ref) => leases.epochOf(ref),
      caughtUp: () => leases.whenCurrent(1000),
      hostGone: (ref, hostId) => {
        const h = stateView.get<HostEntity>(stateKeys.host(ref, hostId))?.value;
        return h?.kind === 'host' && h.deleted === true;
      },
      appDeployed: async (ref, app) => {
        if (manifestView.isDeployed(ref, app)) return true;
        // Not deployed as this replica sees it: make sure the view is not just behind, then decide.
        await manifestView.mirror.sync(2000).catch(() => false);
        return manifestView.isDeployed(ref, app);
      },
      appReleased: (ref, app) => {
        const stored = manifestView.peek(ref, app)?.app;
        return stored !== undefined && releasedOf(stored) !== undefined;
      },
    },
    ...(fenced ? {} : { unsafeDisableFencing: true }),
  });
  await retryTransient('starting the command worker', () => commands.start(), retry);
  await retryTransient('starting the leases', () => leases.start(), retry);
  owners.start();
  const ensureWork = async (): Promise<void> => {
    await ensureReconcileStream(ctx);
    await ensureWorkConsumer(ctx, cfg.takeoverMs, logger);
  };
  await retryTransient('ensuring the lattice work consumer', ensureWork, retry);
  const work = new LatticeWork({ ctx, leases, owners, logger, metrics, ensure: ensureWork });
  await work.start();
  const reaper = new HostReaper({ ctx, store: state, view: stateView, lattices: () => ownersRef.owned(), signaler, logger, metrics, cleanupIntervalMs: cfg.cleanupIntervalS * 1000 });
  reaper.start();

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

  // wt-jsres: re-ensure the JetStream resources after every reconnect (memory storage loses them on restart).
  const resourceWatch = watchConnection(nc, {
    logger,
    onReconnect: (server) =>
      void retryTransient('re-ensuring JetStream resources after a reconnect', ensureAll, { ...retry, stopped: () => nc.isClosed() || stopping !== undefined, context: { server } })
        .then(() => {
          // The views rebuild from fresh initial values: a server with memory storage lost the buckets and
          // started their sequences again, which a resumed watch would not notice.
          for (const m of [stateView.mirror, manifestView.mirror, leases.mirror]) m.reopen();
        })
        .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 're-ensuring JetStream resources after a reconnect failed')),
  });

  isReady = true;
  logger.info({ prefix: cfg.apiPrefix, multitenant: cfg.multitenant }, 'replica ready');

  let stopping: Promise<void> | undefined;
  return {
    id: cfg.replicaId,
    logger,
    metrics,
    nc,
    api,
    ingest,
    reaper,
    signaler,
    state,
    stateView,
    manifestView,
    reconciler,
    leases,
    owners,
    work,
    commands,
    ...(admin ? { admin } : {}),
    ready: () => isReady && !nc.isClosed(),
    stop(): Promise<void> {
      stopping ??= (async () => {
        isReady = false;
        resourceWatch.stop();
        await work.stop();
        await owners.stop();
        await leases.stop();
        await reaper.stop();
        await commands.stop();
        if (!ctlNc.isClosed()) await ctlNc.drain();
        await ingest.stop();
        await signaler.stop();
        await Promise.all([stateView.stop(), manifestView.stop()]);
        await api.drain();
        if (!nc.isClosed()) await nc.drain();
        if (admin) await admin.close();
        await tracing.shutdown();
        logger.info('replica stopped');
      })();
      return stopping;
    },
  };
}
