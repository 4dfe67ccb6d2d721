/**
 * `model.plan.{name}` (wadm-ts only): the changes and commands of deploying a stored version (body
 * `{"version"}`, empty: the latest) or a manifest (validated like `model.put`, stored nowhere). Writes
 * nothing; the decisions are in `../plan.ts`, the preview is the injected `Planner`.
 */
import type { PlanModelResponse } from '@wadm-ts/protocol';
import { planBodyKind, planCandidateOfManifest, planCandidateOfVersion, planLattice, planReply, type PlanApp, type PlanPreview } from '../plan.js';
import { ApiError, validatedManifest } from '../request.js';
import type { ApiRequest, HandlerContext } from './context.js';

export async function planModel(ctx: HandlerContext, req: ApiRequest, name: string): Promise<PlanModelResponse> {
  const { scope, log } = req;
  if (!ctx.planner) throw new ApiError('Planning is not available on this wadm replica');
  const body = planBodyKind(req.msg.data);
  if (body.kind === 'invalid') throw new ApiError(body.message);
  const app = (await ctx.manifests.load(scope, name))?.app ?? null;
  let picked: ReturnType<typeof planCandidateOfVersion>;
  if (body.kind === 'manifest') {
    const { manifest, name: manifestName } = validatedManifest(req.msg);
    picked = planCandidateOfManifest(name, manifestName, manifest);
  } else {
    picked = planCandidateOfVersion(app, name, body.version);
  }
  if (!picked.ok) throw new ApiError(picked.message);
  const candidate: PlanApp = picked.value;
  const { deployed, others, released } = planLattice(name, app, await ctx.manifests.listApps(scope));
  const deployedVersion = app?.deployedVersion ?? null;
  let preview: PlanPreview;
  try {
    preview = await ctx.planner({ scope, name, deployed, candidate, others, released });
  } catch (err) {
    log.error({ err, version: candidate.version }, 'planning failed');
    throw new ApiError(`Unable to plan application ${name}: ${(err as Error)?.message ?? String(err)}`);
  }
  log.info({ version: candidate.version, deployed: deployedVersion, changes: preview.changes.length, commands: preview.commands.length, source: preview.source }, 'plan computed');
  return planReply(name, candidate, deployedVersion, preview);
}
