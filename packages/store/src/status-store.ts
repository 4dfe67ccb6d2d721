/** Reading and publishing app status on stream `wadm_status` (subject `wadm.status.{lattice}.{name}`; multitenant: `wadm_status_tenants`, `{account}.wadm.status.…`). */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { statusFromWire, statusToWire, type Status } from '@wadm-ts/model';
import { STATUS_STREAM, statusSubject, TENANT_STATUS_STREAM } from '@wadm-ts/protocol';
import { StorageError } from './errors.js';
import { isNoMessage } from './js-errors.js';

export class StatusStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** The status stream, or where to read its name at each use (it may be wadm-ts's own beside the Rust one). */
    private readonly streamOf: string | (() => string) = STATUS_STREAM,
  ) {}

  private get stream(): string {
    return typeof this.streamOf === 'string' ? this.streamOf : this.streamOf();
  }

  /** The last published status, or undefined when none exists or it does not parse. */
  async latest(lattice: string, name: string, account?: string): Promise<Status | undefined> {
    const subj = statusSubject(lattice, name, account);
    try {
      const m = await this.jsm.streams.getMessage(account ? TENANT_STATUS_STREAM : this.stream, { last_by_subj: subj });
      if (!m) return undefined;
      try {
        return statusFromWire(JSON.parse(new TextDecoder().decode(m.data)));
      } catch {
        return undefined;
      }
    } catch (err) {
      if (isNoMessage(err)) return undefined;
      throw new StorageError('reading status failed', { key: subj, op: 'status-get' }, { cause: err });
    }
  }

  /** Publish a status unless it equals the last stored one. Returns whether it published. */
  async publishIfChanged(lattice: string, name: string, status: Status, account?: string): Promise<boolean> {
    const wire = JSON.stringify(statusToWire(status));
    const last = await this.latest(lattice, name, account);
    if (last && JSON.stringify(statusToWire(last)) === wire) return false;
    await this.js.publish(statusSubject(lattice, name, account), wire);
    return true;
  }
}
