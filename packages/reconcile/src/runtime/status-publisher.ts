/**
 * Fenced status publishing. The owner keeps the last status it knows per app in memory (read once from
 * `wadm_status` the first time an app is seen after acquiring the lattice), publishes only on change,
 * and publishes with `Nats-Expected-Last-Subject-Sequence` plus a `Wadm-Epoch` header: a stale owner's
 * publish fails when a newer owner published meanwhile, and a status written at a newer epoch is never
 * overwritten by an older one.
 */
import { headers } from '@nats-io/transport-node';
import PQueue from 'p-queue';
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { statusFromWire, statusToWire, type Status } from '@wadm-ts/model';
import { APPLICATION_STATUS, appOfStatusSubject, cloudEventJson, STATUS_STREAM, statusSubject, TENANT_STATUS_STREAM, wadmEventSubject, type LatticeRef } from '@wadm-ts/protocol';
import { isCasConflict, isNoMessage, streamName, type JetStreamContext } from '@wadm-ts/store';
import { sameJson } from '../plan/ids.js';
import { LeaseLostError } from './lease-records.js';

export const EPOCH_HEADER = 'Wadm-Epoch';

/** Status sweeps (one short-lived consumer each) a replica runs at once. */
export const SWEEPS_AT_ONCE = 4;
/** Fewer statuses than this in a lattice are read one by one (direct reads, no consumer), not swept. */
export const SWEEP_FROM_SUBJECTS = 32;

/** A pass asks whether a status changed, then publishes it: its wire object is built once per status. */
const wireOf = new WeakMap<Status, Record<string, unknown>>();
function toWire(status: Status): Record<string, unknown> {
  let w = wireOf.get(status);
  if (w === undefined) wireOf.set(status, (w = statusToWire(status)));
  return w;
}

/**
 * `JSON.stringify(cloudEvent('wadm', APPLICATION_STATUS, { name, status }))`, with the status's JSON
 * already at hand (the same bytes, the status not encoded twice).
 */
export function applicationStatusEvent(name: string, statusJson: string, now: Date = new Date()): string {
  return cloudEventJson('wadm', APPLICATION_STATUS, `{"name":${JSON.stringify(name)},"status":${statusJson}}`, now);
}

interface Known {
  /** The published status as its wire object (compared without building strings); undefined when unreadable. */
  obj: Record<string, unknown> | undefined;
  /**
   * The last status object found equal to it (or published): the planner hands out the very same object
   * for an app that did not change (plan/scaler-memo.ts), which is then known unchanged without a compare.
   */
  matched?: Status;
  seq: number;
  epoch: number;
}

export class StatusPublisher {
  private readonly known = new Map<string, Known | null>();

  /** The stream statuses of this lattice live on (per account in multitenant mode). */
  private get stream(): string {
    return this.ref.account ? TENANT_STATUS_STREAM : streamName(this.ctx, STATUS_STREAM);
  }
  private preloaded = false;

  constructor(
    private readonly ctx: JetStreamContext,
    private readonly ref: LatticeRef,
    private readonly epoch: number,
    private readonly fenced: boolean,
  ) {}

  private parse(m: { data: Uint8Array; seq: number; header?: { get(k: string): string } | undefined }): Known {
    let obj: Record<string, unknown> | undefined;
    try {
      const st = statusFromWire(JSON.parse(new TextDecoder().decode(m.data)));
      obj = st ? statusToWire(st) : undefined;
    } catch {
      obj = undefined;
    }
    return { obj, seq: m.seq, epoch: Number(m.header?.get(EPOCH_HEADER) || 0) };
  }

  /**
   * Learn the last status of every app of the lattice in one sweep (an ordered consumer delivering the
   * last message per subject), instead of one read per app; a lattice with fewer than
   * `SWEEP_FROM_SUBJECTS` statuses is read one status at a time, without a consumer. Apps with no status
   * are known to have none.
   */
  async preload(names: readonly string[], timeoutMs = 5000): Promise<void> {
    if (this.preloaded) return;
    this.preloaded = true;
    // A few sweeps at a time in this process: a replica taking over many lattices at once holds a few
    // short-lived consumers, not one per lattice.
    await StatusPublisher.sweeps.add(() => this.sweep(names, timeoutMs));
  }

