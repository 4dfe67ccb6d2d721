export {
  type Command,
  type DeployedApp,
} from './types.js';
export {
  referencedConfigs,
} from './plan/index.js';
export { ensureCommandResources, publishCommand } from './runtime/commands.js';
export { CommandWorker } from './runtime/command-worker.js';
export { sweepMarkers } from './runtime/gc.js';
export { StatusPublisher, SWEEPS_AT_ONCE, SWEEP_FROM_SUBJECTS } from './runtime/status-publisher.js';
export {
  leaseKey,
  type LeaseValue,
} from './runtime/lease-records.js';
export {
  Leases,
} from './runtime/leases.js';
export {
  Reconciler,
} from './runtime/reconciler.js';
export {
  Owners,
} from './runtime/owners.js';
export {
  ensureWorkConsumer,
  LatticeWork,
} from './runtime/work.js';
export {
  ensureReconcileStream,
  ReconcileSignaler,
  type ReconcileSignal,
} from './runtime/signals.js';
export { diffApp, planApp, summarizeCommand, linkLabel, type AppPlan, type AppPlanInput, type DiffContext } from './plan/diff.js';
export { PlanPreviewer, latticeReadOf, type PlanPreviewerOptions, type PreviewRequest, type LatticeRead } from './runtime/preview.js';
export { RolloutWriter, type RolloutWriterOptions } from './runtime/rollouts.js';
export { HealthyMarks, MARK_WAIT_MS, type MarkFlush } from './runtime/healthy-marks.js';
