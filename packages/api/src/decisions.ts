/**
 * The API's decisions as pure functions over plain data: given the request and the stored record (and,
 * where needed, the other apps of the lattice) they say what to write and what to reply. No I/O here;
 * the handlers (`handlers/*.ts`) run them inside compare-and-set loops.
 */
import { DESCRIPTION_ANNOTATION, LATEST_VERSION, defaultStatus, manifestToJson, statusToWire, waitingStatus, type Manifest, type Status } from '@wadm-ts/model';
import type {
  DeleteModelResponse,
  DeployModelResponse,
  GetModelResponse,
  ListModelsResponse,
  ModelSummary,
  PutModelResponse,
  StatusResponse,
  VersionResponse,
} from '@wadm-ts/protocol';
import { deployedManifest, findVersion, latestVersion, previousVersion, releasedOf, type Decision, type StoredApp } from '@wadm-ts/store';
import { errorBody } from './request.js';
import { debugList, missingSharedComponents, needsLatticeView, sharedDependents } from './shared-apps.js';
import { rolloutOnDeploy } from '@wadm-ts/entities';

// ---------- put ----------

export function decidePut(
  current: StoredApp | null,
  name: string,
  version: string,
  manifest: Manifest,
  missingShared: string,
): Decision<PutModelResponse> {
  const base = { name, total_versions: 0, current_version: '' };
  if (current && findVersion(current, version)) {
    return { kind: 'keep', result: { ...base, result: 'error', message: `Manifest version ${version} already exists` } };
  }
  const previous = current ? (latestVersion(current)?.version ?? '') : '';
  const versions = [...(current?.versions ?? []), { version, manifest }];
  const app: StoredApp = { ...current, name, versions, deployedVersion: current?.deployedVersion ?? null };
  return {
    kind: 'write',
    app,
    result: {
      result: versions.length === 1 ? 'created' : 'newversion',
      total_versions: versions.length,
      current_version: version,
      message: `Successfully put manifest ${name} ${previous}${missingShared}`,
      name,
    },
  };
}

/** The manifest as stored: the version annotation set (appended when it was absent). */
export function withVersion(m: Manifest, version: string): Manifest {
  if (m.metadata.annotations['version'] === version) return m;
  return { ...m, metadata: { ...m.metadata, annotations: { ...m.metadata.annotations, version } } };
}

/** What a put's reply adds when components of `m` reference shared apps not deployed among `apps` (the lattice's). */
export function putSharedNote(m: Manifest, name: string, apps: readonly StoredApp[]): string {
  const missing = missingSharedComponents(
    m,
    apps.filter((o) => o.name !== name),
  );
  return missing.length > 0 ? `, but some shared components are not deployed: ${debugList(missing)}` : '';
}

// ---------- get / status ----------

/** `model.get.{name}` (docs/wire/api.md §2.2): the latest version (`version` null) or the one asked for. */
export function getReply(app: StoredApp | null, name: string, version: string | null): GetModelResponse {
  const notFound: GetModelResponse = { result: 'notfound', message: `Application with the name ${name} not found` };
  if (!app) return notFound;
  if (version === null) {
    const latest = latestVersion(app);
    if (!latest) return notFound;
    return { result: 'success', message: `Successfully fetched application ${name}`, manifest: manifestToJson(latest.manifest) };
  }
  const v = findVersion(app, version);
  if (!v) return { result: 'notfound', message: `Application ${name} with version ${version} doesn't exist` };
  return { result: 'success', message: `Successfully fetched application ${name} ${version}`, manifest: manifestToJson(v.manifest) };
}

/** `model.status.{name}` (docs/wire/api.md §2.10): the last published status, or the default one. */
export function statusReply(name: string, status: Status | undefined): StatusResponse {
  return { result: 'ok', message: `Successfully fetched status for application ${name}`, status: statusToWire(status ?? defaultStatus()) };
}

// ---------- deploy / undeploy ----------

/** The version a deploy or plan of `requested` stages: the latest for none or `latest`. */
export function stagedVersion(app: StoredApp, requested: string | null): StoredApp['versions'][number] | undefined {
  return requested === null || requested === LATEST_VERSION ? latestVersion(app) : findVersion(app, requested);
}

/** One deploy attempt: the lattice's other apps are needed first, or the reply (and what it deploys). */
export type DeployOutcome = { needOthers: true } | { needOthers: false; reply: DeployModelResponse | Record<string, unknown>; deployed?: Manifest };

/**
 * `model.deploy.{name}` (docs/wire/api.md §2.8) on the record `cur` at `now`. `others` (the lattice's apps)
 * stays undefined until the version to deploy needs them (`needsLatticeView`): the outcome then asks.
 */
