/**
 * `model.plan.{name}` (wadm-ts only): what deploying a version would change, without deploying it.
 * The plan's decisions are pure and live here beside its types (the other operations' are in
 * `decisions.ts`); the preview itself is injected (`Planner`) so the API never imports the reconciler:
 * the replica wires in the reconciler's planner. The handler is `handlers/plan.ts`.
 */
import { VERSION_ANNOTATION, type Manifest } from '@wadm-ts/model';
import type { PlanChange, PlanCommand, PlanModelResponse } from '@wadm-ts/protocol';
import type { LatticeRef } from '@wadm-ts/protocol';
import { deployedManifest, releasedOf, type StoredApp } from '@wadm-ts/store';
import { stagedVersion, withVersion } from './decisions.js';

/** One app version as the planner takes it. */
export interface PlanApp {
  name: string;
  version: string;
  manifest: Manifest;
}

export interface PlanRequest {
  scope: LatticeRef;
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


type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** The candidate of `model.plan.{name}` given as a manifest (validated like `model.put`, stored nowhere). */
export function planCandidateOfManifest(name: string, manifestName: string, manifest: Manifest): Checked<PlanApp> {
  if (manifestName !== name) return { ok: false, message: `Manifest name ${manifestName} does not match the application ${name} of the plan subject` };
  const version = manifest.metadata.annotations[VERSION_ANNOTATION] ?? '';
  return { ok: true, value: { name, version, manifest: version === '' ? manifest : withVersion(manifest, version) } };
}

/** The candidate of `model.plan.{name}` given as a stored version (null: the latest). */
export function planCandidateOfVersion(app: StoredApp | null, name: string, version: string | null): Checked<PlanApp> {
  if (!app) return { ok: false, message: `Application with the name ${name} not found` };
  const v = stagedVersion(app, version);
  if (!v) return { ok: false, message: version === null ? `Application with the name ${name} not found` : `Application ${name} with version ${version} doesn't exist` };
  return { ok: true, value: { name, version: v.version, manifest: v.manifest } };
}

/** What a plan compares against: the app's deployed version, the other deployed apps, the apps released by a non-destructive undeploy. */
export function planLattice(name: string, app: StoredApp | null, apps: readonly StoredApp[]): { deployed: PlanApp | null; others: PlanApp[]; released: string[] } {
  const asPlanApp = (a: StoredApp): PlanApp | null => {
    const v = deployedManifest(a);
    return v ? { name: a.name, version: v.version, manifest: v.manifest } : null;
  };
  const others: PlanApp[] = [];
  const released: string[] = [];
  for (const a of apps) {
    if (a.name === name) continue;
    if (releasedOf(a) !== undefined) released.push(a.name);
    const v = asPlanApp(a);
    if (v) others.push(v);
  }
  return { deployed: app ? asPlanApp(app) : null, others, released };
}

export function planReply(name: string, candidate: PlanApp, deployedVersion: string | null, preview: PlanPreview): PlanModelResponse {
  const nothing = preview.changes.length === 0 && preview.commands.length === 0;
  return {
    result: 'success',
    message: nothing
      ? `Deploying application ${name} ${candidate.version} would change nothing`
      : `Deploying application ${name} ${candidate.version} would make ${preview.changes.length} change(s) and issue ${preview.commands.length} command(s)`,
    name,
    version: candidate.version,
    deployed_version: deployedVersion,
    changes: preview.changes,
    commands: preview.commands,
  };
}
