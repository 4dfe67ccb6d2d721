/** Request and reply bodies of the wadm API (wadm-api.md §2), as they appear on the wire. */
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
