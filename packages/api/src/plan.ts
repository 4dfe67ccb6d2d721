/**
 * `model.plan.{name}` (wadm-ts only): what deploying a version would change, without deploying it.
 * The request decisions are pure; the preview itself is injected (`Planner`) so the API never imports
 * the reconciler: the replica wires in the reconciler's planner.
 */
import type { Manifest } from '@wadm-ts/model';
import type { PlanChange, PlanCommand } from '@wadm-ts/protocol';
import type { Scope } from '@wadm-ts/store';

/** One app version as the planner takes it. */
export interface PlanApp {
  name: string;
  version: string;
  manifest: Manifest;
}

export interface PlanRequest {
  scope: Scope;
  name: string;
  /** The version deployed now, or null. */
  deployed: PlanApp | null;
  candidate: PlanApp;
  /** The lattice's other deployed apps. */
  others: PlanApp[];
  /** Apps undeployed non-destructively (their resources are left alone, as a pass leaves them). */
  released: string[];
}

export interface PlanPreview {
  changes: PlanChange[];
  commands: PlanCommand[];
  /** Where the lattice state came from (`view`, or a one-off `bucket` read). */
  source?: string;
}

export type Planner = (req: PlanRequest) => Promise<PlanPreview>;

/** Keys of a `{"version": …}` request; any other top-level key makes the body a manifest. */
const VERSION_REQUEST_KEYS = new Set(['version']);

/**
 * What a plan body asks for: empty → the latest stored version; a JSON object with only `version` →
 * that stored version (empty or null: the latest); anything else is a manifest (YAML or JSON).
 */
export function planBodyKind(data: Uint8Array): { kind: 'version'; version: string | null } | { kind: 'manifest' } | { kind: 'invalid'; message: string } {
  if (data.length === 0) return { kind: 'version', version: null };
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch {
    return { kind: 'manifest' }; // YAML, or broken: the manifest parser says which
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { kind: 'manifest' };
  const o = v as Record<string, unknown>;
  if (!Object.keys(o).every((k) => VERSION_REQUEST_KEYS.has(k))) return { kind: 'manifest' };
  const version = o['version'];
  if (version === undefined || version === null || version === '') return { kind: 'version', version: null };
  if (typeof version !== 'string') return { kind: 'invalid', message: `Unable to parse plan request: invalid type for field \`version\`: expected a string, found ${JSON.stringify(version)}` };
  return { kind: 'version', version };
}
