/**
 * Whether an existing stream can serve as one of wadm-ts's streams: a stream with the same name may have
 * been created by someone else — typically the Rust wadm, whose `wadm_commands` captures `wadm.cmd.*` and
 * not wadm-ts's `wadm.cmd.*.*`. Pure helpers; ensureStream (ensure-stream.ts) decides what to do with them.
 *
 * Incompatible (wadm-ts would stall or lose work on such a stream): other subjects, another retention, a
 * mirror (takes no publishes), a sealed stream. Anything else that differs (max_age, duplicate_window,
 * descriptions, limits, storage, replicas) is merely different: the stream is used as it is.
 */
import { RetentionPolicy, type StreamConfig } from '@nats-io/jetstream';

export interface StreamDifference {
  field: string;
  /** The existing stream's value. */
  found: unknown;
  /** What wadm-ts needs (or would create). */
  wanted: unknown;
}

/** Thrown when wadm-ts can neither use a stream nor create one it can use; never transient. */
export class StreamConflictError extends Error {
  constructor(
    message: string,
    /** The stream wadm-ts needs (its canonical name). */
    readonly stream: string,
    readonly differences: readonly StreamDifference[] = [],
    /** Streams whose subjects overlap the ones wadm-ts needs. */
    readonly overlapping: readonly string[] = [],
  ) {
    super(message);
    this.name = 'StreamConflictError';
  }
}

const sortedSet = (xs: readonly string[] | undefined): string[] => [...new Set(xs ?? [])].sort();
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Fields that are compared separately, or not at all. */
const NOT_COMPARED = new Set(['name', 'subjects', 'retention', 'storage', 'num_replicas', 'mirror', 'sealed']);

/**
 * The differences that make `have` unusable as a stream configured like `want`. Fields listed in `skip`
 * are not checked (ensureStream updates them instead).
 */
export function incompatibilities(have: StreamConfig, want: Partial<StreamConfig>, skip: readonly string[] = []): StreamDifference[] {
  const out: StreamDifference[] = [];
  const check = (field: string): boolean => !skip.includes(field);
  if (check('subjects') && want.subjects !== undefined && !same(sortedSet(have.subjects), sortedSet(want.subjects))) {
    out.push({ field: 'subjects', found: have.subjects ?? [], wanted: want.subjects });
  }
  const wantRetention = want.retention ?? RetentionPolicy.Limits;
  if (check('retention') && have.retention !== wantRetention) out.push({ field: 'retention', found: have.retention, wanted: wantRetention });
  if (have.mirror) out.push({ field: 'mirror', found: have.mirror.name, wanted: null });
  if (have.sealed) out.push({ field: 'sealed', found: true, wanted: false });
  return out;
}

/** Fields of `want` that `have` has with another value but that wadm-ts can work with. */
export function toleratedDifferences(have: StreamConfig, want: Partial<StreamConfig>, skip: readonly string[] = []): StreamDifference[] {
  const out: StreamDifference[] = [];
  for (const [field, wanted] of Object.entries(want)) {
    if (NOT_COMPARED.has(field) || skip.includes(field) || wanted === undefined) continue;
    const found = (have as unknown as Record<string, unknown>)[field];
    if (!same(found, wanted)) out.push({ field, found, wanted });
  }
  return out;
}

/** `subjects: found ["wadm.cmd.*"], wadm-ts needs ["wadm.cmd.*.*"]; …` */
export function describeDifferences(ds: readonly StreamDifference[], wantedLabel = 'wadm-ts needs'): string {
  return ds.map((d) => `${d.field}: found ${JSON.stringify(d.found)}, ${wantedLabel} ${JSON.stringify(d.wanted)}`).join('; ');
}

/** Whether two subjects (with `*` and `>` wildcards) can match a common subject — what NATS calls overlapping. */
export function subjectsCollide(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === '>' || q === '>') return p !== undefined && q !== undefined;
    if (p === undefined || q === undefined) return false;
    if (p !== '*' && q !== '*' && p !== q) return false;
  }
  return true;
}

/** Whether any subject of `as` overlaps any of `bs`. */
export function subjectListsCollide(as: readonly string[], bs: readonly string[]): boolean {
  return as.some((a) => bs.some((b) => subjectsCollide(a, b)));
}
