/**
 * What `planLattice` (`lattice.ts`) puts: phase 1, the wadm-managed configs; phase 2, the scalers of every
 * deployed app (component/provider commands and links), with the drift they correct.
 */
import type { ScalerStatus } from '@wadm-ts/model';
import type { AppliedRecord, InFlight, PlanOutput } from '../types.js';
import { putConfig } from './commands.js';
import { configHash } from './configs.js';
import type { ScalerMemo } from './scaler-memo.js';
import type { AppDesired, ScalerSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import { linkIdentity } from './ids.js';
import type { Issuer } from './issuer.js';
import { appliedLinkKey, appliedLinkOf, evalLink, type AppliedLink } from './links.js';
import type { Instance, ObservedIndex } from './observed.js';
import type { LatticeLoad } from './placement.js';
import type { StalledUpdates } from './stalled.js';
import { scalerStatus, toScalerStatus } from './status.js';
import { evalWorkload } from './workloads.js';

export type Drift = NonNullable<PlanOutput['drift']>;

/**
 * 1. wadm-managed configs: written when absent, when their values changed since last applied, or when
 *    the hosts hold other values than were put (drift). Returns, per app, the configs being put now and
 *    the applied hashes.
 */
export function planConfigs(
  desired: readonly AppDesired[],
  observed: ObservedIndex,
  prevApplied: ReadonlyMap<string, AppliedRecord>,
  issuer: Issuer,
  drift: Drift,
): { beingPut: Map<string, Set<string>>; appliedConfigs: Map<string, Record<string, string>> } {
  const beingPut = new Map<string, Set<string>>();
  const appliedConfigs = new Map<string, Record<string, string>>();
  for (const d of desired) {
    const put = new Set<string>();
    const configs: Record<string, string> = {};
    for (const [name, values] of d.managedConfigs) {
      const hash = configHash(values);
      configs[name] = hash;
      const applied = prevApplied.get(d.app)?.configs[name] === hash;
      const present = observed.configs.has(name);
      const seen = observed.configDigests.get(name);
      // Values the hosts hold, when a query read them; otherwise what was last put.
      const differs = seen !== undefined ? seen !== hash : !applied;
      // Drift: what was put is gone, or the hosts hold other values.
      const drifted = applied && (!present || (seen !== undefined && seen !== hash));
      if (!present || differs) {
        const c = putConfig(d.app, name, values);
        issuer.issue(c, 'configs');
        put.add(name);
        if (drifted && issuer.emitted(c, 'configs')) drift.push({ kind: 'config', app: d.app, name });
      }
    }
    beingPut.set(d.app, put);
    appliedConfigs.set(d.app, configs);
  }
  return { beingPut, appliedConfigs };
}

/** What the scalers see of the lattice in phase 2. */
export interface ScalerContext {
  observed: ObservedIndex;
  stale: (i: Instance) => boolean;
  beingPut: ReadonlyMap<string, ReadonlySet<string>>;
  load: LatticeLoad;
  inflight: ReadonlyMap<string, readonly InFlight[]>;
  stalled: StalledUpdates;
  prevApplied: ReadonlyMap<string, AppliedRecord>;
  /** Converged evaluations kept from earlier passes (scaler-memo.ts); absent: every scaler is evaluated. */
  memo?: ScalerMemo;
}

function evaluate(s: ScalerSpec, x: ScalerContext, beingPut: ReadonlySet<string>): ScalerEval {
  const { observed, stale, load, inflight, stalled, memo } = x;
  if (s.type === 'workload') return evalWorkload(s, { observed, isStale: stale, beingPut, load, inflight, stalled: stalled.has, keepStalled: stalled.keep, ...(memo ? { memo } : {}) });
  if (s.type === 'link') return evalLink(s, observed, beingPut);
  return { id: s.id, kind: s.kind, name: s.name, app: s.app, commands: [], failures: [], waiting: [], unhealthy: 0, busy: () => '', fixed: s.status };
}

export interface ScalerOutcome {
  scalerStatuses: Map<string, ScalerStatus[]>;
  appliedLinks: Map<string, AppliedLink[]>;
  linksWantedByApp: Map<string, ReadonlySet<string>>;
  /** Previous versions' instances a scaler is rolling out over (cleanup leaves them to it). */
  held: Set<Instance>;
}

/** 2. The scalers of every deployed app. */
export function planScalers(desired: readonly AppDesired[], x: ScalerContext, issuer: Issuer, drift: Drift): ScalerOutcome {
  const held = new Set<Instance>();
  const scalerStatuses = new Map<string, ScalerStatus[]>();
  const appliedLinks = new Map<string, AppliedLink[]>();
  const linksWantedByApp = new Map<string, ReadonlySet<string>>();
  for (const d of desired) {
    const list: ScalerStatus[] = [];
    const links: AppliedLink[] = [];
    const linkKeys = new Set<string>();
    // Link scalers of one app with the same host identity share one merged link (desired.ts): the first
    // one issues its put, the others report the same outcome.
    const linkOutcomes = new Map<string, { pending: number; backoff: string[] }>();
    for (const s of d.scalers) {
      const e = evaluate(s, x, x.beingPut.get(d.app)!);
      for (const i of e.held ?? []) held.add(i);
      const k = s.type === 'link' ? appliedLinkKey(appliedLinkOf(s)) : undefined;
      const shared = k === undefined ? undefined : linkOutcomes.get(k);
      if (shared) {
        list.push(toScalerStatus(e, scalerStatus(e, shared.pending, shared.backoff)));
        continue;
      }
      let pending = 0;
      const backoff: string[] = [];
      for (const c of e.commands) {
        const bucket = c.kind === 'PutLink' ? 'links' : 'workloads';
        const err = issuer.issue(c, bucket);
        if (err === undefined) pending++;
        else backoff.push(err);
        // A link put again although it was applied before: it went missing or changed (drift).
        if (c.kind === 'PutLink' && issuer.emitted(c, bucket) && (x.prevApplied.get(d.app)?.links ?? []).some((l) => appliedLinkKey(l) === linkIdentity(c.source_id, c.wit_namespace, c.wit_package, c.name, c.target))) {
          drift.push({ kind: 'link', app: d.app, name: `${c.source_id} ${c.wit_namespace}:${c.wit_package} ${c.name}` });
        }
      }
      const make = (): ScalerStatus => toScalerStatus(e, scalerStatus(e, pending, backoff));
      list.push(x.memo && backoff.length === 0 ? x.memo.scalerStatus(e, pending, make) : make());
      if (s.type === 'link' && k !== undefined) {
        linkOutcomes.set(k, { pending, backoff });
        linkKeys.add(k);
        links.push(appliedLinkOf(s));
      }
    }
    scalerStatuses.set(d.app, list);
    appliedLinks.set(d.app, links);
    linksWantedByApp.set(d.app, linkKeys);
  }
  return { scalerStatuses, appliedLinks, linksWantedByApp, held };
}
