export {
  StorageError,
} from './errors.js';
export {
  dropMarkers,
  removeKey,
  subjectsOf,
} from './kv-remove.js';
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
  coalesceSocketWrites,
  connectionOptions,
  connectNats,
  isAuthFailure,
  natsRequestPatched,
  redactServers,
  type NatsSettings,
} from './connect.js';
export {
  jetStreamContext,
  type JetStreamContext,
  type JetStreamSettings,
} from './jetstream-context.js';
export { JsPublisher, withLeanWrites, type LeanPublishOptions } from './js-publisher.js';
export {
  ensureStream,
  streamName,
} from './ensure-stream.js';
export {
  StreamConflictError,
} from './stream-compat.js';
export {
  ensureApiStreams,
} from './api-streams.js';
export {
  ensureBucket,
} from './buckets.js';
export {
  workQueueConsumerConflict,
} from './work-queue-conflict.js';
export {
  deployedManifest,
  findVersion,
  latestVersion,
  previousVersion,
  releasedOf,
  type StoredApp,
  encodedManifest,
} from './stored-app.js';
export {
  ManifestKeyCollisionError,
  scopeKey,
} from './manifest-keys.js';
export {
  ManifestStore,
  type Decision,
} from './manifest-store.js';
export {
  type LoadedApp,
} from './manifest-slot.js';
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
  isKvPut,
} from './kv-mirror.js';
export {
  ManifestView,
} from './manifest-view.js';
export {
  StateView,
} from './state-view.js';
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
