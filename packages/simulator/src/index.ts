export {
  SimulatedLattice,
  type SimulatedLatticeOptions,
  type AddHostOptions,
  type SimulatedHostInfo,
} from './lattice.js';
export type { LatticeSnapshot, SnapshotHost, SnapshotComponent, SnapshotProvider } from './snapshot.js';
export {
  startSimulator,
  parseSimulatorConfig,
  loadSimulatorConfig,
  validateSimulatorConfig,
  SimulatorConfigError,
  type SimulatorConfig,
  type SimulatorHostGroup,
  type StartSimulatorOptions,
} from './config.js';
export { COMMAND_KINDS, type CommandKind, type CommandCounts, type EmittedEvent, type EventDropRule } from './faults.js';
export type { LatticeEventType } from './events.js';
export type { Link } from './wire.js';
export { generatePublicKey, isPublicKey, generateFriendlyName, uptimeHuman } from './ids.js';
