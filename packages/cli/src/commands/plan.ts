/** `wadm app diff` and `wadm app deploy --dry-run`: ask wadm for the plan of a deploy; nothing is stored or deployed. */
import type { WadmClient } from '@wadm-ts/client';
import type { PlanModelResponse } from '@wadm-ts/protocol';
import { isManifestSource, readManifestSource } from '../manifest-source.js';
import { isFailure, type CommandOutput } from '../output.js';
import { DIFF_EXIT, renderPlan } from '../render-plan.js';
import { withClient, type ApiOptions, type Connect } from '../session.js';

/** Ask wadm for the plan of a manifest source (`-`, URL, file) or of a stored app (latest or `version`). Throws on a bad source. */
async function requestPlan(client: WadmClient, target: string, version: string | undefined): Promise<PlanModelResponse> {
  if (!isManifestSource(target)) return client.plan(target, version);
  if (version !== undefined) throw new Error('A version cannot be given with a manifest; it comes from the manifest.');
  return client.planManifest(await readManifestSource(target));
}

/** `app diff`: exit 0 when nothing would change (no changes, no commands), 1 when something would, 2 on any error. */
export async function diffCommand(connect: Connect, api: ApiOptions, target: string, version: string | undefined): Promise<CommandOutput> {
  let failed = true;
  const out = await withClient(connect, api, async (client, mode) => {
    const reply = await requestPlan(client, target, version);
    failed = false;
    const o = renderPlan(reply, mode);
    if (isFailure(reply)) failed = true;
    return o;
  });
  if (failed) return { ...out, exitCode: DIFF_EXIT.error };
  return out;
}

/** `app deploy --dry-run`: the plan, printed; exit 0 unless planning failed (1). Nothing is stored or deployed. */
export async function dryRunCommand(connect: Connect, api: ApiOptions, target: string, version: string | undefined): Promise<CommandOutput> {
  return withClient(connect, api, async (client, mode) => {
    const reply = await requestPlan(client, target, version);
    const o = renderPlan(reply, mode);
    return { ...o, exitCode: isFailure(reply) ? 1 : 0 };
  });
}
