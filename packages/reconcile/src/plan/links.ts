/** Link scalers (wadm-behaviour.md §5.5; present only if every field matches, README rule 3) and link cleanup. */
import type { AppliedRecord, Command } from '../types.js';
import { deleteLink, putLink } from './commands.js';
import { configGate } from './configs.js';
import type { LinkSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import { linkKey } from './ids.js';
import { sameLink, type ObservedIndex } from './observed.js';

export type AppliedLink = AppliedRecord['links'][number];

export function appliedLinkOf(spec: LinkSpec): AppliedLink {
  const l = spec.link;
  return { source_id: l.source_id, wit_namespace: l.wit_namespace, wit_package: l.wit_package, name: l.name };
}

export function appliedLinkKey(l: AppliedLink): string {
  return linkKey(l.source_id, l.wit_namespace, l.wit_package, l.name);
}

export function evalLink(spec: LinkSpec, observed: ObservedIndex, beingPut: ReadonlySet<string>): ScalerEval {
  const l = spec.link;
  const gate = configGate(spec.configs, observed.configs, beingPut);
  const cur = observed.links.get(linkKey(l.source_id, l.wit_namespace, l.wit_package, l.name));
  const commands: Command[] = [];
  // The link's configs must exist before the link is put.
  if (!(cur && sameLink(cur, l)) && gate.ready) commands.push(putLink(spec.app, l));
  return {
    id: spec.id,
    kind: spec.kind,
    name: spec.name,
    app: spec.app,
    commands,
    failures: gate.failures,
    waiting: gate.waiting,
    unhealthy: 0,
    busy: () => `Putting link definition between ${l.source_id} and ${l.target}`,
  };
}

/** What a cleanup pass needs besides the record: the time, the grace for unseen entries, and what is being put. */
export interface CleanupContext {
  now: number;
  graceMs: number;
  /** Link keys (links) or config names (configs) whose put is in flight for this app. */
  beingPut: ReadonlySet<string>;
}

/**
 * Whether an entry no longer wanted and not observed stays on record, and since when it is unseen
 * (undefined: not marked, its put is in flight). Observation can lag behind the hosts, so an entry is
 * only forgotten once unseen for the whole grace period.
 */
export function unseenKeep(rec: AppliedRecord, id: string, beingPut: boolean, ctx: CleanupContext): { keep: boolean; since?: number } {
  if (beingPut) return { keep: true };
  const since = rec.unseen?.[id] ?? ctx.now;
  return ctx.now - since < ctx.graceMs ? { keep: true, since } : { keep: false };
}

export const unseenLinkId = (l: AppliedLink): string => `link:${l.source_id}/${l.wit_namespace}/${l.wit_package}/${l.name}`;

/**
 * Links an app applied and no longer wants: delete those still present (unless another deployed app
 * now wants the same link); `keep` is what must stay in the applied record until the deletion is seen.
 * A link not seen stays on record while its put is in flight, or for the grace period (`unseen` marks).
 */
export function linkCleanup(
  rec: AppliedRecord,
  wantedByApp: ReadonlySet<string>,
  wantedByAny: ReadonlySet<string>,
  observed: ObservedIndex,
  ctx: CleanupContext,
): { commands: Command[]; keep: AppliedLink[]; unseen: Record<string, number> } {
  const commands: Command[] = [];
  const keep: AppliedLink[] = [];
  const unseen: Record<string, number> = {};
  for (const l of rec.links) {
    const k = appliedLinkKey(l);
    if (wantedByApp.has(k) || wantedByAny.has(k)) continue;
    if (!observed.links.has(k)) {
      const u = unseenKeep(rec, unseenLinkId(l), ctx.beingPut.has(k), ctx);
      if (u.keep) keep.push(l);
      if (u.since !== undefined) unseen[unseenLinkId(l)] = u.since;
      continue;
    }
    commands.push(deleteLink(rec.app, l));
    keep.push(l);
  }
  return { commands, keep, unseen };
}
