/**
 * Fenced status publishing. The owner keeps the last status it knows per app in memory (read once from
 * `wadm_status` the first time an app is seen after acquiring the lattice), publishes only on change,
 * and publishes with `Nats-Expected-Last-Subject-Sequence` plus a `Wadm-Epoch` header: a stale owner's
 * publish fails when a newer owner published meanwhile, and a status written at a newer epoch is never
 * overwritten by an older one.
 */
import { headers } from '@nats-io/transport-node';
import { statusFromWire, statusToWire, type Status } from '@wadm-ts/model';
import { cloudEvent, statusSubject } from '@wadm-ts/protocol';
import { STATUS_STREAM, isCasConflict, type JetStreamContext, type LatticeRef } from '@wadm-ts/store';
import { LeaseLostError } from './leases.js';

export const EPOCH_HEADER = 'Wadm-Epoch';

interface Known {
  wire: string;
  seq: number;
  epoch: number;
}

export class StatusPublisher {
  private readonly known = new Map<string, Known | null>();

  constructor(
    private readonly ctx: JetStreamContext,
    private readonly ref: LatticeRef,
    private readonly epoch: number,
    private readonly fenced: boolean,
  ) {}

  private async load(name: string): Promise<Known | null> {
    const subj = statusSubject(this.ref.lattice, name);
    try {
      const m = await this.ctx.jsm.streams.getMessage(STATUS_STREAM, { last_by_subj: subj });
      if (!m) return null;
      let wire = '';
      try {
        const st = statusFromWire(JSON.parse(new TextDecoder().decode(m.data)));
        wire = st ? JSON.stringify(statusToWire(st)) : '';
      } catch {
        wire = '';
      }
      return { wire, seq: m.seq, epoch: Number(m.header?.get(EPOCH_HEADER) || 0) };
    } catch (err) {
      if (/no message found|not found/i.test(String((err as Error).message))) return null;
      throw err;
    }
  }

  /** Publish `status` for app `name` unless it is what is already published. Returns whether it published. */
  async publish(name: string, status: Status): Promise<boolean> {
    const wire = JSON.stringify(statusToWire(status));
    for (let attempt = 0; attempt < 3; attempt++) {
      let k = this.known.get(name);
      if (k === undefined) {
        k = await this.load(name);
        this.known.set(name, k);
      }
      if (k && k.wire === wire) return false;
      if (this.fenced && k && k.epoch > this.epoch) throw new LeaseLostError(this.ref, this.epoch, `status of ${name} was published at epoch ${k.epoch}`);
      const h = headers();
      h.set(EPOCH_HEADER, String(this.epoch));
      try {
        const ack = await this.ctx.js.publish(statusSubject(this.ref.lattice, name), wire, {
          headers: h,
          ...(this.fenced && k ? { expect: { lastSubjectSequence: k.seq } } : {}),
        });
        this.known.set(name, { wire, seq: ack.seq, epoch: this.epoch });
      } catch (err) {
        if (!isCasConflict(err)) throw err;
        this.known.delete(name); // someone else published: re-read and decide again
        continue;
      }
      const ev = cloudEvent('wadm', 'com.wadm.application_status', { name, status: statusToWire(status) });
      await this.ctx.js.publish(`wadm.evt.${this.ref.lattice}.application_status`, JSON.stringify(ev));
      return true;
    }
    throw new LeaseLostError(this.ref, this.epoch, `status of ${name} keeps changing under this owner`);
  }

  forget(name: string): void {
    this.known.delete(name);
  }
}
