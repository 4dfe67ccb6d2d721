/**
 * Apps undeployed non-destructively ("released"): no longer managed, and nothing of theirs is removed.
 * Their instances keep their ownership annotations (so a later deploy of the app adopts them), and
 * their applied record (links, managed configs) is kept as it is, grace marks included, so that a later
 * deploy does not put again what is there and a later destructive undeploy knows what to clean up.
 */
import type { Status } from '@wadm-ts/model';
import type { AppliedRecord } from '../types.js';
import { linkNameKey } from './ids.js';
import { appliedLinkKey } from './links.js';
import { indexObserved, managedApp, type Instance, type ObservedIndex } from './observed.js';
import type { LatticeEntities } from '@wadm-ts/entities';

/** What a released app still has running, as observed. */
export interface ReleasedCounts {
  /** Component instances (the sum of max_instances over hosts). */
  instances: number;
  /** Providers (one per host running one). */
  providers: number;
  /** Links on its applied record that are observed. */
  links: number;
  /** Managed configs on its applied record that are observed. */
  configs: number;
}

/** Whether an instance belongs to a released app (and so must not be treated as stale). */
export function releasedInstance(i: Instance, released: ReadonlySet<string>): boolean {
  const app = managedApp(i);
  return app !== undefined && released.has(app);
}

export function releasedCounts(app: string, record: AppliedRecord | undefined, observed: ObservedIndex): ReleasedCounts {
  let instances = 0;
  let providers = 0;
  for (const i of observed.all) {
    if (managedApp(i) !== app) continue;
    if (i.workload === 'component') instances += i.count;
    else providers++;
  }
  let links = 0;
  let configs = 0;
  if (record) {
    const present = new Set([...observed.links.keys()]);
    for (const l of record.links) {
      if (l.target === undefined) links += observed.linksNamed.get(linkNameKey(l.source_id, l.wit_namespace, l.wit_package, l.name))?.length ?? 0;
      else if (present.has(appliedLinkKey(l))) links++;
    }
    for (const name of Object.keys(record.configs)) if (observed.configs.has(name)) configs++;
  }
  return { instances, providers, links, configs };
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** `Undeployed non-destructively: 3 instances, 1 provider, 2 links and 1 config left running`. */
export function releasedMessage(c: ReleasedCounts): string {
  const parts = [
    plural(c.instances, 'instance', 'instances'),
    plural(c.providers, 'provider', 'providers'),
    plural(c.links, 'link', 'links'),
    plural(c.configs, 'config', 'configs'),
  ];
  return `Undeployed non-destructively: ${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!} left running`;
}

/** The status of a released app: `undeployed`, saying what was left running. */
export function releasedStatus(app: string, record: AppliedRecord | undefined, observed: LatticeEntities | ObservedIndex): Status {
  const index = 'all' in observed ? observed : indexObserved(observed);
  return { status: { type: 'undeployed', message: releasedMessage(releasedCounts(app, record, index)) }, version: '', components: [] };
}
