/**
 * The operations that only read: `model.get[.{name}]`, `model.list`, `model.versions.{name}` and
 * `model.status.{name}` (docs/wire/api.md §2.2–2.6, §2.10).
 */
import type { GetModelResponse, ListModelsResponse, ModelSummary, StatusResponse, VersionResponse } from '@wadm-ts/protocol';
import type { LatticeRef } from '@wadm-ts/protocol';
import { getReply, listReply, statusReply, summarize, versionsReply } from '../decisions.js';
import { parseRequestBody, versionField } from '../request.js';
import type { ApiRequest, HandlerContext } from './context.js';

export async function getModel(ctx: HandlerContext, req: ApiRequest, name: string): Promise<GetModelResponse> {
  const version = versionField(parseRequestBody(req.msg.data, 'get application'), 'get application');
  const loaded = await ctx.manifests.load(req.scope, name);
  return getReply(loaded?.app ?? null, name, version);
}

/** The summaries of every app of the lattice (`model.list` answers them as a bare array). */
export async function summaries(ctx: HandlerContext, scope: LatticeRef): Promise<ModelSummary[]> {
  const apps = await ctx.manifests.listApps(scope);
  const statuses = await Promise.all(apps.map((a) => ctx.statuses.latest(scope.lattice, a.name, scope.account)));
  return apps.map((a, i) => summarize(a, statuses[i]));
}

export async function listModels(ctx: HandlerContext, scope: LatticeRef): Promise<ListModelsResponse> {
  return listReply(await summaries(ctx, scope));
}

export async function modelVersions(ctx: HandlerContext, scope: LatticeRef, name: string): Promise<VersionResponse> {
  return versionsReply((await ctx.manifests.load(scope, name))?.app ?? null, name);
}

export async function modelStatus(ctx: HandlerContext, scope: LatticeRef, name: string): Promise<StatusResponse> {
  return statusReply(name, await ctx.statuses.latest(scope.lattice, name, scope.account));
}
