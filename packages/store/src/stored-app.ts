/**
 * The per-app record of the manifest bucket, with exactly the Rust wadm's JSON layout
 * (docs/wire/api.md §4): `{"manifests": {"<version>": <Manifest>, …}, "deployed_version": "<v>" | null}`.
 * `manifests` is insertion-ordered (the last key is the latest version) — JS objects would reorder
 * integer-like keys, so the record is held as an ordered list and (de)serialised by hand.
 */
import { parse as parseYaml } from 'yaml';
import { serializeManifest, type Manifest } from '@wadm-ts/model';
import { decodeRollout, encodeRollout, previousHealthyVersion, type RolloutRecord } from '@wadm-ts/entities';

/** One decoder for every payload (a decoder per call was an allocation per event / record). */
const utf8Decoder = new TextDecoder();

export interface StoredVersion {
  version: string;
  manifest: Manifest;
}

export interface StoredApp {
  name: string;
  /** Oldest first; the last one is the latest. */
  versions: StoredVersion[];
  deployedVersion: string | null;
  /**
   * Set by a non-destructive undeploy (wadm-ts only, JSON key `non_destructive_undeploy`): the app is not
   * managed, and what it ran is left running with its annotations. Only meaningful while no version is
   * deployed: it is not written for a deployed app (a deploy clears it), see `releasedOf`.
   */
  released?: ReleasedMarker;
  /** wadm-ts's rollout history (an extra key the Rust wadm ignores and drops; see `@wadm-ts/entities` rollout-record.ts). */
  rollout?: RolloutRecord;
}

/** What a non-destructive undeploy records: the version that was deployed then. */
export interface ReleasedMarker {
  version: string;
}

/** JSON key of `StoredApp.released`; the Rust wadm ignores unknown keys of the record (and drops them when it rewrites one). */
const RELEASED_KEY = 'non_destructive_undeploy';

/** The app's non-destructive undeploy marker, if it is in force (no version deployed). */
export function releasedOf(app: StoredApp): ReleasedMarker | undefined {
  return app.deployedVersion === null ? app.released : undefined;
}

function decodeReleased(v: unknown): ReleasedMarker | undefined {
  if (v instanceof Map) v = toPlain(v);
  if (typeof v !== 'object' || v === null) return undefined;
  const version = (v as Record<string, unknown>)['version'];
  return { version: typeof version === 'string' ? version : '' };
}

function withReleased(app: StoredApp, v: unknown): StoredApp {
  const released = app.deployedVersion === null ? decodeReleased(v) : undefined;
  return released ? { ...app, released } : app;
}

/**
 * Canonical JSON of manifests already encoded, by object: a record is rewritten whole (a deploy, a
 * healthy mark) while its versions' manifests stay the same objects. Manifests are never mutated once
 * stored or decoded (the planner memoises its desired state on the same identity).
 */
const manifestJson = new WeakMap<Manifest, string>();

/** `serializeManifest(m)`, computed once per manifest object (the app record and `manifest_published` share it). */
export function encodedManifest(m: Manifest): string {
  let json = manifestJson.get(m);
  if (json === undefined) {
    json = serializeManifest(m);
    manifestJson.set(m, json);
  }
  return json;
}

export function encodeStoredApp(app: StoredApp): string {
  const entries = app.versions.map((v) => `${JSON.stringify(v.version)}:${encodedManifest(v.manifest)}`);
  const released = releasedOf(app);
  const extra = released ? `,${JSON.stringify(RELEASED_KEY)}:${JSON.stringify({ version: released.version })}` : '';
  const rollout = app.rollout ? `,"rollout":${encodeRollout(app.rollout)}` : '';
  return `{"manifests":{${entries.join(',')}},"deployed_version":${JSON.stringify(app.deployedVersion)}${extra}${rollout}}`;
}

function toPlain(v: unknown): unknown {
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of v) o[String(k)] = toPlain(val);
    return o;
  }
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

function looksLikeManifest(v: unknown): v is Manifest {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const md = o['metadata'] as Record<string, unknown> | undefined;
  const spec = o['spec'] as Record<string, unknown> | undefined;
  return typeof md?.['name'] === 'string' && Array.isArray(spec?.['components']);
}

/** A key JS objects would move to the front (an array index). */
const ARRAY_INDEX = /^(0|[1-9]\d{0,9})$/;

