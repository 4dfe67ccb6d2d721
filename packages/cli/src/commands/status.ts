/** `wadm app status <name> [--watch]`. */
import type { WadmClient } from '@wadm-ts/client';
import { statusSubject } from '@wadm-ts/protocol';
import { isFailure, type CommandOutput, type OutputMode } from '../output.js';
import { renderStatus } from '../render-status.js';
import { withClient, type ApiOptions, type Connect } from '../session.js';
import { redrawOn } from './watch.js';

export function statusCommand(connect: Connect, api: ApiOptions, name: string, watch: boolean): Promise<CommandOutput> {
  return withClient(connect, api, (client, mode, nc) => {
    const render = (): Promise<CommandOutput> => showStatus(client, name, mode);
    return watch ? redrawOn(nc, statusSubject(api.lattice, name), render) : render();
  });
}

async function showStatus(client: WadmClient, name: string, mode: OutputMode): Promise<CommandOutput> {
  const reply = await client.status(name);
  if (mode === 'json' || isFailure(reply)) return renderStatus(name, reply, mode);
  return renderStatus(name, reply, mode, await deployedVersion(client, name));
}

/** Best effort: the status' own `version` is always "" in current wadm, so ask for the deployed one. */
export async function deployedVersion(client: WadmClient, name: string): Promise<string | undefined> {
  try {
    const reply = await client.versions(name);
    return reply.versions.find((v) => v.deployed)?.version;
  } catch {
    return undefined;
  }
}
