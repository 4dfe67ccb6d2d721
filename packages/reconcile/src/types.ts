/**
 * The contract between the pure planner (desired × observed → commands + status) and the reconciler
 * runtime that feeds it and executes its commands. Plain data only.
 */
import type { Manifest, Status } from '@wadm-ts/model';
import type { LinkDef } from '@wadm-ts/protocol';
import type { ObservedLattice } from '@wadm-ts/entities';
import type { ScalerMemo } from './plan/scaler-memo.js';

/** wadm's lattice commands (docs/wire/behaviour.md §4), one control-interface call each. */
export type Command =
  | {
      kind: 'ScaleComponent';
      component_id: string;
      host_id: string;
      /** Absolute max_instances on that host; 0 stops it. */
      count: number;
      reference: string;
      model_name: string;
      /** Full annotation set to send (managed-by and appspec included). */
      annotations: Record<string, string>;
      config: string[];
    }
  | {
      kind: 'StartProvider';
      provider_id: string;
      host_id: string;
      reference: string;
      model_name: string;
      annotations: Record<string, string>;
      config: string[];
    }
  | { kind: 'StopProvider'; provider_id: string; host_id: string; model_name: string }
  | {
      /**
       * Replace a running component's image in place (`component.update`): the host fetches the new image,
       * keeps max_instances and config, and takes `annotations` for the new instance.
       */
      kind: 'UpdateComponent';
      component_id: string;
      host_id: string;
      new_component_ref: string;
      model_name: string;
      /** Full annotation set of the new instance (the host keeps none of the old ones). */
      annotations: Record<string, string>;
    }
  | ({ kind: 'PutLink'; model_name: string } & LinkDef)
  | {
      kind: 'DeleteLink';
      source_id: string;
      link_name: string;
      wit_namespace: string;
      wit_package: string;
      model_name: string;
      /**
       * The target of the link meant. Not sent: `link.del` names no target and removes the first link
       * matching the other four fields. Absent in commands recorded by older wadm-ts (any target).
       */
      target?: string;
    }
  | { kind: 'PutConfig'; config_name: string; config: Record<string, string>; model_name: string }
  | { kind: 'DeleteConfig'; config_name: string; model_name: string };

export type { ObservedLattice };

export interface DeployedApp {
  name: string;
  version: string;
  manifest: Manifest;
}

/**
 * What the reconciler last applied for an app and may have to clean up later (links and wadm-managed
 * configs carry no ownership annotations on the hosts, so they are remembered here).
 */
export interface AppliedRecord {
  app: string;
  /**
   * Link identity as the hosts have it: source_id, wit_namespace, wit_package, name, target. Records
   * written by older wadm-ts have no `target`: such an entry stands for every link with the other four
   * fields (any target), as those releases cleaned up.
   */
  links: Array<{ source_id: string; wit_namespace: string; wit_package: string; name: string; target?: string }>;
  /** wadm-managed config names (including SECRET_ ones) → hash of the values put. */
  configs: Record<string, string>;
  /**
   * Entries no longer wanted that were not observed (ms, first pass that found each missing), by
   * `link:{source}/{ns}/{pkg}/{name}/{target}` (`link:{source}/{ns}/{pkg}/{name}` for an entry without
   * target) or `config:{name}`. Observation can lag (an ingest worker died
   * holding the event): an entry is forgotten only after staying unseen for the grace period, and
   * deleted if it shows up meanwhile.
   */
  unseen?: Record<string, number>;
  /**
   * In-place updates that did not take effect before their in-flight entry expired (a host reports a failed
   * `component.update` only in its own log), by `{host_id}/{component_id}` → the image it was to run. That
   * host's instance is replaced by stop and start instead, whose failures the host does report.
   */
  stalled?: Record<string, string>;
}

/** A command issued and not yet confirmed by an observed event; not to be issued again before `expiresAt`. */
export interface InFlight {
  /** Stable identity of the command's target (see `commandKey`). */
  key: string;
  command: Command;
  issuedAt: number;
  expiresAt: number;
}

export interface PlanInput {
  lattice: string;
  /** Now, ms (server or wall time; compared with failure `at` and in-flight expiry). */
  now: number;
  /** Every deployed app of the lattice (shared ones included). */
  apps: DeployedApp[];
  /** What was applied per app (deployed or not): drives cleanup of links and managed configs. */
  applied: AppliedRecord[];
  observed: ObservedLattice;
  inflight: InFlight[];
  /** In-flight entries that expired without their effect showing (`settleInflight(...).expired`); see `AppliedRecord.stalled`. */
  expired?: readonly InFlight[];
  /**
   * Apps undeployed non-destructively (not among `apps`): nothing of theirs is stopped or deleted, their
   * applied records are kept as they are, and their instances count as theirs for a later deploy.
   */
  released?: string[];
  /** After a failure event, how long a scaler shows `failed` and issues nothing for that target (default 5000 ms). */
  backoffMs?: number;
  /** How long an applied entry no longer wanted stays on record while unseen (default 60 000 ms; see `AppliedRecord.unseen`). */
  unseenGraceMs?: number;
  /**
   * The lattice owner's cache of converged scaler evaluations, kept across its passes
   * (plan/scaler-memo.ts). It only saves work: the output is the same with or without it.
   */
  memo?: ScalerMemo;
}

export interface PlanOutput {
  /** Commands to issue now, in order (configs before what needs them; links after their configs). */
  commands: Command[];
  /** Status per deployed app. */
  statuses: Record<string, Status>;
  /** The new applied records (apps whose record became empty are omitted). */
  applied: AppliedRecord[];
  /** Corrections among the commands: what was applied before and is missing or different on the hosts. */
  drift?: Array<{ kind: 'config' | 'link'; app: string; name: string }>;
}
