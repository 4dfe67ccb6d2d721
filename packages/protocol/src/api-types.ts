/** Request and reply bodies of the wadm API (docs/wire/api.md §2), as they appear on the wire. */
import type { Status } from '@wadm-ts/model';

export interface GenericErrorResponse {
  result: 'error';
  message: string;
}

export type PutResult = 'created' | 'newversion' | 'error';
export interface PutModelResponse {
  result: PutResult;
  total_versions: number;
  current_version: string;
  message: string;
  name: string;
}

export type GetResult = 'success' | 'notfound' | 'error';
export interface GetModelResponse {
  result: GetResult;
  message: string;
  manifest?: unknown;
}

export interface ModelSummary {
  name: string;
  version: string;
  description: string | null;
  deployed_version: string | null;
  detailed_status: Record<string, unknown>;
  status: string;
  status_message: string;
}

export interface ListModelsResponse {
  result: 'success' | 'error';
  message: string;
  models: ModelSummary[];
}

export interface VersionInfo {
  version: string;
  deployed: boolean;
}
export interface VersionResponse {
  result: 'success' | 'notfound' | 'error';
  message: string;
  versions: VersionInfo[];
  /** wadm-ts only, present when known: the version `wadm app rollback` deploys (the most recent other version that reached `deployed`). */
  previous_version?: string;
}

export type DeleteResult = 'deleted' | 'noop' | 'error';
export interface DeleteModelResponse {
  result: DeleteResult;
  message: string;
  undeploy: boolean;
}

export type DeployResult = 'acknowledged' | 'notfound' | 'error';
export interface DeployModelResponse {
  result: DeployResult;
  message: string;
  name: string;
  version: string | null;
}

export interface StatusResponse {
  result: 'ok' | 'notfound' | 'error';
  message: string;
  status?: Status | Record<string, unknown>;
}

/** `{"version": "..."}` request body used by get / del / deploy. */
export interface VersionRequest {
  version?: string | null;
}

export const HISTORY_UNSUPPORTED =
  'Model deployment history is not currently supported. It may be added in a future version';

// ---- model.plan (wadm-ts only, additive) ----

/** What a plan change is about. */
export type PlanChangeKind = 'component' | 'provider' | 'link' | 'config' | 'scaler';
export type PlanChangeOp = 'add' | 'remove' | 'change';

/** One changed field of a component, provider or link (`before`/`after` absent where the field is). Config values are never shown. */
export interface PlanFieldChange {
  field: string;
  before?: unknown;
  after?: unknown;
}

/**
 * One difference between the deployed version of an app and the candidate.
 * - `component` / `provider`: `id` is the manifest component name; `before`/`after` hold
 *   `{ image | application, id }` (the entity id the hosts know it by); a `change` lists `fields`
 *   among `image`, `application`, `id`, `config`, `secrets`.
 * - `link`: `id` is `{source_id} -({ns}:{pkg}/{name})-> {target}` (the host's link identity);
 *   `before`/`after` the link definition; a `change` lists `fields` among `interfaces`,
 *   `source_config`, `target_config`.
 * - `config`: a wadm-managed config (or secret reference) by name; a `change` lists the keys whose
 *   value was added, removed or changed as `fields` (values are never shown).
 * - `scaler`: `id` is `{component}/{spreadscaler|daemonscaler}/{spread}`; `before.instances` is what
 *   runs now (observed in the lattice), `after.instances` what the candidate declares (for a
 *   daemonscaler: per host × the eligible hosts now); a `change` of a kept spread's requirements lists
 *   `requirements` in `fields`. Only spreads whose count or requirements would differ appear.
 */
export interface PlanChange {
  kind: PlanChangeKind;
  op: PlanChangeOp;
  id: string;
  /** The manifest component a scaler belongs to. */
  component?: string;
  /** The spread a scaler change is about. */
  spread?: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  fields?: PlanFieldChange[];
}

/** A control command deploying the candidate would issue now (a summary: config values are left out). */
export interface PlanCommand {
  /** The planner's command kind: `ScaleComponent`, `StartProvider`, `StopProvider`, `PutLink`, `DeleteLink`, `PutConfig`, `DeleteConfig`. */
  kind: string;
  /** The control-interface request it becomes (`component.scale`, `provider.start`, `link.put`, `config.put`, …). */
  ctl: string;
  /** The host it goes to; absent for lattice-wide requests (links, configs). */
  host_id?: string;
  /** What it acts on: component/provider id, link identity or config name. */
  target: string;
  /** One line: count, image, interfaces, keys. */
  detail: string;
}

/** Reply of `model.plan.{name}`: `result` is `success` or `error` (then only `message`). */
export interface PlanModelResponse {
  result: 'success' | 'error';
  message: string;
  name: string;
  /** The candidate's version. */
  version: string;
  /** The version deployed now, or null. */
  deployed_version: string | null;
  changes: PlanChange[];
  commands: PlanCommand[];
}
