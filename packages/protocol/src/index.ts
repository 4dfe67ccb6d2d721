export {
  API_QUEUE_GROUP,
  apiSubject,
  apiSubscription,
  DEFAULT_API_PREFIX,
  normalizeApiPrefix,
  parseApiSubject,
  type ApiOperation,
  type ParsedApiSubject,
} from './api-subject.js';
export {
  HISTORY_UNSUPPORTED,
  type DeleteModelResponse,
  type DeployModelResponse,
  type GetModelResponse,
  type ListModelsResponse,
  type ModelSummary,
  type PlanChange,
  type PlanCommand,
  type PlanFieldChange,
  type PlanModelResponse,
  type PutModelResponse,
  type StatusResponse,
  type VersionRequest,
  type VersionResponse,
} from './api-types.js';
export {
  cloudEvent,
  cloudEventJson,
  decodeCloudEvent,
  type RolloutRevertedData,
} from './cloudevents.js';
export {
  decodeLatticeEvent,
  sameLinkDef,
  type LatticeEvent,
  type LinkDef,
} from './lattice-events.js';
export {
  configDigest,
  decodeConfigValues,
  decodeCtlReply,
  decodeLinkList,
  inventoryAsHeartbeat,
  updateComponentBody,
  type CtlReply,
} from './ctl.js';

// Wire names: every subject, stream, consumer, bucket and annotation key, and the naming rules (names/).
export {
  accountPrefix,
  fromKeyToken,
  keyToken,
  refOfTokens,
  refTokens,
  type LatticeRef,
} from './names/tokens.js';
export {
  isSafeToken,
  isValidName,
} from './names/rules.js';
export {
  appOfStatusSubject,
  COMMAND_SUBJECTS,
  commandSubject,
  ctlSubject,
  DEAD_LETTER_SUBJECTS,
  hostEventSubject,
  hostEventSubjects,
  ingestDeadLetterSubject,
  parseEventSubject,
  parseReconcileSubject,
  RECONCILE_SUBJECTS,
  reconcileSubject,
  STATUS_SUBJECTS,
  statusSubject,
  TENANT_STATUS_SUBJECTS,
  WADM_EVENT_SUBJECTS,
  wadmEventSubject,
  type WadmEventKind,
} from './names/subjects.js';
export {
  APPLICATION_STATUS,
  MANIFEST_PUBLISHED,
  MANIFEST_UNPUBLISHED,
  ROLLOUT_REVERTED,
} from './names/event-types.js';
export {
  bucketKeySubject,
  bucketStream,
  COMMAND_CONSUMER,
  COMMAND_STREAM,
  COMMAND_STREAM_BESIDE,
  DEAD_LETTER_STREAM,
  DEFAULT_MANIFEST_BUCKET,
  DEFAULT_STATE_BUCKET,
  HOST_EVENTS_STREAM,
  HOST_EVENTS_STREAM_BESIDE,
  INGEST_CONSUMER,
  LEASE_BUCKET,
  LEGACY_WORK_CONSUMER_PREFIX,
  RECONCILE_STREAM,
  STATUS_STREAM,
  STATUS_STREAM_BESIDE,
  TENANT_STATUS_STREAM,
  WADM_EVENTS_STREAM,
  WADM_EVENTS_STREAM_BESIDE,
  WORK_CONSUMER,
} from './names/resources.js';
export {
  APPSPEC_KEY,
  MANAGED_BY_KEY,
  MANAGED_BY_VALUE,
  SCALER_KEY,
  SPREAD_KEY,
} from './names/annotations.js';