/** Equal JSON values, object keys in the same order (what a stored manifest's text says, exactly). */
function sameOrderedJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const y = b as unknown[];
    if (a.length !== y.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameOrderedJson(a[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !sameOrderedJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * Keep the manifest objects of `previous` (the same app's record as decoded before) for the versions whose
 * manifest is unchanged: a record rewritten for its deployed version or rollout history then holds the very
 * objects it held, so what is memoised per manifest (its encoding here, its desired state in the planner)
 * is not computed again.
 */
function keepUnchanged(app: StoredApp, previous: StoredApp | undefined): StoredApp {
  if (!previous) return app;
  const before = new Map(previous.versions.map((v) => [v.version, v.manifest]));
  for (const v of app.versions) {
    const old = before.get(v.version);
    if (old !== undefined && sameOrderedJson(v.manifest, old)) v.manifest = old;
  }
  return app;
}

/**
 * Decode a stored record (written by wadm-ts or by the Rust wadm). Throws with context when malformed.
 * `previous`: the same app's record as decoded before, whose unchanged manifests are kept (see `keepUnchanged`).
 */
export function decodeStoredApp(name: string, bytes: Uint8Array | string, previous?: StoredApp): StoredApp {
  return keepUnchanged(decodeRecord(name, bytes), previous);
}

function decodeRecord(name: string, bytes: Uint8Array | string): StoredApp {
  const text = typeof bytes === 'string' ? bytes : utf8Decoder.decode(bytes);
  // Fast path: JSON.parse keeps insertion order unless a version looks like an array index.
  let plain: unknown;
  try {
    plain = JSON.parse(text);
  } catch {
    plain = undefined;
  }
  const pm = typeof plain === 'object' && plain !== null ? (plain as Record<string, unknown>)['manifests'] : undefined;
  if (typeof pm === 'object' && pm !== null && !Array.isArray(pm) && !Object.keys(pm).some((k) => ARRAY_INDEX.test(k))) {
    const versions: StoredVersion[] = [];
    for (const [version, manifest] of Object.entries(pm as Record<string, unknown>)) {
      if (!looksLikeManifest(manifest)) throw new Error(`stored record of ${name} version ${version} is not a manifest`);
      versions.push({ version, manifest });
    }
    const dv = (plain as Record<string, unknown>)['deployed_version'];
    return withRollout(withReleased({ name, versions, deployedVersion: typeof dv === 'string' ? dv : null }, (plain as Record<string, unknown>)[RELEASED_KEY]), (plain as Record<string, unknown>)['rollout']);
  }
  // JSON is YAML; the yaml parser with mapAsMap keeps the key order of `manifests`.
  const root: unknown = parseYaml(text, { mapAsMap: true, schema: 'json', maxAliasCount: 0 });
  if (!(root instanceof Map)) throw new Error(`stored record of ${name} is not a JSON object`);
  const manifests = root.get('manifests');
  if (!(manifests instanceof Map)) throw new Error(`stored record of ${name} has no manifests map`);
  const versions: StoredVersion[] = [];
  for (const [version, m] of manifests) {
    const manifest = toPlain(m);
    if (!looksLikeManifest(manifest)) throw new Error(`stored record of ${name} version ${String(version)} is not a manifest`);
    versions.push({ version: String(version), manifest });
  }
  const dv = root.get('deployed_version');
  return withRollout(withReleased({ name, versions, deployedVersion: typeof dv === 'string' ? dv : null }, root.get(RELEASED_KEY)), toPlain(root.get('rollout')));
}

function withRollout(app: StoredApp, raw: unknown): StoredApp {
  const r = decodeRollout(raw);
  if (r) app.rollout = r;
  return app;
}

/**
 * The version `wadm app rollback` goes back to: the most recent version other than the deployed one that
 * reached `deployed` and is still stored (undefined when none is known, e.g. a record the Rust wadm wrote).
 */
export function previousVersion(app: StoredApp): string | undefined {
  return previousHealthyVersion(app.rollout, app.deployedVersion, app.versions.map((v) => v.version));
}

export function latestVersion(app: StoredApp): StoredVersion | undefined {
  return app.versions[app.versions.length - 1];
}

export function findVersion(app: StoredApp, version: string): StoredVersion | undefined {
  return app.versions.find((v) => v.version === version);
}

export function deployedManifest(app: StoredApp): StoredVersion | undefined {
  return app.deployedVersion === null ? undefined : findVersion(app, app.deployedVersion);
}
