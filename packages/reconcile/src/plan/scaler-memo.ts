/**
 * Converged scalers are not evaluated again while nothing they depend on changed: a pass at 1,000 apps
 * spent most of its time re-placing instances that were already where they belong.
 *
 * A workload scaler's evaluation (`evalWorkload`) depends on its spec, the instances of its entity, the
 * live hosts and their labels, in-flight placements of its entity, and its configs. An evaluation is
 * kept only when it is clean — no command, failure, waiting reason or held instance, every instance the
 * scaler's own — and reused only when the spec is the same (the same object, as desired state is
 * memoised per stored manifest, or an equal one after the app record was rewritten), the entity's instances are the very same objects in the same order (`instanceOf` memoises
 * them per state value, and the view replaces a value only when it changes), the hosts and their labels
 * are the same, nothing of the entity is in flight, and its configs gate the same way (ready, nothing to
 * wait for). Then the evaluation would be the same: a clean scaler whose instances are all its own
 * places them where they are (the load of other hosts only decides where new instances go), adds no
 * load and issues nothing. `packages/reconcile/test/plan-memo.test.ts` plans sequences of lattices with and without a
 * memo and compares every output.
 *
 * A memo belongs to one lattice's owner; it is a cache and never changes what a pass decides.
 */
import { SCALER_KEY } from '@wadm-ts/protocol';
import type { HostEntity } from '@wadm-ts/entities';
import type { WorkloadSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import type { Instance } from './observed.js';
import { sameJson } from './ids.js';
import { opsFor } from './commands.js';
import { scalingMessage } from './workloads.js';

interface Entry {
  spec: WorkloadSpec;
  instances: Instance[];
  eval: ScalerEval;
}

export class ScalerMemo {
  private entries = new Map<string, Entry>();
  private next = new Map<string, Entry>();
  private hostsKey: string | undefined;
  /** Scalers reused in the current pass (read by tests). */
  reused = 0;

  /** Start a pass over these live hosts: a change of hosts or labels forgets everything. */
  begin(hosts: readonly HostEntity[]): void {
    let key = '';
    for (const h of hosts) {
      key += `${h.id}\u0001`;
      for (const k of Object.keys(h.labels).sort()) key += `${k}\u0002${h.labels[k]}\u0003`;
      key += '\u0004';
    }
    if (key !== this.hostsKey) this.entries.clear();
    this.hostsKey = key;
    this.next = new Map();
    this.reused = 0;
  }

  /** End a pass: only scalers of this pass are kept. */
  end(): void {
    this.entries = this.next;
    this.next = new Map();
  }

  /** The clean evaluation kept for `spec`, if its inputs are unchanged (`pending`/`gateClean` as above). */
  get(spec: WorkloadSpec, byHost: ReadonlyMap<string, Instance>, pending: boolean, gateClean: boolean): ScalerEval | undefined {
    const e = this.entries.get(spec.id);
    if (!e || pending || !gateClean || e.instances.length !== byHost.size) return undefined;
    // A rewritten app record (e.g. its rollout history) decodes into new, equal specs: compared by value once.
    if (e.spec !== spec) {
      if (!sameJson(e.spec, spec)) return undefined;
      e.spec = spec;
    }
    let i = 0;
    for (const inst of byHost.values()) if (inst !== e.instances[i++]) return undefined;
    this.next.set(spec.id, e);
    this.reused++;
    return e.eval;
  }

  /** Keep `ev` for `spec` when it is clean and every instance is the scaler's own. */
  put(spec: WorkloadSpec, byHost: ReadonlyMap<string, Instance>, pending: boolean, gateClean: boolean, ev: ScalerEval): void {
    if (pending || !gateClean || ev.commands.length > 0 || ev.failures.length > 0 || ev.waiting.length > 0 || (ev.held?.length ?? 0) > 0) return;
    const instances = [...byHost.values()];
    if (instances.some((i) => i.annotations[SCALER_KEY] !== spec.id)) return;
    // Kept detached from the pass that made it: `busy` of a clean evaluation is the plain scaling message,
    // while the evaluation's own closure holds that pass's whole context (observed index, host load).
    const kept: ScalerEval = { id: ev.id, kind: ev.kind, name: ev.name, app: ev.app, commands: [], failures: [], waiting: [], unhealthy: ev.unhealthy, busy: scalingMessage(opsFor(spec.workload).noun), held: [] };
    this.next.set(spec.id, { spec, instances, eval: kept });
  }
}
