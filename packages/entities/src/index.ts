export {
  type ComponentEntity,
  type ConfigEntity,
  type Entity,
  type FailureEntity,
  type HostEntity,
  type LatticeEntities,
  type LinkEntity,
  type ObservedLattice,
  type ProviderEntity,
  type ProviderHealth,
  type Versioned,
} from './observed.js';
export {
  type AppliedEntity,
  type InFlightEntity,
  type InFlightEntry,
  type Keyed,
} from './records.js';
export {
  decodeRollout,
  encodeRollout,
  MAX_HEALTHY_VERSIONS,
  previousHealthyVersion,
  rolloutOnDeploy,
  rolloutOnHealthy,
  rolloutWithHealthy,
  type DeployedMark,
  type RevertMark,
  type RolloutRecord,
} from './rollout-record.js';
