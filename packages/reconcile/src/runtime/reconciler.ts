/**
 * `reconcile(lattice)`: level-triggered and idempotent, in the controller-runtime mould, run only by the
 * lattice's lease holder. It reads desired state (deployed manifests) and observed state from the
 * replica's in-memory views (no KV reads), hands them to the pure pass `plan/reconcile.ts` (the planner,
 * and which records to write or remove, which statuses to publish, when to come back), and executes
 * what it decided — every write fenced by the lease epoch:
 *   - in-flight records (compare-and-set on the revision the view holds; a record written at a newer
 *     epoch means the lease is lost), then the command on `wadm.cmd.*` carrying the epoch;
 *   - applied records (compare-and-set, epoch-checked);
 *   - statuses (expected last subject sequence + epoch header, see StatusPublisher).
 * The lease is checked before the pass writes anything and before every write; a lost lease stops the
 * pass (LeaseLostError).
 */
import type { LatticeRef } from '@wadm-ts/protocol';
import { createHash, randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { Status } from '@wadm-ts/model';
import { releasedOf, type JetStreamContext, type ManifestStore, type ManifestView, type StateView } from '@wadm-ts/store';
import type { Logger, Metrics, Tracing } from '@wadm-ts/obs';
import { commandKey } from '../plan/index.js';
import { reconcile } from '../plan/reconcile.js';
import { ScalerMemo } from '../plan/scaler-memo.js';
import type { Command, InFlight } from '../types.js';
import { publishCommand } from './commands.js';
import { LeaseLostError, type Held } from './lease-records.js';
import { StatusPublisher } from './status-publisher.js';
import { RolloutWriter } from './rollouts.js';
import { HealthyMarks } from './healthy-marks.js';
import { FencedRecords } from './fenced-records.js';
import { mapLimit } from './map-limit.js';
import { stateKeys } from '@wadm-ts/store';

export interface LeaseCheck {
  holds(ref: LatticeRef, epoch: number): boolean;
}

export interface ReconcilerOptions {
  ctx: JetStreamContext;
  /** The state bucket (writes of in-flight and applied records). */
  stateKv: KV;
  state: StateView;
  manifests: ManifestView;
  leases: LeaseCheck;
  logger: Logger;
  metrics: Metrics;
  /**
   * How long a provider start or an in-place component update (an image fetch) blocks re-issue while its
   * effect is awaited, ms (default 30 000; `--update-timeout-ms`); every other command waits 5 s.
   */
  updateTimeoutMs?: number;
  backoffMs?: number;
  /** How long an applied link/config no longer wanted stays on record while unseen (see `AppliedRecord.unseen`). */
  unseenGraceMs?: number;
  /** A span per pass (OTLP traces); none when absent. */
  tracing?: Tracing;
  now?: () => number;
  /** Writes in flight per pass (default 64). */
  writeConcurrency?: number;
  /**
   * Status publishes in flight per pass (default 256). Each waits for its stream's acknowledgement, and the
   * next pass of the lattice waits for the last of them: with 64 in flight, a pass publishing the statuses of
   * a few hundred apps spent most of its time waiting on round trips. Bounded all the same: the lease is
   * checked before each publish, so an owner stalled in this phase releases at most this many on resume
   * (each still compare-and-set on the app's last status).
   */
  statusConcurrency?: number;
  /**
   * The manifest store the owner writes rollout history and automatic reverts through (compare-and-set on
   * the view's revision). Without it, no rollout history is kept and nothing is reverted.
   */
  manifestStore?: ManifestStore;
  /** Test-only: no epoch checks on writes. */
  unsafeDisableFencing?: boolean;
}

/** Like the Rust wadm's expected-event expiry: components, links and configs 5 s; providers and in-place component updates 30 s (a start or update fetches an image first). */
const DEFAULT_UPDATE_TIMEOUT_MS = 30_000;

export interface PassResult {
  commands: Command[];
  statuses: Record<string, Status>;
  /** The pass's plan can change by time alone at this moment (ms, wall clock), if any. */
  requeueAt?: number;
  /** No live host and no deployed app. */
  idle: boolean;
  /** Statuses this pass published (changed). */
  published: number;
}

/** The per-lattice memory an owner keeps between passes (dropped when the lease is lost). */
export class OwnedLattice {
  readonly statuses: StatusPublisher;
  /** Apps stored as of this owner's last pass (undefined before its first). */
  stored: Set<string> | undefined;
  /** Apps whose record went since a pass of this owner saw it, and whose `undeployed` status is not yet published. */
  readonly gone = new Set<string>();
  /** Converged scaler evaluations kept between this owner's passes (plan/scaler-memo.ts). */
  readonly memo = new ScalerMemo();
  /** Healthy marks (history only) waiting for a quiet lattice (healthy-marks.ts). */
  readonly marks = new HealthyMarks();
  constructor(
    readonly held: Held,
    ctx: JetStreamContext,
    fenced: boolean,
  ) {
    this.statuses = new StatusPublisher(ctx, held.ref, held.epoch, fenced);
  }
}

export class Reconciler {
  private readonly duration;
  private readonly results;
  private readonly issued;
  private readonly appsByStatus;
  private readonly fenced;
  private readonly drift;
  private readonly reused;
  private readonly marksWritten;
  private readonly rollouts: RolloutWriter | undefined;
  private readonly records: FencedRecords;

  constructor(private readonly o: ReconcilerOptions) {
    this.rollouts = o.manifestStore ? new RolloutWriter({ ctx: o.ctx, store: o.manifestStore, manifests: o.manifests, metrics: o.metrics }) : undefined;
    this.duration = o.metrics.histogram('wadm_reconcile_duration_seconds', 'time to reconcile one lattice (one pass)', []);
    this.results = o.metrics.counter('wadm_reconciles_total', 'lattice reconcile passes, by result', ['result']);
    this.issued = o.metrics.counter('wadm_commands_issued_total', 'commands written to the command stream, by type', ['type']);
    this.appsByStatus = o.metrics.gauge('wadm_apps_by_status', 'deployed apps by aggregate status (lattices this replica owns)', ['lattice', 'status']);
    this.fenced = o.metrics.counter('wadm_fenced_writes_total', 'writes refused or abandoned because a newer lease epoch exists, by kind', ['kind']);
    this.drift = o.metrics.counter('wadm_drift_corrections_total', 'configs and links put again because the hosts lost or changed what was applied, by kind', ['kind']);
    this.reused = o.metrics.counter('wadm_scaler_evaluations_reused_total', 'scaler evaluations a pass took from the owner\'s memo instead of planning them again: converged, or pinned (placements in flight)', ['kind']);
    this.marksWritten = o.metrics.counter('wadm_healthy_marks_written_total', 'history-only healthy marks written to app records once the lattice was quiet (or they had waited long enough)', []);
    this.records = new FencedRecords({ kv: o.stateKv, view: o.state, check: (h) => this.check(h), fenced: this.fenced, ...(o.unsafeDisableFencing ? { unsafeDisableFencing: true } : {}) });
  }

  /** Forget a lattice's per-lattice series (lease lost or lattice collected). */
  forgetMetrics(ref: LatticeRef): void {
    for (const t of STATUS_TYPES) this.appsByStatus.remove({ lattice: ref.lattice, status: t });
  }

  async reconcile(owned: OwnedLattice): Promise<PassResult> {
    const end = this.duration.startTimer();
    try {
      const ref = owned.held.ref;
      const attrs = { lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), 'wadm.epoch': owned.held.epoch };
      const r = this.o.tracing
        ? await this.o.tracing.span('wadm.reconcile', attrs, async (span) => {
            const x = await this.pass(owned);
            span.setAttribute('wadm.commands', x.commands.length);
            return x;
          })
        : await this.pass(owned);
      this.results.inc({ result: r.commands.length > 0 ? 'commands' : 'converged' });
      return r;
    } catch (err) {
      this.results.inc({ result: err instanceof LeaseLostError ? 'lease_lost' : 'error' });
      if (err instanceof LeaseLostError) this.fenced.inc({ kind: 'pass' });
      throw err;
    } finally {
      end();
    }
  }

  private check(h: Held): void {
    if (this.o.unsafeDisableFencing) return;
    if (!this.o.leases.holds(h.ref, h.epoch)) throw new LeaseLostError(h.ref, h.epoch, 'lease no longer held');
  }

  private async pass(owned: OwnedLattice): Promise<PassResult> {
    const h = owned.held;
    const ref = h.ref;
    this.check(h);
    const now = (this.o.now ?? Date.now)();
    const log = this.o.logger.child({ lattice: ref.lattice, epoch: h.epoch });
    const scope = ref.account ? { lattice: ref.lattice, account: ref.account } : { lattice: ref.lattice };
    const stored = this.o.manifests.apps(scope);
    const storedNames = new Set(stored.map((a) => a.name));
    if (owned.stored) for (const n of owned.stored) if (!storedNames.has(n)) owned.gone.add(n);
    for (const n of storedNames) owned.gone.delete(n);
    owned.stored = storedNames;
    const view = this.o.state.read(ref);
    for (const f of view.inflight) {
      if (!this.o.unsafeDisableFencing && (f.value.epoch ?? 0) > h.epoch) {
        this.fenced.inc({ kind: 'inflight' });
        throw new LeaseLostError(ref, h.epoch, `in-flight record ${f.key} was written at epoch ${f.value.epoch}`);
      }
    }
    const r = reconcile({
      lattice: ref.lattice,
      now,
      stored: stored.map((a) => {
        const revision = this.o.manifests.revisionOf(scope, a.name);
        return { name: a.name, deployedVersion: a.deployedVersion, versions: a.versions, released: releasedOf(a) !== undefined, ...(a.rollout ? { rollout: a.rollout } : {}), ...(revision !== undefined ? { revision } : {}) };
      }),
      gone: [...owned.gone],
      observed: { ...view.snapshot, failures: view.failures },
      inflight: view.inflight,
      applied: view.applied,
      ...(this.o.backoffMs !== undefined ? { backoffMs: this.o.backoffMs } : {}),
      ...(this.o.unseenGraceMs !== undefined ? { unseenGraceMs: this.o.unseenGraceMs } : {}),
      memo: owned.memo,
    });
    const reused = owned.memo.takeReused();
    if (reused.converged > 0) this.reused.inc({ kind: 'converged' }, reused.converged);
    if (reused.pinned > 0) this.reused.inc({ kind: 'pinned' }, reused.pinned);
    this.check(h);

    // In-flight records whose every entry is done go (CAS on the revision seen).
    const limit = this.o.writeConcurrency ?? 64;
    await mapLimit(r.records.purge, limit, (rec) => this.records.remove(rec));

    // Applied records first: the links and managed configs this pass puts are on record before their
    // commands exist, so whoever owns the lattice next (after a crash right after the commands went out)
    // knows whose they are and cleans them up after an undeploy. A record that changed under us holds
    // this pass's commands back until the next pass has decided again.
    const recorded = await mapLimit(r.records.write, limit, async (w) => (await this.records.write(h, stateKeys.applied(ref, w.record.app), { kind: 'applied', record: w.record, epoch: h.epoch }, w.current)) !== undefined);
    // Held back: a record changed under this pass and there are commands to wait for the next pass.
    const held = !recorded.every(Boolean) && r.commands.length > 0;
    const commands = held ? [] : r.commands;

    const chunks: Command[][] = [];
    for (let i = 0; i < commands.length; i += COMMANDS_PER_MESSAGE) chunks.push(commands.slice(i, i + COMMANDS_PER_MESSAGE));
    const sent = (await mapLimit(chunks, limit, (c) => this.issue(h, c, now))).flat();
    if (sent.length > 0) log.info({ commands: sent.length, kinds: [...new Set(sent.map((c) => c.kind))] }, 'commands issued');
    if (sent.length > 0) {
      for (const d of r.drift) {
        this.drift.inc({ kind: d.kind });
        log.warn({ app: d.app, kind: d.kind, name: d.name }, 'drift: the hosts lost or changed what was applied; putting it again');
      }
    }
    if (held) log.info({ held: r.commands.length }, 'an applied record changed under this pass: its commands wait for the next pass');

    await mapLimit(r.records.remove, limit, async (a) => {
      this.check(h);
      if ((a.value.epoch ?? 0) > h.epoch) throw new LeaseLostError(ref, h.epoch, 'applied record written at a newer epoch');
      await this.records.remove(a);
    });

    const statuses = r.statuses;
    const gone = Object.keys(r.gone);
    // Automatic reverts, as the pass decided (a reverted app's status becomes its revert status).
    // History-only healthy marks wait for a quiet lattice (healthy-marks.ts); the others are written in this pass.
    const urgent = r.rollouts.marks.filter((w) => !w.history);
    if (this.rollouts) for (const w of r.rollouts.marks) if (w.history) owned.marks.add(w, now);
    const rollouts = this.rollouts ? await this.rollouts.apply(h, { reverts: r.rollouts.reverts, marks: urgent }, statuses, () => this.check(h), log) : undefined;
    this.check(h);
    await owned.statuses.preload([...Object.keys(statuses), ...gone]);
    // Only what may differ from what is published goes through the (asynchronous) publisher.
    const changed: Array<[string, Status]> = [];
    for (const name in statuses) {
      const st = statuses[name]!;
      if (!owned.statuses.unchanged(name, st)) changed.push([name, st]);
    }
    const statusLimit = this.o.statusConcurrency ?? 256;
    await mapLimit(changed, statusLimit, async ([name, st]) => {
      if (!this.o.unsafeDisableFencing) this.check(h);
      if (await owned.statuses.publish(name, st)) log.info({ app: name, status: st.status.type, message: st.status.message }, 'status changed');
    });
    await mapLimit(Object.entries(r.gone), statusLimit, async ([name, st]) => {
      if (!this.o.unsafeDisableFencing) this.check(h);
      if (await owned.statuses.publish(name, st)) log.info({ app: name, status: 'undeployed' }, 'status of a deleted app set to undeployed');
      owned.gone.delete(name);
    });
    // Marks (versions that became healthy): after the statuses, which do not wait for them; history-only
    // marks that waited long enough too (otherwise the owner writes them once the lattice is quiet).
    await rollouts?.marks();
    if (owned.marks.due(now)) await this.flushMarks(owned);
    const counts = new Map<string, number>();
    for (const a of r.apps) {
      const t = statuses[a.name]?.status.type ?? 'undeployed';
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    for (const t of STATUS_TYPES) this.appsByStatus.set({ lattice: ref.lattice, status: t }, counts.get(t) ?? 0);
    // Held commands: come back at once; otherwise when the plan can change by time alone.
    const requeueAt = held ? now : r.requeueAfterMs === undefined ? undefined : now + r.requeueAfterMs;
    return {
      commands: sent,
      statuses,
      ...(requeueAt !== undefined ? { requeueAt } : {}),
      idle: r.idle,
      published: changed.length,
    };
  }

  /**
   * Write the healthy marks the owner kept (healthy-marks.ts), under the lease: the owner calls this when a
   * pass ended with nothing queued after it, and a pass does when the oldest has waited long enough.
   */
  async flushMarks(owned: OwnedLattice): Promise<void> {
    const store = this.o.manifestStore;
    if (!store || owned.marks.size === 0) return;
    const h = owned.held;
    this.check(h);
    const r = await owned.marks.flush(h.ref, this.o.manifests, store, () => this.check(h));
    if (r.written > 0) this.marksWritten.inc({}, r.written);
  }

  /**
   * Record a chunk of commands in flight (one new record, carrying the epoch), then publish them as one
   * message with the epoch and a message id unique to this issuance.
   */
  private async issue(h: Held, chunk: Command[], now: number): Promise<Command[]> {
    const fetchMs = this.o.updateTimeoutMs ?? DEFAULT_UPDATE_TIMEOUT_MS;
    const ttl = (c: Command): number => (c.kind === 'StartProvider' || c.kind === 'UpdateComponent' ? fetchMs : 5_000);
    const entries = chunk.map((c) => ({ key: commandKey(c), command: c, issuedAt: now, expiresAt: now + ttl(c) }));
    const id = `b-${h.epoch}-${randomUUID()}`;
    const expiresAt = Math.max(...entries.map((e) => e.expiresAt));
    const rev = await this.records.write(h, stateKeys.inflight(h.ref, id), { kind: 'inflight', key: id, entries, issuedAt: now, expiresAt, epoch: h.epoch }, undefined);
    if (rev === undefined) return [];
    this.check(h);
    const msgId = createHash('sha256').update(`${h.ref.account ?? ''}|${h.ref.lattice}|${id}`).digest('hex');
    await publishCommand(this.o.ctx, h.ref, chunk, msgId, { epoch: h.epoch, expiresAt: entries.map((e) => e.expiresAt) });
    for (const c of chunk) this.issued.inc({ type: c.kind });
    return chunk;
  }
}

/** Commands per command-stream message (and per in-flight record). */
const COMMANDS_PER_MESSAGE = 32;

const STATUS_TYPES = ['deployed', 'reconciling', 'failed', 'unhealthy', 'undeployed', 'waiting'] as const;

export type { InFlight };
