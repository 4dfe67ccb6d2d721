/** Executing a plan against the lattice state store (the I/O edge of plan.ts). */
import type { LatticeStateStore, StoredValue } from '@wadm-ts/store';
import { semanticallyChanged, sweepDecision, type Op } from './plan.js';

/** Apply the ops in order; returns whether any write changed reconciler-relevant state. */
export async function applyOps(store: LatticeStateStore, ops: readonly Op[]): Promise<boolean> {
  let changed = false;
  for (const op of ops) {
    if (op.kind === 'update') {
      const r = await store.update<StoredValue>(op.key, op.decide);
      if (r.written && semanticallyChanged(r.previous, r.written)) changed = true;
    } else {
      const keys = (await store.keys(op.filter, { fresh: op.final === true })).filter((k) => !op.keep.has(k));
      const results = await Promise.all(keys.map((k) => store.update<StoredValue>(k, (cur) => sweepDecision(cur, op.seq, op.timeMs, op.all === true))));
      if (results.some((r) => r.written && semanticallyChanged(r.previous, r.written))) changed = true;
    }
  }
  return changed;
}
