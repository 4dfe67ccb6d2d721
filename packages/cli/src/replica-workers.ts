/**
 * A replica's workers, started in order once its stores and views are up: event ingest, the leases and
 * the owner loops of the lattices it owns (with the reconciler and the querier), the command workers, the
 * lattice work consumer and host expiry. Control requests to hosts go out on a connection of their own.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { LatticeRef } from '@wadm-ts/protocol';
import type { Logger, Metrics, Tracing } from '@wadm-ts/obs';
import { stateKeys, releasedOf, retryTransient, type ManifestView, type StateView } from '@wadm-ts/store';
import { HostReaper, IngestWorker, LatticeQuerier, ensureIngestResources } from '@wadm-ts/ingest';
import { CommandWorker, LatticeWork, Leases, Owners, Reconciler, ensureCommandResources, ensureReconcileStream, ensureWorkConsumer, referencedConfigs, type DeployedApp, type ReconcileSignaler } from '@wadm-ts/reconcile';
import type { HostEntity } from '@wadm-ts/entities';
import type { ReplicaConfig } from './config.js';
import { connectWithRetry, type ReplicaStores } from './replica-resources.js';

export interface WorkerDeps {
  cfg: ReplicaConfig;
  nc: NatsConnection;
  stores: ReplicaStores;
  stateView: StateView;
  manifestView: ManifestView;
  signaler: ReconcileSignaler;
  logger: Logger;
  metrics: Metrics;
  tracing: Tracing;
  connectTimeoutMs?: number;
}

export interface ReplicaWorkers {
  ingest: IngestWorker;
  leases: Leases;
  reconciler: Reconciler;
  owners: Owners;
  commands: CommandWorker;
  work: LatticeWork;
  reaper: HostReaper;
  /** The connection control requests to hosts (commands and queries) go out on. */
  ctlNc: NatsConnection;
}


/** The deployed version of every app of a lattice, as the manifest view holds it. */
function deployedAppsOf(manifestView: ManifestView, ref: LatticeRef): DeployedApp[] {
  const out: DeployedApp[] = [];
  for (const a of manifestView.apps(ref)) {
    const v = a.deployedVersion === null ? undefined : a.versions.find((x) => x.version === a.deployedVersion);
    if (v) out.push({ name: a.name, version: v.version, manifest: v.manifest });
  }
  return out;
}

export async function startWorkers(d: WorkerDeps): Promise<ReplicaWorkers> {
  const { cfg, nc, stateView, manifestView, signaler, logger, metrics, tracing } = d;
  const { ctx, retry, state, stateKv, manifests } = d.stores;
  await retryTransient('ensuring the ingest resources', () => ensureIngestResources(ctx, cfg.multitenant, { ackWaitMs: cfg.ingestAckWaitMs }), retry);
  // An event other than a heartbeat proves its host alive: a tenth of the cleanup interval is fresh enough
  // for expiry (and spares a state write per host per second during a burst of events).
  const touchIntervalMs = Math.max(1000, Math.floor((cfg.cleanupIntervalS * 1000) / 10));
  const ingest = new IngestWorker({ ctx, store: state, signaler, logger, metrics, multitenant: cfg.multitenant, concurrency: cfg.maxJobs, ackWaitMs: cfg.ingestAckWaitMs, touchIntervalMs });
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
  const reconciler = new Reconciler({ ctx, stateKv, state: stateView, manifests: manifestView, manifestStore: manifests, leases, logger, metrics, unseenGraceMs, updateTimeoutMs: cfg.updateTimeoutMs, ...(tracing.enabled ? { tracing } : {}), ...(fenced ? {} : { unsafeDisableFencing: true }) });
  // Control requests to hosts (commands and queries) go out on a connection of their own (see CommandWorkerOptions.ctl).
  const ctlNc = await connectWithRetry({ ...cfg, nats: { ...cfg.nats, name: `${cfg.nats.name ?? 'wadm-ts'} control` } }, logger, d.connectTimeoutMs);
  metrics.natsConnection('control', () => ctlNc.stats());
  const querier = new LatticeQuerier({ nc: ctlNc, ctx, store: state, view: stateView, logger, metrics, pingWindowMs: cfg.hostPingWindowMs });
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
      query: (ref, why) => querier.query(ref, { ping: why === 'cold', allHosts: why === 'acquired', configs: referencedConfigs(deployedAppsOf(manifestView, ref)) }),
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
      currentNow: () => leases.current(),
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
  return { ingest, leases, reconciler, owners, commands, work, reaper, ctlNc };
}
