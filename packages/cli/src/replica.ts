/**
 * One wadm-ts replica: connects to NATS, ensures the JetStream resources (`replica-resources.ts`), and runs
 * the API service and admin endpoint (here), event ingest, the lease holder and owner loops of the
 * lattices it owns, and the command workers (`replica-workers.ts`). Any number of replicas run side by side.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ApiServer } from '@wadm-ts/api';
import { createLogger, Metrics, Tracing, type Logger } from '@wadm-ts/obs';
import { LatticeStateStore, ManifestView, StateView, coalesceSocketWrites, retryTransient } from '@wadm-ts/store';
import type { HostReaper, IngestWorker } from '@wadm-ts/ingest';
import { PlanPreviewer, ReconcileSignaler, ensureReconcileStream, type CommandWorker, type LatticeWork, type Leases, type Owners, type Reconciler } from '@wadm-ts/reconcile';
import type { DestinationStream } from 'pino';
import { startAdmin, type AdminHandle } from './admin-http.js';
import type { ReplicaConfig } from './config.js';
import { connectWithRetry, openStores, startViews, watchNatsStatus, watchResources } from './replica-resources.js';
import { startWorkers } from './replica-workers.js';

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
  // The data connection carries many messages per socket read: its writes go out once per turn of the
  // event loop (not the control-request connection, see coalesceSocketWrites).
  logger.info({ server: nc.getServer(), coalescedWrites: coalesceSocketWrites(nc) }, 'connected to NATS');
  metrics.natsConnection('data', () => nc.stats());
  const stores = await openStores(cfg, nc, logger, metrics);
  const { ctx, retry, manifests, statuses, state } = stores;
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
    publisher: ctx.publisher,
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

  // In-memory views; ingest, the reconciler and the command guards read through them.
  const { stateView, manifestView } = await startViews(cfg, stores, logger);
  state.useView(stateView);
  manifests.useView(manifestView);
  planView = stateView;

  const { ingest, leases, reconciler, owners, commands, work, reaper, ctlNc } = await startWorkers({
    cfg,
    nc,
    stores,
    stateView,
    manifestView,
    signaler,
    logger,
    metrics,
    tracing,
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
  });

  watchNatsStatus(nc, metrics, logger);
  const resourceWatch = watchResources(nc, stores, [stateView.mirror, manifestView.mirror, leases.mirror], () => stopping !== undefined, logger);

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
