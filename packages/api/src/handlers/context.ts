/**
 * What every handler gets: the stores and hooks of the replica (`HandlerContext`) and the request as
 * routed (`ApiRequest`), plus the steps several operations share: the shared-dependents guard and the
 * announcement of a deployment change (signal + `wadm.evt` CloudEvent, docs/wire/api.md §5.1).
 */
import type { Manifest } from '@wadm-ts/model';
import { MANIFEST_PUBLISHED, MANIFEST_UNPUBLISHED, cloudEvent, cloudEventJson, wadmEventSubject } from '@wadm-ts/protocol';
import type { LatticeRef } from '@wadm-ts/protocol';
import { encodedManifest, type JsPublisher, type ManifestStore, type StatusStore, type StoredApp } from '@wadm-ts/store';
import type { Logger } from '@wadm-ts/obs';
import { dependentsBlock } from '../decisions.js';
import { ApiError, type RequestBody } from '../request.js';
import { isShared } from '../shared-apps.js';
import type { Planner } from '../plan.js';

export interface HandlerContext {
  /** The replica's JetStream publisher (events are published with their acknowledgements on one subscription). */
  publisher: JsPublisher;
  manifests: ManifestStore;
  statuses: StatusStore;
  /** Ask for the lattice to be reconciled (deploy, undeploy, delete of a deployed version). */
  signal?: ((scope: LatticeRef, reason: string) => void) | undefined;
  planner?: Planner | undefined;
}

/** A routed request: its body, its lattice (and account), and a logger bound to both. */
export interface ApiRequest {
  msg: RequestBody;
  scope: LatticeRef;
  log: Logger;
}

/** Any JSON reply body: a response object or the bare array of `model.list`. */
export type Reply = object;

/** Shared apps in use may not lose their deployment (the lattice's apps are read only for shared ones). */
export async function guardDependents(ctx: HandlerContext, scope: LatticeRef, app: StoredApp, action: 'undeploy' | 'delete'): Promise<void> {
  if (!isShared(app)) return;
  const blocked = dependentsBlock(action, app, await ctx.manifests.listApps(scope));
  if (blocked !== undefined) throw new ApiError(blocked);
}

/** A deployment change to announce: a manifest now deployed, or an app no longer deployed. */
export type DeploymentChange = { kind: 'published'; manifest: Manifest } | { kind: 'unpublished'; name: string };

/**
 * Signal the lattice and publish the change's CloudEvent. The write is already made; if the event
 * cannot be published, the error is logged and `failure` is what to answer (otherwise undefined).
 */
export async function announce(ctx: HandlerContext, req: ApiRequest, change: DeploymentChange, failure: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const published = change.kind === 'published';
  const kind = published ? 'manifest_published' : 'manifest_unpublished';
  ctx.signal?.(req.scope, published ? 'deploy' : 'undeploy');
  try {
    // The deployed manifest's canonical JSON is the one its app record was just written with.
    const body = published ? cloudEventJson('wadm', MANIFEST_PUBLISHED, encodedManifest(change.manifest)) : JSON.stringify(cloudEvent('wadm', MANIFEST_UNPUBLISHED, { name: change.name }));
    await ctx.publisher.publish(wadmEventSubject(req.scope.lattice, kind), body);
    return undefined;
  } catch (err) {
    req.log.error({ err }, `publishing ${kind} failed`);
    return failure;
  }
}
