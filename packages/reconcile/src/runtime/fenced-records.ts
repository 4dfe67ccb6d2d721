/**
 * The owner's record writes in the state bucket (in-flight and applied records), each a compare-and-set on
 * the revision the view holds and fenced by the lease epoch: a record written at a newer epoch means
 * another owner took over (LeaseLostError). After a lost race the view's copy is brought up to KV's.
 */
import type { KV } from '@nats-io/kv';
import type { AppliedEntity, InFlightEntity } from '@wadm-ts/entities';
import { isCasConflict, removeKey, type StateView } from '@wadm-ts/store';
import { LeaseLostError, type Held } from './lease-records.js';

export interface FencedRecordsOptions {
  kv: KV;
  view: StateView;
  /** Throws LeaseLostError when the lease is no longer held. */
  check: (h: Held) => void;
  /** Counts writes refused or abandoned because of a newer epoch, by kind. */
  fenced: { inc(labels: { kind: string }): void };
  /** Test-only: no epoch checks on writes. */
  unsafeDisableFencing?: boolean;
}

export class FencedRecords {
  constructor(private readonly o: FencedRecordsOptions) {}

  /** Remove a record at the revision the view holds (compare-and-set); after a lost race, refresh the view's copy. */
  async remove(rec: { key: string; revision: number }): Promise<void> {
    try {
      await removeKey(this.o.kv, rec.key, rec.revision);
      this.o.view.mirror.applyLocal(rec.key, undefined, rec.revision + 1);
    } catch (err) {
      if (!isCasConflict(err)) throw err;
      await this.refresh(rec.key);
    }
  }

  /** After a lost compare-and-set: bring the view's copy of one key up to what KV holds. */
  private async refresh(key: string): Promise<void> {
    const mirror = this.o.view.mirror;
    mirror.applyRead(key, await this.o.kv.get(key).catch(() => null), (mirror.get(key)?.revision ?? 0) + 1);
  }

  /**
   * Write a record with compare-and-set on the revision the view holds. A record written at a newer
   * epoch means another owner took over: the lease is lost. Returns the new revision, or undefined when
   * the record changed under us and should be decided again by the next pass.
   */
  async write(h: Held, key: string, value: InFlightEntity | AppliedEntity, cur: { revision: number; value: InFlightEntity | AppliedEntity } | undefined): Promise<number | undefined> {
    this.o.check(h);
    if (cur && (cur.value.epoch ?? 0) > h.epoch && !this.o.unsafeDisableFencing) {
      this.o.fenced.inc({ kind: value.kind });
      throw new LeaseLostError(h.ref, h.epoch, `${value.kind} record ${key} was written at epoch ${cur.value.epoch}`);
    }
    try {
      const data = JSON.stringify(value);
      const rev = cur ? await this.o.kv.update(key, data, cur.revision) : await this.o.kv.create(key, data);
      this.o.view.mirror.applyLocal(key, value, rev);
      return rev;
    } catch (err) {
      if (!isCasConflict(err)) throw err;
      // Changed under us: look at what is there now.
      const epoch = (this.o.view.mirror.applyRead(key, await this.o.kv.get(key), (cur?.revision ?? 0) + 1) as { epoch?: number } | undefined)?.epoch;
      if ((epoch ?? 0) > h.epoch && !this.o.unsafeDisableFencing) {
        this.o.fenced.inc({ kind: value.kind });
        throw new LeaseLostError(h.ref, h.epoch, `${value.kind} record ${key} was written at epoch ${epoch}`);
      }
      return undefined;
    }
  }
}
