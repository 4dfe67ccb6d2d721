/**
 * The operations that change what is deployed: `model.deploy.{name}` (docs/wire/api.md §2.8) and
 * `model.undeploy.{name}` (§2.9). A change that is written is announced (`announce`): the lattice is
 * signalled and `manifest_published` / `manifest_unpublished` published.
 */
import type { DeployModelResponse } from '@wadm-ts/protocol';
import type { StoredApp } from '@wadm-ts/store';
import { decideDeploy, decideUndeploy, publishFailureReply, type DeployOutcome } from '../decisions.js';
import { nonDestructiveField, parseRequestBody, versionField } from '../request.js';
import { announce, guardDependents, type ApiRequest, type HandlerContext } from './context.js';

export async function deployModel(ctx: HandlerContext, req: ApiRequest, name: string): Promise<DeployModelResponse | Record<string, unknown>> {
  const { scope, log } = req;
  const requested = versionField(parseRequestBody(req.msg.data, 'deploy application'), 'deploy application');
  // The other apps are read only when the version being deployed has explicit ids or shared references.
  const attempt = (others: readonly StoredApp[] | undefined): Promise<DeployOutcome> =>
    ctx.manifests.mutate(scope, name, (cur) => decideDeploy(cur, name, requested, others, Date.now()));
  let outcome = await attempt(undefined);
  if (outcome.needOthers) outcome = await attempt(await ctx.manifests.listApps(scope));
  // Given the other apps, a deploy never asks for them again.
  if (outcome.needOthers) throw new Error('deploy asked for the lattice view twice');
  const { reply, deployed } = outcome;
  if (reply['result'] !== 'acknowledged' || !deployed) return reply;
  const version = (reply as DeployModelResponse).version;
  const failed = await announce(ctx, req, { kind: 'published', manifest: deployed }, publishFailureReply('deploy', name, version));
  if (failed) return failed;
  log.info({ version }, 'manifest deployed');
  return reply;
}

export async function undeployModel(ctx: HandlerContext, req: ApiRequest, name: string): Promise<DeployModelResponse | Record<string, unknown>> {
  const { scope, log } = req;
  const nonDestructive = nonDestructiveField(parseRequestBody(req.msg.data, 'undeploy application'));
  const current = await ctx.manifests.load(scope, name);
  if (current?.app.deployedVersion) await guardDependents(ctx, scope, current.app, 'undeploy');
  const reply = await ctx.manifests.mutate<DeployModelResponse>(scope, name, (cur) => decideUndeploy(cur, name, nonDestructive));
  if (reply.result !== 'acknowledged') return reply;
  const failed = await announce(ctx, req, { kind: 'unpublished', name }, publishFailureReply('undeploy', name, null));
  if (failed) return failed;
  log.info({ nonDestructive }, 'manifest undeployed');
  return reply;
}
