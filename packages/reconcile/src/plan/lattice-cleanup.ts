/**
 * What `planLattice` (`lattice.ts`) removes: phase 3, instances wadm manages that no current scaler owns;
 * phase 4, links and managed configs applied earlier and no longer wanted (after their grace when
 * unseen), carrying over what stays on record.
 */
import type { AppliedRecord, InFlight } from '../types.js';
import { configCleanup, staleInstanceRemovals } from './cleanup.js';
import type { AppDesired } from './desired.js';
import { linkIdentity, linkNameKey } from './ids.js';
import type { Issuer } from './issuer.js';
import { appliedLinkKey, linkCleanup, type AppliedLink } from './links.js';
import type { Instance, ObservedIndex } from './observed.js';

/** Counts, per app, the cleanup commands of a pass. */
export type CountCleanup = (app: string, n: number) => void;

/** 3. Instances wadm manages that no current scaler owns (and no rollout holds). */
export function planRemovals(observed: ObservedIndex, removable: (i: Instance) => boolean, issuer: Issuer, countCleanup: CountCleanup): void {
  for (const r of staleInstanceRemovals(observed, removable)) {
    issuer.issue(r.command, 'removals');
    countCleanup(r.app, 1);
  }
}

export interface CleanupInput {
  now: number;
  graceMs: number;
  /** Applied records, in app order. */
  applied: readonly AppliedRecord[];
  inflight: readonly InFlight[];
  desired: readonly AppDesired[];
  desiredByApp: ReadonlyMap<string, AppDesired>;
  released: ReadonlySet<string>;
  observed: ObservedIndex;
  linksWantedByApp: ReadonlyMap<string, ReadonlySet<string>>;
}

const NONE: ReadonlySet<string> = new Set();

const addTo = (m: Map<string, Set<string>>, app: string, k: string): void => {
  const set = m.get(app);
  if (set) set.add(k);
  else m.set(app, new Set([k]));
};

/**
 * 4. Links and managed configs applied earlier and no longer wanted. Updates `appliedLinks` and
 * `appliedConfigs` with what stays on record; returns the unseen marks per app and the earliest end of
 * their grace.
 */
export function planCleanup(
  x: CleanupInput,
  issuer: Issuer,
  countCleanup: CountCleanup,
  appliedLinks: Map<string, AppliedLink[]>,
  appliedConfigs: Map<string, Record<string, string>>,
): { unseenMarks: Map<string, Record<string, number>>; unseenEnd: number | undefined } {
  const { now, graceMs, observed } = x;
  const linksWantedByAny = new Set<string>();
  for (const keys of x.linksWantedByApp.values()) for (const k of keys) linksWantedByAny.add(k);
  const configsWantedByAny = new Set<string>();
  for (const d of x.desired) for (const k of d.managedConfigs.keys()) configsWantedByAny.add(k);
  // Puts still in flight (not expired) may land after this pass: what they create stays on record.
  const linksInFlight = new Map<string, Set<string>>();
  const linkNamesInFlight = new Map<string, Set<string>>();
  const configsInFlight = new Map<string, Set<string>>();
  for (const f of x.inflight) {
    if (f.expiresAt <= now) continue;
    const c = f.command;
    if (c.kind === 'PutLink') {
      addTo(linksInFlight, c.model_name, linkIdentity(c.source_id, c.wit_namespace, c.wit_package, c.name, c.target));
      addTo(linkNamesInFlight, c.model_name, linkNameKey(c.source_id, c.wit_namespace, c.wit_package, c.name));
    } else if (c.kind === 'PutConfig') addTo(configsInFlight, c.model_name, c.config_name);
  }
  const unseenMarks = new Map<string, Record<string, number>>();
  let unseenEnd: number | undefined;
  for (const rec of x.applied) {
    if (x.released.has(rec.app)) {
      // Kept as it is: nothing is deleted, and no grace runs out.
      appliedLinks.set(rec.app, rec.links);
      appliedConfigs.set(rec.app, rec.configs);
      if (rec.unseen && Object.keys(rec.unseen).length > 0) unseenMarks.set(rec.app, rec.unseen);
      continue;
    }
    const d = x.desiredByApp.get(rec.app);
    const ctx = (beingPut: ReadonlySet<string> | undefined) => ({ now, graceMs, beingPut: beingPut ?? NONE });
    const lc = linkCleanup(rec, x.linksWantedByApp.get(rec.app) ?? NONE, linksWantedByAny, observed, {
      ...ctx(linksInFlight.get(rec.app)),
      beingPutNamed: linkNamesInFlight.get(rec.app) ?? NONE,
    });
    const cc = configCleanup(rec, d ? new Set(d.managedConfigs.keys()) : NONE, configsWantedByAny, observed, ctx(configsInFlight.get(rec.app)));
    for (const c of lc.commands) issuer.issue(c, 'deleteLinks');
    for (const c of cc.commands) issuer.issue(c, 'deleteConfigs');
    countCleanup(rec.app, lc.commands.length + cc.commands.length);
    const links = appliedLinks.get(rec.app) ?? [];
    const known = new Set(links.map(appliedLinkKey));
    appliedLinks.set(rec.app, [...links, ...lc.keep.filter((l) => !known.has(appliedLinkKey(l)))]);
    appliedConfigs.set(rec.app, { ...cc.keep, ...(appliedConfigs.get(rec.app) ?? {}) });
    const marks = { ...lc.unseen, ...cc.unseen };
    if (Object.keys(marks).length > 0) unseenMarks.set(rec.app, marks);
    for (const since of Object.values(marks)) if (unseenEnd === undefined || since + graceMs < unseenEnd) unseenEnd = since + graceMs;
  }
  return { unseenMarks, unseenEnd };
}
