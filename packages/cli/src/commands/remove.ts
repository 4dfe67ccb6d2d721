/** `wadm app undeploy [name | --all]` and `wadm app delete [name [version] | --all-undeployed]`. */
import type { UndeployOptions, WadmClient } from '@wadm-ts/client';
import type { DeleteModelResponse, DeployModelResponse, ModelSummary } from '@wadm-ts/protocol';
import { combine, failure, isFailure, jsonOutput, ok, type CommandOutput, type OutputMode } from '../output.js';
import { renderDelete, renderMany, renderUndeploy, undeployText } from '../render.js';
import { withClient, type ApiOptions, type Connect } from '../session.js';

export async function undeployCommand(connect: Connect, api: ApiOptions, name: string | undefined, all: boolean, opts: UndeployOptions): Promise<CommandOutput> {
  const invalid = targetError(name, all, '--all');
  if (invalid !== undefined) return invalid;
  return withClient(connect, api, async (client, mode) =>
    name !== undefined ? renderUndeploy(await client.undeploy(name, opts), mode) : undeployAll(client, mode, opts),
  );
}

async function undeployAll(client: WadmClient, mode: OutputMode, opts: UndeployOptions): Promise<CommandOutput> {
  const names = (await listModels(client)).filter((m) => !isUndeployed(m)).map((m) => m.name);
  if (names.length === 0 && mode === 'text') return ok('No deployed applications to undeploy');
  const replies: DeployModelResponse[] = [];
  for (const n of names) replies.push(await client.undeploy(n, opts));
  return renderMany(replies, mode, undeployText);
}

export async function deleteCommand(
  connect: Connect,
  api: ApiOptions,
  name: string | undefined,
  version: string | undefined,
  allUndeployed: boolean,
): Promise<CommandOutput> {
  const invalid = targetError(name, allUndeployed, '--all-undeployed');
  if (invalid !== undefined) return invalid;
  return withClient(connect, api, async (client, mode) =>
    name !== undefined ? renderDelete(name, version, await client.delete(name, version), mode) : deleteAllUndeployed(client, mode),
  );
}

async function deleteAllUndeployed(client: WadmClient, mode: OutputMode): Promise<CommandOutput> {
  const names = (await listModels(client)).filter(isUndeployed).map((m) => m.name);
  if (names.length === 0 && mode === 'text') return ok('No undeployed applications to delete');
  const replies: DeleteModelResponse[] = [];
  for (const n of names) replies.push(await client.delete(n));
  if (mode === 'json') return jsonOutput(replies, replies.some(isFailure));
  return combine(replies.map((reply, i) => renderDelete(names[i]!, undefined, reply, mode)));
}

/** Exactly one of an application name or the "all" flag must be given. */
function targetError(name: string | undefined, all: boolean, flag: string): CommandOutput | undefined {
  if (name !== undefined && all) return failure(`Give either an application name or ${flag}, not both.`);
  if (name === undefined && !all) return failure(`Give an application name or ${flag}.`);
  return undefined;
}

async function listModels(client: WadmClient): Promise<ModelSummary[]> {
  const reply = await client.list();
  if (isFailure(reply)) throw new Error(reply.message || 'Failed to list applications');
  return reply.models;
}

/**
 * "Undeployed" means no deployed version. (wash keeps apps whose last published status is `undeployed`, which
 * misses apps that were put but never deployed — they list as `waiting`.)
 */
function isUndeployed(model: ModelSummary): boolean {
  return model.deployed_version == null;
}
