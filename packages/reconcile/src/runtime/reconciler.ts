/**
 * `reconcile(lattice)`: level-triggered and idempotent, in the controller-runtime mould. Read desired
 * state (deployed manifests) and observed state (KV), run the pure planner, persist in-flight commands
 * (compare-and-set, so a new owner does not re-issue what is under way) and publish them to the command
 * stream, publish changed statuses, and remember what was applied for later cleanup.
 */
import { createHash } from 'node:crypto';
import { cloudEvent } from '@wadm-ts/protocol';
import { statusToWire, type Status } from '@wadm-ts/model';
import {
  readLatticeSnapshot,
  stateKeys,
  type AppliedValue,
  type FailureState,
  type InFlightValue,
  type JetStreamContext,
  type LatticeRef,
  type LatticeStateStore,
  type ManifestStore,
  type StatusStore,
} from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { commandKey, isSatisfied, planLattice } from '../plan/index.js';
import type { AppliedRecord, Command, DeployedApp, InFlight } from '../types.js';
import { publishCommand } from './commands.js';

export interface ReconcilerOptions {
  ctx: JetStreamContext;
  manifests: ManifestStore;
  state: LatticeStateStore;
  statuses: StatusStore;
  logger: Logger;
  metrics: Metrics;
  /** How long an issued command blocks re-issue while its event is awaited (ms). */
  inflightTtlMs?: (c: Command) => number;
  backoffMs?: number;
  now?: () => number;
}


/** Like the Rust wadm's expected-event expiry: components, links and configs 5 s; providers 30 s (their start is slower). */
const defaultTtl = (c: Command): number => (c.kind === 'StartProvider' ? 30_000 : 5_000);

export const UNDEPLOYED_STATUS: Status = { status: { type: 'undeployed', message: 'Manifest has been undeployed' }, version: '', components: [] };

export class Reconciler {
  private readonly duration;
  private readonly results;
  private readonly issued;
  private readonly appsByStatus;

  constructor(private readonly o: ReconcilerOptions) {
    this.duration = o.metrics.histogram('wadm_reconcile_duration_seconds', 'time to reconcile one lattice', []);
    this.results = o.metrics.counter('wadm_reconciles_total', 'lattice reconciles, by result', ['result']);
    this.issued = o.metrics.counter('wadm_commands_issued_total', 'commands written to the command stream, by type', ['type']);
    this.appsByStatus = o.metrics.gauge('wadm_apps_by_status', 'deployed apps by aggregate status (last reconcile of each lattice on this replica)', ['lattice', 'status']);
  }

  async reconcile(ref: LatticeRef): Promise<{ commands: Command[]; statuses: Record<string, Status> }> {
    const end = this.duration.startTimer();
    try {
      const r = await this.pass(ref);
      this.results.inc({ result: r.commands.length > 0 ? 'commands' : 'converged' });
      return r;
    } catch (err) {
      this.results.inc({ result: 'error' });
      throw err;
    } finally {
      end();
    }
  }

