/**
 * The planner's public surface (the package's `index.ts` and the tests import it from here): the pure
 * planner `planLattice` (`lattice.ts`, its phases in `lattice-put.ts` and `lattice-cleanup.ts`) and the
 * pieces it is made of.
 */
export { planLattice, earliestRequeue, DEFAULT_UNSEEN_GRACE_MS } from './lattice.js';
export { commandKey, sameCommand, sha256Hex, workloadScalerId, linkScalerId, scalerAnnotations, managedAnnotations } from './ids.js';
export {
  SPREAD_SCALER_KIND,
  DAEMON_SCALER_KIND,
  LINK_SCALER_KIND,
} from './ids.js';
export { isSatisfied, settleInflight, failureMatches, DEFAULT_BACKOFF_MS } from './inflight.js';
export { computeSpread, daemonSpreads, distribute, isEligible, type SpreadTarget } from './spread.js';
export { place, type HostSlot, type Placement, type PlacementRequest } from './place.js';
export { desiredOf, referencedConfigs, sharedComponentId, linkStatusName, type AppDesired, type ScalerSpec, type WorkloadSpec, type LinkSpec, type StatusSpec } from './desired.js';
export { configRefs, configHash, secretConfigValues, type ConfigRef } from './configs.js';
export { sameLink } from './observed.js';
export { releasedCounts, releasedMessage, releasedStatus, type ReleasedCounts } from './released.js';
export { chooseMoves, orderCandidates, rolloutMessage, type RolloutCandidate, type RolloutInput, type RolloutDecision } from './rollout.js';
export { decideRollout, withRevertNote, revertNote, type RolloutApp, type RevertDecision } from './revert.js';
export { ScalerMemo } from './scaler-memo.js';
