/**
 * Cleanup of what no current scaler wants: wadm-managed instances of undeployed apps or of scalers an
 * upgrade removed (found by annotations), and links / managed configs an app applied (found in its
 * applied record). Nothing unowned is touched.
 */
import type { AppliedRecord, Command } from '../types.js';
import { deleteConfig, opsFor } from './commands.js';
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
 * A config not seen yet whose put is still in flight (`beingPut`, names) is kept for a later pass.
 */
export function configCleanup(
  rec: AppliedRecord,
  wantedByApp: ReadonlySet<string>,
  wantedByAny: ReadonlySet<string>,
  observed: ObservedIndex,
  beingPut: ReadonlySet<string> = new Set(),
): { commands: Command[]; keep: Record<string, string> } {
  const commands: Command[] = [];
  const keep: Record<string, string> = {};
  for (const name of Object.keys(rec.configs).sort()) {
    if (wantedByApp.has(name) || wantedByAny.has(name)) continue;
    if (!observed.configs.has(name)) {
      if (beingPut.has(name)) keep[name] = rec.configs[name]!;
      continue;
    }
    commands.push(deleteConfig(rec.app, name));
    keep[name] = rec.configs[name]!;
  }
  return { commands, keep };
}
