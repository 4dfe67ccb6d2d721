/**
 * Link scalers (docs/wire/behaviour.md §5.5; present only if every field matches, docs/wire/README.md rule 3) and link cleanup.
 *
 * A link's identity is the host's: (source, namespace, package, name, target). A `link.put` replaces the
 * link with the same identity or appends one; a `link.del` names no target and removes the first link
 * matching the other four fields (docs/wire/control-interface.md §3.9).
 */
import type { AppliedRecord, Command } from '../types.js';
import { deleteLink, putLink } from './commands.js';
import { configGate } from './configs.js';
import type { LinkSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import { linkIdentity, linkNameKey } from './ids.js';
import { sameLink, type ObservedIndex } from './observed.js';

export type AppliedLink = AppliedRecord['links'][number];

export function appliedLinkOf(spec: LinkSpec): AppliedLink {
  const l = spec.link;
  return { source_id: l.source_id, wit_namespace: l.wit_namespace, wit_package: l.wit_package, name: l.name, target: l.target };
}

/** Stands for "any target" in the key of an applied entry recorded without one (older wadm-ts). */
const ANY_TARGET = '\u0000any';

/** The identity of an applied entry: `linkIdentity`, or for an entry without target its name with "any target". */
export function appliedLinkKey(l: AppliedLink): string {
  return linkIdentity(l.source_id, l.wit_namespace, l.wit_package, l.name, l.target ?? ANY_TARGET);
}

export function evalLink(spec: LinkSpec, observed: ObservedIndex, beingPut: ReadonlySet<string>): ScalerEval {
  const l = spec.link;
  const gate = configGate(spec.configs, observed.configs, beingPut);
  const cur = observed.links.get(linkIdentity(l.source_id, l.wit_namespace, l.wit_package, l.name, l.target));
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
  /** Link keys (links: `linkIdentity`) or config names (configs) whose put is in flight for this app. */
  beingPut: ReadonlySet<string>;
}

export interface LinkCleanupContext extends CleanupContext {
  /** `linkNameKey` of every link whose put is in flight for this app (for entries without target). */
  beingPutNamed: ReadonlySet<string>;
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

/** The `unseen` id of an applied link: `link:{source}/{ns}/{pkg}/{name}/{target}` (no `/{target}` when recorded without). */
export const unseenLinkId = (l: AppliedLink): string =>
  `link:${l.source_id}/${l.wit_namespace}/${l.wit_package}/${l.name}${l.target === undefined ? '' : `/${l.target}`}`;

/**
 * Links an app applied and no longer wants: delete those still present (unless another deployed app
 * now wants the same link); `keep` is what must stay in the applied record until the deletion is seen.
 * A link not seen stays on record while its put is in flight, or for the grace period (`unseen` marks).
 * An entry without target (older wadm-ts) stands for every observed link of its name that no app wants:
 * each is deleted; once every link of that name is wanted (and so on record with its target) it goes.
 */
export function linkCleanup(
  rec: AppliedRecord,
  wantedByApp: ReadonlySet<string>,
  wantedByAny: ReadonlySet<string>,
  observed: ObservedIndex,
  ctx: LinkCleanupContext,
): { commands: Command[]; keep: AppliedLink[]; unseen: Record<string, number> } {
  const commands: Command[] = [];
  const keep: AppliedLink[] = [];
  const unseen: Record<string, number> = {};
  const unwanted = (k: string): boolean => !wantedByApp.has(k) && !wantedByAny.has(k);
  const unobserved = (l: AppliedLink, beingPut: boolean): void => {
    const u = unseenKeep(rec, unseenLinkId(l), beingPut, ctx);
    if (u.keep) keep.push(l);
    if (u.since !== undefined) unseen[unseenLinkId(l)] = u.since;
  };
  for (const l of rec.links) {
    if (l.target !== undefined) {
      const k = linkIdentity(l.source_id, l.wit_namespace, l.wit_package, l.name, l.target);
      if (!unwanted(k)) continue;
      if (!observed.links.has(k)) {
        unobserved(l, ctx.beingPut.has(k));
        continue;
      }
      commands.push(deleteLink(rec.app, { ...l, target: l.target }));
      keep.push(l);
      continue;
    }
    const n = linkNameKey(l.source_id, l.wit_namespace, l.wit_package, l.name);
    const present = observed.linksNamed.get(n) ?? [];
    if (present.length === 0) {
      unobserved(l, ctx.beingPutNamed.has(n));
      continue;
    }
    const stale = present.filter((x) => unwanted(linkIdentity(x.source_id, x.wit_namespace, x.wit_package, x.name, x.target)));
    if (stale.length === 0) continue;
    for (const x of stale) commands.push(deleteLink(rec.app, { ...l, target: x.target }));
    keep.push(l);
  }
  return { commands, keep, unseen };
}
