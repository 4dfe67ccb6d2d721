/**
 * The operations that store and remove manifest versions: `model.put` (docs/wire/api.md §2.1) and
 * `model.del.{name}` (§2.7). Each runs its decision (`decisions.ts`) in the store's compare-and-set loop.
 */
import { VERSION_ANNOTATION, newVersion, undeployedStatus } from '@wadm-ts/model';
import type { PutModelResponse } from '@wadm-ts/protocol';
import { decideDelete, decidePut, deleteRemovesDeployment, publishFailureReply, putSharedNote, withVersion } from '../decisions.js';
import { needsLatticeView } from '../shared-apps.js';
import { ApiError, deleteVersionField, parseRequestBody, validatedManifest } from '../request.js';
import { announce, guardDependents, type ApiRequest, type HandlerContext } from './context.js';

export async function putModel(ctx: HandlerContext, req: ApiRequest): Promise<PutModelResponse | Record<string, unknown>> {
  const { scope, log } = req;
  const { manifest: m, name, warnings } = validatedManifest(req.msg);
  const missingNote = putSharedNote(m, name, needsLatticeView(m) ? await ctx.manifests.listApps(scope) : []);
  const version = m.metadata.annotations[VERSION_ANNOTATION] ?? newVersion();
  const stored = withVersion(m, version);
  const reply = await ctx.manifests.mutate(scope, name, (cur) => decidePut(cur, name, version, stored, missingNote));
  if (reply.result === 'error') throw new ApiError(reply.message);
  log.info({ version, total: reply.total_versions }, 'manifest stored');
  return warnings.length > 0 ? { ...reply, warnings } : reply;
}

export async function deleteModel(ctx: HandlerContext, req: ApiRequest, name: string): Promise<Record<string, unknown>> {
  const { scope, log } = req;
  const version = deleteVersionField(parseRequestBody(req.msg.data, 'delete application'));
  const current = await ctx.manifests.load(scope, name);
  if (current && deleteRemovesDeployment(current.app, version)) await guardDependents(ctx, scope, current.app, 'delete');
  let removed = false;
  const reply = await ctx.manifests.mutate(scope, name, (cur) => {
    const d = decideDelete(cur, name, version);
    removed = d.kind === 'delete';
    return d;
  });
  // The app is gone: its status says so (the lattice's owner also does on its next pass; nothing
  // else would, a deleted app is no longer reconciled).
  if (removed) {
    try {
      await ctx.statuses.publishIfChanged(scope.lattice, name, undeployedStatus(), scope.account);
    } catch (err) {
      log.warn({ err }, 'publishing the undeployed status of a deleted app failed');
    }
  }
  if (reply.undeploy) {
    const failed = await announce(ctx, req, { kind: 'unpublished', name }, publishFailureReply('delete', name, version));
    if (failed) return failed;
  }
  if (reply.result === 'deleted') log.info({ version, undeploy: reply.undeploy }, 'manifest deleted');
  return { ...reply };
}