export function decideDeploy(cur: StoredApp | null, name: string, requested: string | null, others: readonly StoredApp[] | undefined, now: number): Decision<DeployOutcome> {
  if (!cur) {
    return { kind: 'keep', result: { needOthers: false, reply: { result: 'notfound', message: `Application with the name ${name} not found`, name, version: requested } } };
  }
  const staged = stagedVersion(cur, requested);
  if (staged && others === undefined && needsLatticeView(staged.manifest)) return { kind: 'keep', result: { needOthers: true } };
  const check = checkDeploy(cur, requested, others ?? []);
  if (!check.ok) return { kind: 'keep', result: { needOthers: false, reply: check.generic ? errorBody(check.reply.message) : check.reply } };
  const deployed = findVersion(cur, check.version)?.manifest;
  const reply: DeployModelResponse = { result: 'acknowledged', message: `Successfully deployed application ${name} ${check.version}`, name, version: check.version };
  const result: DeployOutcome = deployed ? { needOthers: false, reply, deployed } : { needOthers: false, reply };
  const next = deployRecord(cur, check.version, now);
  return next ? { kind: 'write', app: next, result } : { kind: 'keep', result };
}

/**
 * The record after deploying `version` at `now` (undefined: nothing to write). A deploy starts the
 * version's healthy deadline and ends what a previous automatic revert left on display; deploying the
 * version already deployed only clears the revert note.
 */
export function deployRecord(cur: StoredApp, version: string, now: number): StoredApp | undefined {
  if (cur.deployedVersion === version) {
    if (!cur.rollout?.reverted) return undefined;
    const { reverted: _gone, ...rest } = cur.rollout;
    return { ...cur, rollout: rest };
  }
  return { ...cur, deployedVersion: version, rollout: rolloutOnDeploy(cur.rollout, version, now) };
}

export type DeployCheck = { ok: true; version: string } | { ok: false; reply: DeployModelResponse; generic?: boolean };

/** Deploy-time checks of docs/wire/api.md §2.8 steps 3–5, given the record and the lattice's other apps. */
export function checkDeploy(app: StoredApp, requested: string | null, others: readonly StoredApp[]): DeployCheck {
  const staged = stagedVersion(app, requested);
  if (!staged) {
    return {
      ok: false,
      reply: {
        result: 'error',
        message: `Application with the name '${app.name}' does not have a version '${requested ?? LATEST_VERSION}' to deploy`,
        name: app.name,
        version: requested,
      },
    };
  }
  const taken = new Map<string, string>();
  for (const other of others) {
    if (other.name === app.name) continue;
    for (const c of deployedManifest(other)?.manifest.spec.components ?? []) {
      if (c.properties.id !== undefined) taken.set(c.properties.id, other.name);
    }
  }
  for (const c of staged.manifest.spec.components) {
    const id = c.properties.id;
    const owner = id === undefined ? undefined : taken.get(id);
    if (owner !== undefined) {
      return {
        ok: false,
        generic: true,
        reply: { result: 'error', message: `Component identifier '${id}' is already deployed in a different application '${owner}'.`, name: app.name, version: requested },
      };
    }
  }
  const missing = missingSharedComponents(
    staged.manifest,
    others.filter((o) => o.name !== app.name),
  );
  if (missing.length > 0) {
    return {
      ok: false,
      generic: true,
      reply: {
        result: 'error',
        message: `Application contains shared components that are not deployed in other applications: ${debugList(missing)}`,
        name: app.name,
        version: requested,
      },
    };
  }
  return { ok: true, version: staged.version };
}

/**
 * Undeploy (docs/wire/api.md §2.9). Non-destructive: the deployment ends but what it runs is left running,
 * marked on the record so that no owner cleans it up. A plain undeploy of an app left running that way
 * now cleans up (the marker goes); `write` then means the reconciler is to be signalled.
 */
export function decideUndeploy(cur: StoredApp | null, name: string, nonDestructive: boolean): Decision<DeployModelResponse> {
  if (!cur) return { kind: 'keep', result: { result: 'notfound', message: `Application with the name ${name} not found`, name, version: null } };
  const done = (message: string): DeployModelResponse => ({ result: 'acknowledged', message, name, version: null });
  if (cur.deployedVersion === null) {
    if (releasedOf(cur) === undefined || nonDestructive) return { kind: 'keep', result: done(`Application ${name} was already undeployed`) };
    const { released: _released, ...rest } = cur;
    return { kind: 'write', app: rest, result: done(`Successfully undeployed application ${name}; the resources it left running are now removed`) };
  }
  if (!nonDestructive) {
    const { released: _released, ...rest } = cur;
    return { kind: 'write', app: { ...rest, deployedVersion: null }, result: done(`Successfully undeployed application ${name}`) };
  }
  return {
    kind: 'write',
    app: { ...cur, deployedVersion: null, released: { version: cur.deployedVersion } },
    result: done(`Successfully undeployed application ${name} non-destructively: its instances, providers, links and configs are left running`),
  };
}

