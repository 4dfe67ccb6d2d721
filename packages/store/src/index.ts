export {
  StorageError,
} from './errors.js';
export {
  JsErrCode,
  jetStreamErrCode,
  errorCauses,
  isCasConflict,
  isConsumerExists,
  isNoMessage,
  isStreamNotFound,
  isStreamNameExists,
  isSubjectsOverlap,
  isWorkQueueConsumerConflict,
} from './js-errors.js';
export {
  connectionOptions,
  connectNats,
  isAuthFailure,
  natsRequestPatched,
  redactServers,
  type NatsSettings,
} from './connect.js';
export {
  ensureApiStreams,
  ensureBucket,
  ensureStream,
  jetStreamContext,
  STATUS_STREAM,
  StreamConflictError,
  streamName,
  TENANT_STATUS_STREAM,
  workQueueConsumerConflict,
  type JetStreamContext,
  type JetStreamSettings,
} from './streams.js';
export {
  deployedManifest,
  findVersion,
  latestVersion,
  previousVersion,
  releasedOf,
  type StoredApp,
} from './stored-app.js';
export {
  ManifestKeyCollisionError,
  scopeKey,
  type Scope,
} from './manifest-keys.js';
export {
  DEFAULT_MANIFEST_BUCKET,
  ManifestStore,
  type Decision,
  type LoadedApp,
} from './manifest-store.js';
export {
  StatusStore,
} from './status-store.js';
export {
  latticePrefix,
  LatticeStateStore,
  readLatticeSnapshot,
  semanticallyChanged,
  stateKeys,
  type KeyDecision,
  type LatticeMeta,
  type LatticeRef,
  type StoredValue,
} from './lattice-state.js';
export {
  ensureReconcileStream,
  RECONCILE_STREAM,
  ReconcileSignaler,
  reconcileSubject,
} from './reconcile-signals.js';
export {
  KvMirror,
} from './kv-mirror.js';
export {
  ManifestView,
  StateView,
} from './views.js';
export {
  isMissingResource,
  isTransientJetStreamError,
  JetStreamOperationError,
  RetryAbortedError,
  retryTransient,
  type RetryOptions,
} from './retry.js';
export {
  ConsumerLoop,
  watchConnection,
} from './consumer-loop.js';
