/**
 * The I/O edge of `model.plan`: reads one lattice's state the way a reconcile pass does and runs the
 * pure `planApp` over it. Read-only: nothing is written, nothing is sent to hosts.
 *
 * State comes from the replica's in-memory view when it is loaded (no KV reads at all). While the view
 * is not ready (a replica starting, or rebuilding after a reconnect) the lattice's keys are read once
 * from the state bucket: listed from the stream's per-subject state, then fetched with bounded
 * concurrency; a lattice with more than `maxKeys` keys is refused with an error rather than read.
 */
import type { LatticeRef } from '@wadm-ts/protocol';
import { stateKeys, StorageError, type LatticeStateStore, type StateView, type StoredValue } from '@wadm-ts/store';
import { DEFAULT_BACKOFF_MS, inflightOf } from '../plan/inflight.js';
import { planApp, type AppPlan } from '../plan/diff.js';
import type { AppliedRecord, DeployedApp, InFlight, ObservedLattice } from '../types.js';
import type { AppliedEntity, Entity, FailureEntity, InFlightEntity, LatticeEntities } from '@wadm-ts/entities';

export interface PlanPreviewerOptions {
  /** The replica's state view, when it has one (read when ready). */
  view?: () => StateView | undefined;
  /** The state bucket, for a one-off read when there is no ready view. */
  store: LatticeStateStore;
  now?: () => number;
  backoffMs?: number;
  unseenGraceMs?: number;
  /** Most keys a one-off read fetches (default 50 000). */
  maxKeys?: number;
  /** Concurrent reads of a one-off read (default 64). */
  readConcurrency?: number;
}

export interface PreviewRequest {
  ref: LatticeRef;
  app: string;
  deployed: DeployedApp | null;
  candidate: DeployedApp;
  others: readonly DeployedApp[];
  /** Apps undeployed non-destructively, as the reconciler passes them. */
  released?: readonly string[];
}

export interface LatticeRead {
  observed: ObservedLattice;
  applied: AppliedRecord[];
  inflight: InFlight[];
  /** Where the state came from. */
  source: 'view' | 'bucket';
}

/** Lattice state values (live entities, failures, in-flight and applied records) as a planner input. */
export function latticeReadOf(values: Iterable<StoredValue>, source: LatticeRead['source']): LatticeRead {
  const snapshot: LatticeEntities = { hosts: [], components: [], providers: [], links: [], configs: [] };
  const failures: FailureEntity[] = [];
  const applied: AppliedRecord[] = [];
  const inflight: InFlight[] = [];
  for (const v of values) {
    if ('deleted' in v && (v as Entity).deleted) continue;
    switch (v.kind) {
      case 'host':
        snapshot.hosts.push(v);
        break;
      case 'component':
        snapshot.components.push(v);
        break;
      case 'provider':
        snapshot.providers.push(v);
        break;
      case 'link':
        snapshot.links.push(v);
        break;
      case 'config':
        snapshot.configs.push(v);
        break;
      case 'failure':
        failures.push(v);
        break;
      case 'applied':
        applied.push((v as AppliedEntity).record as AppliedRecord);
        break;
      case 'inflight': {
        inflight.push(...inflightOf(v as InFlightEntity));
        break;
      }
      default:
        break;
    }
  }
  return { observed: { ...snapshot, failures }, applied, inflight, source };
}

export class PlanPreviewer {
  constructor(private readonly o: PlanPreviewerOptions) {}

  /** The lattice's state: the view's copy when it is ready, else one bounded read of the bucket. */
  async read(ref: LatticeRef): Promise<LatticeRead> {
    const view = this.o.view?.();
    if (view?.ready) return latticeReadOf(view.entries(ref).map((e) => e.value), 'view');
    const filter = stateKeys.all(ref);
    const keys = await this.o.store.keys(filter, { fresh: true });
    const max = this.o.maxKeys ?? 50_000;
    if (keys.length > max) {
      throw new StorageError(`lattice ${ref.lattice} has ${keys.length} state keys, more than the ${max} a plan reads without the replica's view; retry once the replica is ready`, {
        bucket: this.o.store.bucket,
        key: filter,
        op: 'plan',
      });
    }
    const values: StoredValue[] = [];
    const limit = this.o.readConcurrency ?? 64;
    for (let i = 0; i < keys.length; i += limit) {
      const batch = await Promise.all(keys.slice(i, i + limit).map((k) => this.o.store.read(k)));
      for (const b of batch) if (b) values.push(b.value);
    }
    return latticeReadOf(values, 'bucket');
  }

  async preview(req: PreviewRequest): Promise<AppPlan & { source: LatticeRead['source'] }> {
    const state = await this.read(req.ref);
    const plan = planApp({
      lattice: req.ref.lattice,
      now: (this.o.now ?? Date.now)(),
      app: req.app,
      deployed: req.deployed,
      candidate: req.candidate,
      others: req.others,
      ...(req.released && req.released.length > 0 ? { released: [...req.released] } : {}),
      applied: state.applied,
      observed: state.observed,
      inflight: state.inflight,
      backoffMs: this.o.backoffMs ?? DEFAULT_BACKOFF_MS,
      ...(this.o.unseenGraceMs !== undefined ? { unseenGraceMs: this.o.unseenGraceMs } : {}),
    });
    return { ...plan, source: state.source };
  }
}
