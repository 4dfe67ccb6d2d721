/** `wadm app deploy` (by name, or put a manifest and deploy it) and `wadm app rollback`, optionally following the deploy. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { WadmClient } from '@wadm-ts/client';
import { statusFromWire } from '@wadm-ts/model';
import { statusSubject } from '@wadm-ts/protocol';
import { oneLine } from '../format.js';
import { followDeploy } from '../live.js';
import { isManifestSource, readManifestSource } from '../manifest-source.js';
import { emit, failure, isFailure, type CommandOutput, type OutputMode } from '../output.js';
import { renderDeploy, renderPut } from '../render.js';
import { withClient, type ApiOptions, type Connect } from '../session.js';
import { deployedVersion } from './status.js';

export async function deployCommand(connect: Connect, api: ApiOptions, target: string, version: string | undefined, followMs?: number): Promise<CommandOutput> {
  const lattice = api.lattice;
  if (!isManifestSource(target)) {
    return withClient(connect, api, (client, mode, nc) => deployAndFollow(client, nc, lattice, target, version, mode, followMs));
  }
  if (version !== undefined) return failure('A version cannot be given when deploying from a manifest; it comes from the put.');
  const source = await readManifestSource(target);
  return withClient(connect, api, async (client, mode, nc) => {
    const put = await client.put(source);
    if (isFailure(put)) return renderPut(put, mode);
    return deployAndFollow(client, nc, lattice, put.name, put.current_version, mode, followMs);
  });
}

/** `wadm app rollback`: find the version (unless given), then deploy it as `deploy <name> <version>` does. */
export async function rollbackCommand(connect: Connect, api: ApiOptions, name: string, version: string | undefined, followMs?: number): Promise<CommandOutput> {
  const lattice = api.lattice;
  return withClient(connect, api, async (client, mode, nc) => {
    let target = version;
    if (target === undefined) {
      const t = await client.rollbackTarget(name);
      if ('error' in t) return renderDeploy(t.error, mode);
      target = t.version;
    }
    return deployAndFollow(client, nc, lattice, name, target, mode, followMs);
  });
}

/** Deploy, then (with `followMs`) follow the status until deployed (exit 0), failed or timed out (exit 1). */
async function deployAndFollow(client: WadmClient, nc: NatsConnection, lattice: string, name: string, version: string | undefined, mode: OutputMode, followMs?: number): Promise<CommandOutput> {
  if (followMs === undefined) return renderDeploy(await client.deploy(name, version), mode);
  const before = await deployedVersion(client, name);
  const sub = nc.subscribe(statusSubject(lattice, name));
  await nc.flush();
  const reply = await client.deploy(name, version);
  const acked = renderDeploy(reply, mode);
  if (acked.exitCode !== 0 || isFailure(reply)) {
    sub.unsubscribe();
    return acked;
  }
  emit(acked);
  const target = (reply as { version?: string | null }).version ?? version;
  const progress = mode === 'text';
  const outcome = await followDeploy(sub, {
    lattice,
    name,
    timeoutMs: followMs,
    noop: before !== undefined && before === target,
    onStatus: (s) => {
      if (progress) process.stdout.write(`${name} - ${s.status.type}${s.status.message ? `: ${oneLine(s.status.message, 200)}` : ''}\n`);
    },
    poll: async () => {
      const r = await client.status(name);
      return isFailure(r) ? undefined : statusFromWire(r.status);
    },
  });
  if (outcome === 'timeout') return failure(`Gave up waiting for ${name} to be deployed after ${followMs} ms`);
  if (mode === 'json') return { stdout: [JSON.stringify({ name, version: target, status: outcome.status })], stderr: [], exitCode: outcome.status.type === 'deployed' ? 0 : 1 };
  return outcome.status.type === 'deployed' ? { stdout: [], stderr: [], exitCode: 0 } : { stdout: [], stderr: [`${name} failed: ${outcome.status.message}`], exitCode: 1 };
}