  private async pass(ref: LatticeRef): Promise<{ commands: Command[]; statuses: Record<string, Status> }> {
    const now = (this.o.now ?? Date.now)();
    const log = this.o.logger.child({ lattice: ref.lattice });
    const scope = ref.account ? { lattice: ref.lattice, account: ref.account } : { lattice: ref.lattice };
    const stored = await this.o.manifests.listApps(scope);
    const apps: DeployedApp[] = [];
    for (const a of stored) {
      const v = a.deployedVersion === null ? undefined : a.versions.find((x) => x.version === a.deployedVersion);
      if (v) apps.push({ name: a.name, version: v.version, manifest: v.manifest });
    }
    const [snapshot, failures, inflightAll, appliedAll] = await Promise.all([
      readLatticeSnapshot(this.o.state, ref),
      this.o.state.list<FailureState>(stateKeys.failures(ref)),
      this.o.state.list<InFlightValue>(stateKeys.inflights(ref)),
      this.o.state.list<AppliedValue>(stateKeys.applieds(ref)),
    ]);
    const observed = { ...snapshot, failures: failures.map((f) => f.value) };
    // Drop in-flight records that are observed done or expired.
    const inflight: InFlight[] = [];
    for (const f of inflightAll) {
      const entry: InFlight = { key: f.value.key, command: f.value.command as Command, issuedAt: f.value.issuedAt, expiresAt: f.value.expiresAt };
      if (entry.expiresAt <= now || isSatisfied(entry.command, observed)) await this.o.state.purgeIfUnchanged(f.key, f.revision);
      else inflight.push(entry);
    }
    const applied = appliedAll.map((a) => a.value.record as AppliedRecord);
    const plan = planLattice({
      lattice: ref.lattice,
      now,
      apps,
      applied,
      observed,
      inflight,
      ...(this.o.backoffMs !== undefined ? { backoffMs: this.o.backoffMs } : {}),
    });

    const sent: Command[] = [];
    for (const c of plan.commands) {
      if (await this.issue(ref, c, now)) sent.push(c);
    }
    if (sent.length > 0) log.info({ commands: sent.map((c) => c.kind) }, 'commands issued');

    // Applied records: write the new ones, drop the ones for apps that own nothing any more.
    const keep = new Set(plan.applied.map((a) => a.app));
    for (const rec of plan.applied) {
      await this.o.state.update<AppliedValue>(stateKeys.applied(ref, rec.app), (cur) =>
        cur && JSON.stringify(cur.record) === JSON.stringify(rec) ? { skip: true } : { write: { kind: 'applied', record: rec } },
      );
    }
    for (const a of appliedAll) if (!keep.has((a.value.record as AppliedRecord).app)) await this.o.state.purgeIfUnchanged(a.key, a.revision);

    // Statuses: deployed apps from the plan; apps that are stored but not deployed are undeployed.
    const statuses: Record<string, Status> = { ...plan.statuses };
    for (const a of stored) if (a.deployedVersion === null) statuses[a.name] = UNDEPLOYED_STATUS;
    for (const [name, st] of Object.entries(statuses)) {
      if (await this.o.statuses.publishIfChanged(ref.lattice, name, st)) {
        const ev = cloudEvent('wadm', 'com.wadm.application_status', { name, status: statusToWire(st) });
        await this.o.ctx.js.publish(`wadm.evt.${ref.lattice}.application_status`, JSON.stringify(ev));
        log.info({ app: name, status: st.status.type, message: st.status.message }, 'status changed');
      }
    }
    const counts = new Map<string, number>();
    for (const a of apps) {
      const t = statuses[a.name]?.status.type ?? 'undeployed';
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    for (const t of ['deployed', 'reconciling', 'failed', 'unhealthy', 'undeployed', 'waiting']) this.appsByStatus.set({ lattice: ref.lattice, status: t }, counts.get(t) ?? 0);
    return { commands: sent, statuses };
  }

  /**
   * Record the command as in flight (compare-and-set: if another owner recorded it meanwhile, do not
   * send it again), then publish it with a message id unique to this issuance.
   */
  private async issue(ref: LatticeRef, c: Command, now: number): Promise<boolean> {
    const key = commandKey(c);
    const ttl = (this.o.inflightTtlMs ?? defaultTtl)(c);
    const r = await this.o.state.update<InFlightValue>(stateKeys.inflight(ref, key), (f) => {
      if (f && f.expiresAt > now && JSON.stringify(f.command) === JSON.stringify(c)) return { skip: true };
      return { write: { kind: 'inflight', key, command: c, issuedAt: now, expiresAt: now + ttl } };
    });
    if (!r.written) return false;
    const msgId = createHash('sha256').update(`${ref.account ?? ''}|${ref.lattice}|${JSON.stringify(c)}|${now}`).digest('hex');
    await publishCommand(this.o.ctx, ref, c, msgId);
    this.issued.inc({ type: c.kind });
    return true;
  }
}
