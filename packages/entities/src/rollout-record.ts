/**
 * The rollout history kept beside an app record: an extra `rollout` key after `deployed_version`
 * (`{"manifests":{…},"deployed_version":"v2","rollout":{…}}`). It is additive: the Rust wadm's
 * `StoredManifest` ignores unknown keys on read and drops them on its writes, so a record the Rust wadm
 * wrote has no `rollout`, and everything reading it treats "absent" as "nothing known" (no deadline,
 * no previous version) — never as an error.
 *
 * ```json
 * "rollout": {
 *   "deployed": {"version": "v2", "at_ms": 1764590000000, "healthy_at_ms": 1764590004000},
 *   "healthy_versions": ["v0", "v1"],
 *   "reverted": {"from": "v3", "to": "v2", "at_ms": 1764590000000, "reason": "…"}
 * }
 * ```
 * - `deployed`: when the deployed version was deployed (by the API, or by a revert), and when it first
 *   reached `deployed` since then. Only meaningful while `deployed.version` is the record's
 *   `deployed_version` (a Rust wadm deploy drops the whole key; a stale entry is ignored).
 * - `healthy_versions`: versions that reached `deployed`, most recent last, each once, at most
 *   `MAX_HEALTHY_VERSIONS`.
 * - `reverted`: the last automatic revert, kept until the next deploy.
 */

export interface DeployedMark {
  version: string;
  /** When it was deployed (ms since the epoch, wall clock of the writer). */
  atMs: number;
  /** When it first reached `deployed` after `atMs`. */
  healthyAtMs?: number;
}

export interface RevertMark {
  from: string;
  to: string;
  atMs: number;
  reason: string;
}

export interface RolloutRecord {
  deployed?: DeployedMark;
  /** Oldest first; the last one reached `deployed` most recently. */
  healthyVersions: string[];
  reverted?: RevertMark;
}

export const MAX_HEALTHY_VERSIONS = 16;

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Decode the `rollout` value of a record; anything malformed is dropped (never an error: it is advisory). */
export function decodeRollout(v: unknown): RolloutRecord | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const out: RolloutRecord = { healthyVersions: [] };
  const d = o['deployed'] as Record<string, unknown> | undefined;
  if (typeof d === 'object' && d !== null && isStr(d['version']) && isMs(d['at_ms'])) {
    out.deployed = { version: d['version'], atMs: d['at_ms'] };
    if (isMs(d['healthy_at_ms'])) out.deployed.healthyAtMs = d['healthy_at_ms'];
  }
  const h = o['healthy_versions'];
  if (Array.isArray(h)) out.healthyVersions = [...new Set(h.filter(isStr))].slice(-MAX_HEALTHY_VERSIONS);
  const r = o['reverted'] as Record<string, unknown> | undefined;
  if (typeof r === 'object' && r !== null && isStr(r['from']) && isStr(r['to']) && isMs(r['at_ms'])) {
    out.reverted = { from: r['from'], to: r['to'], atMs: r['at_ms'], reason: typeof r['reason'] === 'string' ? r['reason'] : '' };
  }
  return out;
}

/** The JSON text of a `rollout` value (fixed key order). */
export function encodeRollout(r: RolloutRecord): string {
  const o: Record<string, unknown> = {};
  if (r.deployed) {
    o['deployed'] = { version: r.deployed.version, at_ms: r.deployed.atMs, ...(r.deployed.healthyAtMs !== undefined ? { healthy_at_ms: r.deployed.healthyAtMs } : {}) };
  }
  o['healthy_versions'] = r.healthyVersions;
  if (r.reverted) o['reverted'] = { from: r.reverted.from, to: r.reverted.to, at_ms: r.reverted.atMs, reason: r.reverted.reason };
  return JSON.stringify(o);
}

/** The rollout record after a user's deploy of `version` at `now`: a new deadline, the last revert forgotten. */
export function rolloutOnDeploy(r: RolloutRecord | undefined, version: string, now: number): RolloutRecord {
  return { deployed: { version, atMs: now }, healthyVersions: r?.healthyVersions ?? [] };
}

/** The rollout record once `version` (deployed) has reached `deployed` at `now`. */
export function rolloutOnHealthy(r: RolloutRecord | undefined, version: string, now: number): RolloutRecord {
  const atMs = r?.deployed?.version === version ? r.deployed.atMs : now;
  const out: RolloutRecord = {
    deployed: { version, atMs, healthyAtMs: now },
    healthyVersions: [...(r?.healthyVersions ?? []).filter((v) => v !== version), version].slice(-MAX_HEALTHY_VERSIONS),
  };
  if (r?.reverted) out.reverted = r.reverted;
  return out;
}

/**
 * The rollout record with `version` among the healthy versions, for a healthy mark that lands after the
 * record moved on (another version deployed, or none): `deployed` and `reverted` are left as they are.
 * When `deployed` is the last healthy version already, `version` goes just before it (it was healthy
 * earlier); otherwise it is the most recent.
 */
export function rolloutWithHealthy(r: RolloutRecord | undefined, version: string, deployed: string | null): RolloutRecord {
  const hv = (r?.healthyVersions ?? []).filter((v) => v !== version);
  if (deployed !== null && hv.at(-1) === deployed) hv.splice(hv.length - 1, 0, version);
  else hv.push(version);
  const out: RolloutRecord = { healthyVersions: hv.slice(-MAX_HEALTHY_VERSIONS) };
  if (r?.deployed) out.deployed = r.deployed;
  if (r?.reverted) out.reverted = r.reverted;
  return out;
}

/**
 * The version to go back to from `current`: the most recent version that reached `deployed`, other than
 * `current`, that is still stored. Undefined when none is known.
 */
export function previousHealthyVersion(r: RolloutRecord | undefined, current: string | null, stored: readonly string[]): string | undefined {
  const have = new Set(stored);
  const hv = r?.healthyVersions ?? [];
  for (let i = hv.length - 1; i >= 0; i--) {
    const v = hv[i]!;
    if (v !== current && have.has(v)) return v;
  }
  return undefined;
}
