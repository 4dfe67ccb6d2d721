/** What evaluating one scaler against the observed lattice yields, before in-flight and backoff filtering. */
import type { StatusInfo } from '@wadm-ts/model';
import type { Command } from '../types.js';
import type { ScalerKind } from './ids.js';
import type { Instance } from './observed.js';

export interface ScalerEval {
  id: string;
  kind: ScalerKind;
  name: string;
  app: string;
  /** Commands the scaler wants issued (before in-flight suppression and backoff). */
  commands: Command[];
  /** Reasons the scaler cannot reach its goal (⇒ failed). */
  failures: string[];
  /** Reasons it is not there yet without a command of its own (⇒ reconciling). */
  waiting: string[];
  /** Owned providers reported unhealthy. */
  unhealthy: number;
  /** Status message while `n` of its commands are pending. */
  busy: (n: number) => string;
  /** The previous version's instances this scaler is replacing (rollout): cleanup leaves them to it. */
  held?: readonly Instance[];
  /** A fixed status (status-only scalers). */
  fixed?: StatusInfo;
}
