export {
  DESCRIPTION_ANNOTATION,
  LATEST_VERSION,
  SHARED_ANNOTATION,
  VERSION_ANNOTATION,
  type Component,
  type ConfigProperty,
  type JsonValue,
  type LinkProperties,
  type Manifest,
  type Policy,
  type ScalerProperties,
  type SecretProperty,
  type SharedApplicationRef,
  type Trait,
  type TraitShape,
  type ValidationFailure,
} from './types.js';
export {
  aggregateStatus,
  defaultStatus,
  statusFromWire,
  statusToWire,
  undeployedStatus,
  waitingStatus,
  type ScalerStatus,
  type Status,
  type StatusInfo,
} from './status.js';
export { parseManifest, JSON_CONTENT_TYPE, YAML_CONTENT_TYPE, type ParseOptions, type ParseResult } from './parse.js';
export { validateManifest, hasErrors, firstError } from './validate.js';
export { isValidOamKey, isValidManifestName } from './validate-metadata.js';
export { isUnrecognizedInterface } from './validate-links.js';
export { rustDebugString, rustDebugList } from './validate-format.js';
export {
  classifyTrait,
  linkName,
  isScalerType,
  linkToJson,
  scalerToJson,
  LINK_TRAIT,
  SPREADSCALER_TRAIT,
  DAEMONSCALER_TRAIT,
  DEFAULT_LINK_NAME,
  DEFAULT_SPREAD_WEIGHT,
} from './traits.js';
export { serializeManifest, manifestToJson } from './serialize.js';
export { componentId, managedConfigName, secretConfigName, sanitizeIdPart } from './naming.js';
export { manifestSchema, MANIFEST_SCHEMA_PATH } from './schema.js';
export { newVersion } from './version.js';
export {
  rolloutPolicyOf,
  checkRolloutPolicies,
  minAvailable,
  ROLLOUT_POLICY_TYPE,
  DEFAULT_MAX_UNAVAILABLE,
  DEFAULT_HEALTHY_DEADLINE_S,
  type RolloutPolicy,
} from './rollout.js';
