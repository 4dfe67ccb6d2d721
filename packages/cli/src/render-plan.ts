/** Rendering of a deploy plan (`wadm app diff`, `wadm app deploy --dry-run`): one line per change, then the commands. */
import type { PlanChange, PlanModelResponse } from '@wadm-ts/protocol';
import { failure, isFailure, type CommandOutput, type OutputMode } from './output.js';

/** Exit codes of `app diff`, as `kubectl diff`: nothing would change, something would, an error. */
export const DIFF_EXIT = { same: 0, changes: 1, error: 2 } as const;

const OP_MARK: Record<PlanChange['op'], string> = { add: '+', remove: '-', change: '~' };

const shown = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '(none)' : JSON.stringify(v));

/** One line per change: `+ component web (image …)`, `- link …`, `~ scaler web/spreadscaler/default instances 2 -> 3`. */
export function planChangeLine(c: PlanChange): string {
  const head = `${OP_MARK[c.op]} ${c.kind} ${c.id}`;
  if (c.kind === 'scaler') {
    const moved = (c.fields ?? []).map((f) => `; ${f.field} ${shown(f.before)} -> ${shown(f.after)}`).join('');
    return `${head} instances ${shown(c.before?.['instances'] ?? 0)} -> ${shown(c.after?.['instances'] ?? 0)}${moved}`;
  }
  if (c.kind === 'config') {
    if (c.op === 'change') return `${head} keys ${(c.fields ?? []).map((f) => f.field).join(', ')}`;
    const keys = (c.after ?? c.before)?.['keys'];
    return Array.isArray(keys) && keys.length > 0 ? `${head} (keys ${keys.join(', ')})` : head;
  }
  if (c.op === 'change') return `${head} ${(c.fields ?? []).map((f) => `${f.field} ${shown(f.before)} -> ${shown(f.after)}`).join('; ')}`;
  if (c.kind === 'link') {
    const l = c.after ?? c.before;
    const ifaces = l?.['interfaces'];
    return Array.isArray(ifaces) ? `${head} (interfaces ${ifaces.join(', ')})` : head;
  }
  const v = c.after ?? c.before;
  const image = v?.['image'];
  const app = v?.['application'] as { name?: string; component?: string } | undefined;
  if (typeof image === 'string') return `${head} (image ${image})`;
  if (app) return `${head} (shared ${app.name}/${app.component})`;
  return head;
}

export function renderPlan(reply: PlanModelResponse, mode: OutputMode): CommandOutput {
  if (mode === 'json') return { stdout: [JSON.stringify(reply)], stderr: [], exitCode: isFailure(reply) ? DIFF_EXIT.error : reply.changes.length + reply.commands.length > 0 ? DIFF_EXIT.changes : DIFF_EXIT.same };
  if (isFailure(reply)) return failure(reply.message || `wadm replied "${reply.result}"`);
  const what = `${reply.name}${reply.version ? ` ${reply.version}` : ''}`;
  const deployedNote = reply.deployed_version === null ? 'not deployed now' : `deployed now: ${reply.deployed_version}`;
  if (reply.changes.length === 0 && reply.commands.length === 0) return { stdout: [`No changes: deploying ${what} would change nothing (${deployedNote})`], stderr: [], exitCode: DIFF_EXIT.same };
  const lines = [`Deploying ${what} (${deployedNote}):`];
  if (reply.changes.length === 0) lines.push('  no changes to the application');
  for (const c of reply.changes) lines.push(planChangeLine(c));
  lines.push(reply.commands.length === 0 ? 'No commands would be issued now' : `Commands it would issue now (${reply.commands.length}):`);
  for (const c of reply.commands) lines.push(`  ${c.ctl}${c.host_id ? ` on ${c.host_id}` : ''}: ${c.target} ${c.detail}`);
  return { stdout: lines, stderr: [], exitCode: DIFF_EXIT.changes };
}
