export * from './errors.js';
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
export * from './connect.js';
export * from './streams.js';
export * from './stored-app.js';
export { decodeRollout, encodeRollout, rolloutOnDeploy, rolloutOnHealthy, previousHealthyVersion, MAX_HEALTHY_VERSIONS, type RolloutRecord, type DeployedMark, type RevertMark } from './rollout-record.js';
export * from './manifest-keys.js';
export * from './manifest-store.js';
export * from './status-store.js';
export * from './lattice-state.js';
export * from './reconcile-signals.js';
export * from './work-loop.js';
export * from './kv-mirror.js';
export * from './views.js';
export * from './retry.js';
export * from './consumer-loop.js';
