/** `wadm app put | get | list | history`: storing and reading manifests. */
import { statusSubject } from '@wadm-ts/protocol';
import { readManifestSource } from '../manifest-source.js';
import type { CommandOutput } from '../output.js';
import { renderGet, renderHistory, renderList, renderPut } from '../render.js';
import { withClient, type ApiOptions, type Connect } from '../session.js';
import { redrawOn } from './watch.js';

/** The source is read before connecting, so an unreadable one fails without touching NATS. */
export async function putCommand(connect: Connect, api: ApiOptions, file: string): Promise<CommandOutput> {
  const source = await readManifestSource(file);
  return withClient(connect, api, async (client, mode) => renderPut(await client.put(source), mode));
}

/** Without a name, `get` lists the applications. */
export function getCommand(connect: Connect, api: ApiOptions, name: string | undefined, version: string | undefined): Promise<CommandOutput> {
  return withClient(connect, api, async (client, mode) =>
    name === undefined ? renderList(await client.list(), mode) : renderGet(await client.get(name, version), mode),
  );
}

export function listCommand(connect: Connect, api: ApiOptions, watch: boolean): Promise<CommandOutput> {
  return withClient(connect, api, async (client, mode, nc) => {
    const render = async (): Promise<CommandOutput> => renderList(await client.list(), mode);
    return watch ? redrawOn(nc, statusSubject(api.lattice, '*'), render) : render();
  });
}

export function historyCommand(connect: Connect, api: ApiOptions, name: string): Promise<CommandOutput> {
  return withClient(connect, api, async (client, mode) => renderHistory(await client.versions(name), mode));
}
