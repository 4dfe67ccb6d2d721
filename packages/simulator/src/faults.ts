/** Fault injection and the command counter shared by the hosts of one simulated lattice. */

/** The control requests a host serves, by `noun.verb`; `unsupported` for any other subject shape. */
export const COMMAND_KINDS = [
  'host.ping',
  'host.get',
  'host.stop',
  'component.scale',
  'component.update',
  'component.auction',
  'provider.start',
  'provider.stop',
  'provider.auction',
  'link.put',
  'link.del',
  'link.get',
  'claims.get',
  'config.put',
  'config.get',
  'config.del',
  'label.put',
  'label.del',
  'registry.put',
  'unsupported',
] as const;

export type CommandKind = (typeof COMMAND_KINDS)[number];

/** Requests that only read (a wadm asking what runs); every other kind changes something or may. */
export const QUERY_KINDS: ReadonlySet<CommandKind> = new Set<CommandKind>(['host.ping', 'host.get', 'link.get', 'claims.get', 'config.get']);

/** `total`: every request; `actions`: those that are not queries (QUERY_KINDS). */
export type CommandCounts = Record<CommandKind, number> & { total: number; actions: number };

/** What an event-drop predicate sees. */
export interface EmittedEvent {
  /** Event type without prefix, e.g. `component_scaled`. */
  type: string;
  subject: string;
  /** The emitting host (CloudEvent `source`). */
  hostId: string;
  /** The CloudEvent `data` as plain JSON. */
  data: unknown;
}

export type EventDropRule = number | ((event: EmittedEvent) => boolean);

/** The event handed to {@link Faults.shouldDrop}; `data` is parsed only when a predicate asks. */
export interface PendingEvent {
  type: string;
  subject: string;
  hostId: string;
  data: () => unknown;
}

function emptyCounts(): CommandCounts {
  const counts = { total: 0, actions: 0 } as CommandCounts;
  for (const k of COMMAND_KINDS) counts[k] = 0;
  return counts;
}

/**
 * Counts control requests as received by host subscriptions. A broadcast request (`host.ping`,
 * auctions, `registry.put`) counts once per host that received it.
 */
export class CommandCounter {
  private totals = emptyCounts();
  private readonly perHost = new Map<string, CommandCounts>();

  record(kind: CommandKind, hostId: string): void {
    this.totals[kind]++;
    this.totals.total++;
    if (!QUERY_KINDS.has(kind)) this.totals.actions++;
    let h = this.perHost.get(hostId);
    if (!h) {
      h = emptyCounts();
      this.perHost.set(hostId, h);
    }
    h[kind]++;
    h.total++;
    if (!QUERY_KINDS.has(kind)) h.actions++;
  }

  counts(hostId?: string): CommandCounts {
    const src = hostId === undefined ? this.totals : (this.perHost.get(hostId) ?? emptyCounts());
    return { ...src };
  }

  reset(): void {
    this.totals = emptyCounts();
    this.perHost.clear();
  }
}

export class Faults {
  private startFailure: { pattern: RegExp; message: string | undefined } | undefined;
  private healthFailure: RegExp | undefined;
  private dropRule: EventDropRule | undefined;
  /** Extra delay before every control reply, in ms. */
  replyDelayMs = 0;

  setFailStarts(pattern: RegExp | null, message?: string): void {
    this.startFailure = pattern ? { pattern, message } : undefined;
  }

  /** The fetch error for an image ref matching the failStarts pattern, else undefined. */
  startFailureFor(imageRef: string): string | undefined {
    const f = this.startFailure;
    if (!f) return undefined;
    f.pattern.lastIndex = 0;
    if (!f.pattern.test(imageRef)) return undefined;
    return f.message ?? `failed to pull image ${imageRef}: simulated fetch failure`;
  }

  setFailHealthChecks(pattern: RegExp | null): void {
    this.healthFailure = pattern ?? undefined;
  }

  /** True when a provider (matched by id or image ref) should report unhealthy. */
  unhealthy(providerId: string, imageRef: string): boolean {
    const p = this.healthFailure;
    if (!p) return false;
    p.lastIndex = 0;
    if (p.test(providerId)) return true;
    p.lastIndex = 0;
    return p.test(imageRef);
  }

  setDropEvents(rule: EventDropRule | null): void {
    if (typeof rule === 'number' && (!(rule >= 0) || rule > 1)) {
      throw new RangeError('dropEvents rate must be within [0, 1]');
    }
    this.dropRule = rule === null || rule === 0 ? undefined : rule;
  }

  shouldDrop(event: PendingEvent): boolean {
    const r = this.dropRule;
    if (r === undefined) return false;
    if (typeof r === 'number') return r >= 1 || Math.random() < r;
    return r({ type: event.type, subject: event.subject, hostId: event.hostId, data: event.data() });
  }

  clear(): void {
    this.startFailure = undefined;
    this.healthFailure = undefined;
    this.dropRule = undefined;
    this.replyDelayMs = 0;
  }
}
