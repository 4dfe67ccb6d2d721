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
  StreamConflictError,
  streamName,
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
} from './manifest-keys.js';
export {
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
  type StoredValue,
} from './lattice-state.js';
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