/** Why shared app `app` may not lose its deployment to `action` (`apps`: the lattice's), or undefined. */
export function dependentsBlock(action: 'undeploy' | 'delete', app: StoredApp, apps: readonly StoredApp[]): string | undefined {
  const dependents = sharedDependents(app.name, apps);
  if (dependents.length === 0) return undefined;
  return `Cannot ${action} application ${app.name}: it is a shared application used by deployed application(s) ${dependents.join(', ')}; undeploy them first`;
}

/** The reply when the write was made but its `manifest_published`/`manifest_unpublished` event was not. */
export function publishFailureReply(op: 'deploy' | 'undeploy' | 'delete', name: string, version: string | null): Record<string, unknown> {
  const retry = 'This is likely a transient error, so please retry the request';
  switch (op) {
    case 'deploy':
      return errorBody(`Error notifying processors of newly deployed manifest. ${retry}`, { name, version });
    case 'undeploy':
      return errorBody(`Error notifying processors of undeployed manifest. ${retry}`, { name, version });
    case 'delete':
      return errorBody(`Error notifying processors of newly undeployed manifest on delete. ${retry}. Please note that the response will say it is a noop, but will notify the processors`, {
        undeploy: false,
      });
  }
}

// ---------- delete ----------

/**
 * Delete one version or the whole app (docs/wire/api.md §2.7). `undeploy: true` in the reply means the
 * deployment is gone and `manifest_unpublished` is to be published. Unlike the Rust wadm, a noop never
 * publishes it (a no-op delete must not tear down a running deployment).
 */
export function decideDelete(current: StoredApp | null, name: string, version: string | null): Decision<DeleteModelResponse> {
  if (!current) {
    return { kind: 'keep', result: { result: 'noop', message: `Application ${name} doesn't exist or was already deleted`, undeploy: false } };
  }
  if (version === null) {
    return { kind: 'delete', result: { result: 'deleted', message: `Successfully deleted application ${name}`, undeploy: true } };
  }
  if (!findVersion(current, version)) {
    return { kind: 'keep', result: { result: 'noop', message: `Application version ${version} doesn't exist`, undeploy: false } };
  }
  const remaining = current.versions.filter((v) => v.version !== version);
  if (remaining.length === 0) {
    return { kind: 'delete', result: { result: 'deleted', message: `Successfully deleted last version of application ${name}`, undeploy: true } };
  }
  const wasDeployed = current.deployedVersion === version;
  return {
    kind: 'write',
    app: { ...current, versions: remaining, deployedVersion: wasDeployed ? null : current.deployedVersion },
    result: { result: 'deleted', message: `Successfully deleted version ${version} of application ${name}`, undeploy: wasDeployed },
  };
}

/** Whether the delete would remove the deployment (for the shared-dependents guard). */
export function deleteRemovesDeployment(current: StoredApp, version: string | null): boolean {
  if (current.deployedVersion === null) return false;
  return version === null || version === current.deployedVersion;
}

// ---------- versions / list ----------

export function versionsReply(app: StoredApp | null, name: string): VersionResponse {
  if (!app) return { result: 'notfound', message: `Application with the name ${name} not found`, versions: [] };
  const reply: VersionResponse = {
    result: 'success',
    message: `Successfully fetched versions for application ${name}`,
    versions: app.versions.map((v) => ({ version: v.version, deployed: v.version === app.deployedVersion })),
  };
  // wadm-ts only, and only when known (the reply is otherwise the Rust wadm's): what `wadm app rollback` deploys.
  const previous = previousVersion(app);
  if (previous !== undefined) reply.previous_version = previous;
  return reply;
}

export function listReply(models: ModelSummary[]): ListModelsResponse {
  return { result: 'success', message: 'Successfully fetched list of applications', models };
}

export function summarize(app: StoredApp, status: Status | undefined): ModelSummary {
  const latest = latestVersion(app);
  const detailed = status ?? waitingStatus();
  const type = detailed.status.type === 'waiting' ? 'undeployed' : detailed.status.type;
  return {
    name: app.name,
    version: latest?.version ?? '',
    description: latest?.manifest.metadata.annotations[DESCRIPTION_ANNOTATION] ?? null,
    deployed_version: app.deployedVersion,
    detailed_status: statusToWire(detailed),
    status: type,
    status_message: detailed.status.message ?? '',
  };
}
