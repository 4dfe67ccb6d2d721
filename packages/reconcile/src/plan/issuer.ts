/**
 * Collects the commands one `planLattice` pass issues, filtered by in-flight entries and failure backoff,
 * and returns them in the planner's order (see `lattice.ts`): PutConfig; component/provider commands;
 * PutLink; removal of stale instances; DeleteLink; DeleteConfig.
 */
import type { Command } from '../types.js';
import type { CommandFilter } from './inflight.js';

export type Bucket = 'configs' | 'workloads' | 'links' | 'removals' | 'deleteLinks' | 'deleteConfigs';
const BUCKETS: readonly Bucket[] = ['configs', 'workloads', 'links', 'removals', 'deleteLinks', 'deleteConfigs'];

export class Issuer {
  readonly out = new Map<Bucket, Command[]>(BUCKETS.map((b) => [b, []]));
  constructor(readonly filter: CommandFilter) {}

  /** Returns the backoff error when the command's target is backing off, else undefined (issued or in flight). */
  issue(c: Command, bucket: Bucket): string | undefined {
    const r = this.filter.check(c);
    if (r.outcome === 'backoff') return r.error;
    if (r.outcome === 'emit') this.out.get(bucket)!.push(c);
    return undefined;
  }

  /** Whether `c` is the last command emitted to `bucket` (it was issued now, not held back). */
  emitted(c: Command, bucket: Bucket): boolean {
    return this.out.get(bucket)!.at(-1) === c;
  }

  commands(): Command[] {
    return BUCKETS.flatMap((b) => this.out.get(b)!);
  }
}