  /** This process's status sweeps (see `preload`). */
  private static readonly sweeps = new PQueue({ concurrency: SWEEPS_AT_ONCE });

  private async sweep(names: readonly string[], timeoutMs: number): Promise<void> {
    const filter = statusSubject(this.ref.lattice, '*', this.ref.account);
    try {
      const info = await this.ctx.jsm.streams.info(this.stream, { subjects_filter: filter });
      const subjects = Object.keys(info.state.subjects ?? {});
      const count = subjects.length;
      const seen = new Map<string, Known>();
      if (count > 0 && count < SWEEP_FROM_SUBJECTS) {
        // A few statuses: read each (no consumer at all), as a lattice of a few apps needs.
        await Promise.all(
          subjects.map(async (subj) => {
            const name = appOfStatusSubject(subj);
            const k = await this.load(name);
            if (k) seen.set(name, k);
          }),
        );
      } else if (count > 0) {
        const c = await this.ctx.js.consumers.get(this.stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.LastPerSubject });
        const iter = await c.consume({ max_messages: 512 });
        const timer = setTimeout(() => iter.stop(), timeoutMs);
        for await (const m of iter as AsyncIterable<JsMsg>) {
          const name = appOfStatusSubject(m.subject);
          seen.set(name, this.parse(m));
          if (m.info.pending === 0) break;
        }
        clearTimeout(timer);
        iter.stop();
        // Ephemeral: removed at once, so no consumer outlives the sweep.
        await c.delete().catch(() => false);
      }
      for (const n of names) if (!this.known.has(n)) this.known.set(n, seen.get(n) ?? null);
      for (const [n, k] of seen) if (!this.known.has(n)) this.known.set(n, k);
    } catch {
      // fall back to reading per app
    }
  }

  private async load(name: string): Promise<Known | null> {
    const subj = statusSubject(this.ref.lattice, name, this.ref.account);
    try {
      const m = await this.ctx.jsm.streams.getMessage(this.stream, { last_by_subj: subj });
      if (!m) return null;
      return this.parse(m);
    } catch (err) {
      if (isNoMessage(err)) return null;
      throw err;
    }
  }

  /**
   * True when `status` is known to be what is published for `name` (false: different, or not known yet).
   * Synchronous and without building strings: a pass at rest asks it for every app.
   */
  unchanged(name: string, status: Status): boolean {
    const k = this.known.get(name);
    if (k !== undefined && k !== null && k.matched === status) return true;
    if (!this.same(k, toWire(status))) return false;
    k!.matched = status;
    return true;
  }

  private same(k: Known | null | undefined, obj: Record<string, unknown>): boolean {
    return k !== undefined && k !== null && k.obj !== undefined && sameJson(k.obj, obj);
  }

  /** Publish `status` for app `name` unless it is what is already published. Returns whether it published. */
  async publish(name: string, status: Status): Promise<boolean> {
    const obj = toWire(status);
    const json = JSON.stringify(obj);
    for (let attempt = 0; attempt < 3; attempt++) {
      let k = this.known.get(name);
      if (k === undefined) {
        k = await this.load(name);
        this.known.set(name, k);
      }
      if (this.same(k, obj)) return false;
      if (this.fenced && k && k.epoch > this.epoch) throw new LeaseLostError(this.ref, this.epoch, `status of ${name} was published at epoch ${k.epoch}`);
      const h = headers();
      h.set(EPOCH_HEADER, String(this.epoch));
      try {
        const ack = await this.ctx.publisher.publish(statusSubject(this.ref.lattice, name, this.ref.account), json, {
          headers: h,
          ...(this.fenced && k ? { expectLastSubjectSequence: k.seq } : {}),
        });
        this.known.set(name, { obj, seq: ack.seq, epoch: this.epoch, matched: status });
      } catch (err) {
        if (!isCasConflict(err)) throw err;
        this.known.delete(name); // someone else published: re-read and decide again
        continue;
      }
      // A notification: published without waiting for the stream's ack (the stream still captures it).
      this.ctx.nc.publish(wadmEventSubject(this.ref.lattice, 'application_status', this.ref.account), applicationStatusEvent(name, json));
      return true;
    }
    throw new LeaseLostError(this.ref, this.epoch, `status of ${name} keeps changing under this owner`);
  }

  forget(name: string): void {
    this.known.delete(name);
  }
}
