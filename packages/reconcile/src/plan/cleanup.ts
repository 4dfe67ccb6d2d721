/**
 * Cleanup of what no current scaler wants: wadm-managed instances of undeployed apps or of scalers an
 * upgrade removed (found by annotations), and links / managed configs an app applied (found in its
 * applied record). Nothing unowned is touched.
 */
import type { AppliedRecord, Command } from '../types.js';
import { deleteConfig, opsFor } from './commands.js';
import { unseenKeep, type CleanupContext } from './links.js';
import { managedApp, type Instance, type ObservedIndex } from './observed.js';

/** Removal of every stale instance, with the app it belongs to. */
export function staleInstanceRemovals(observed: ObservedIndex, isStale: (i: Instance) => boolean): Array<{ app: string; command: Command }> {
  const out: Array<{ app: string; command: Command }> = [];
  for (const i of observed.all) {
    const app = managedApp(i);
    if (app === undefined || !isStale(i)) continue;
    out.push({ app, command: opsFor(i.workload).remove(i, app) });
  }
  return out;
}

/**
 * Managed configs the app applied and no longer wants: delete those still present (unless another
 * deployed app wants the same name); `keep` stays in the applied record until the deletion is seen.
 * A config not seen stays on record while its put is in flight, or for the grace period (`unseen` marks).
 */
export function configCleanup(
  rec: AppliedRecord,
  wantedByApp: ReadonlySet<string>,
  wantedByAny: ReadonlySet<string>,
  observed: ObservedIndex,
  ctx: CleanupContext,
): { commands: Command[]; keep: Record<string, string>; unseen: Record<string, number> } {
  const commands: Command[] = [];
  const keep: Record<string, string> = {};
  const unseen: Record<string, number> = {};
  for (const name of Object.keys(rec.configs).sort()) {
    if (wantedByApp.has(name) || wantedByAny.has(name)) continue;
    if (!observed.configs.has(name)) {
      const id = `config:${name}`;
      const u = unseenKeep(rec, id, ctx.beingPut.has(name), ctx);
      if (u.keep) keep[name] = rec.configs[name]!;
      if (u.since !== undefined) unseen[id] = u.since;
      continue;
    }
    commands.push(deleteConfig(rec.app, name));
    keep[name] = rec.configs[name]!;
  }
  return { commands, keep, unseen };
}
