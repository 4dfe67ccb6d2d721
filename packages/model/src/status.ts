/** Status shapes of docs/wire/api.md §3, and the aggregation rule of §3.3. Pure. */

export type StatusType = 'waiting' | 'undeployed' | 'reconciling' | 'deployed' | 'failed' | 'unhealthy';

export interface StatusInfo {
  type: StatusType;
  /** Omitted on the wire when empty. */
  message?: string;
}

export interface ScalerStatus {
  id: string;
  kind: string;
  name: string;
  status: StatusInfo;
}

export interface Status {
  status: StatusInfo;
  /** Omitted on the wire when empty. */
  scalers?: ScalerStatus[];
  /** Deprecated, always "" in current wadm. */
  version: string;
  /** Deprecated, always []. */
  components: unknown[];
}

/** Precedence, highest first: failed > undeployed > waiting > reconciling > unhealthy > deployed. */
const PRECEDENCE: readonly StatusType[] = ['failed', 'undeployed', 'waiting', 'reconciling', 'unhealthy', 'deployed'];

const ALIASES: Record<string, StatusType> = { compensating: 'reconciling', ready: 'deployed' };

export function parseStatusType(s: string): StatusType | undefined {
  const lower = s.toLowerCase();
  if ((PRECEDENCE as readonly string[]).includes(lower)) return lower as StatusType;
  return ALIASES[lower];
}

/** Aggregate scaler statuses into one StatusInfo (empty list ⇒ undeployed). */
export function aggregateStatus(infos: readonly StatusInfo[]): StatusInfo {
  if (infos.length === 0) return { type: 'undeployed' };
  let best: StatusType = infos[0]!.type;
  for (const i of infos) {
    if (PRECEDENCE.indexOf(i.type) < PRECEDENCE.indexOf(best)) best = i.type;
  }
  const message = infos
    .map((i) => (i.message ?? '').trim())
    .filter((m) => m.length > 0)
    .join(', ');
  return message ? { type: best, message } : { type: best };
}

/** Canonical wire form: key order status, scalers?, version, components; empty message/scalers omitted. */
export function statusToWire(s: Status): Record<string, unknown> {
  const info = (i: StatusInfo): Record<string, unknown> => (i.message ? { type: i.type, message: i.message } : { type: i.type });
  const out: Record<string, unknown> = { status: info(s.status) };
  if (s.scalers && s.scalers.length > 0) {
    out['scalers'] = s.scalers.map((sc) => ({ id: sc.id, kind: sc.kind, name: sc.name, status: info(sc.status) }));
  }
  out['version'] = s.version;
  out['components'] = s.components;
  return out;
}

/** Default when no status was ever published (model.status fallback). */
export function defaultStatus(): Status {
  return { status: { type: 'undeployed' }, version: '', components: [] };
}

/**
 * What is published once an app's deployment is gone (undeploy, or delete of the deployed version or of
 * the whole app): the Rust wadm's `undeployed` / "Manifest has been undeployed".
 */
export function undeployedStatus(): Status {
  return { status: { type: 'undeployed', message: 'Manifest has been undeployed' }, version: '', components: [] };
}

/** The list fallback (ModelSummary.detailed_status when nothing was published). */
export function waitingStatus(): Status {
  return {
    status: { type: 'waiting', message: 'Waiting for status: Lattice contains no hosts, deployment not started.' },
    version: '',
    components: [],
  };
}

/** Decode a Status from the wire tolerantly (unknown aliases fall back to undeployed). */
export function statusFromWire(v: unknown): Status | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const info = (x: unknown): StatusInfo | undefined => {
    if (typeof x !== 'object' || x === null) return undefined;
    const r = x as Record<string, unknown>;
    const t = typeof r['type'] === 'string' ? parseStatusType(r['type']) : undefined;
    if (!t) return undefined;
    const m = typeof r['message'] === 'string' ? r['message'] : '';
    return m ? { type: t, message: m } : { type: t };
  };
  const status = info(o['status']);
  if (!status) return undefined;
  const scalers: ScalerStatus[] = [];
  if (Array.isArray(o['scalers'])) {
    for (const s of o['scalers']) {
      if (typeof s !== 'object' || s === null) continue;
      const r = s as Record<string, unknown>;
      const st = info(r['status']);
      if (!st) continue;
      scalers.push({
        id: typeof r['id'] === 'string' ? r['id'] : '',
        kind: typeof r['kind'] === 'string' ? r['kind'] : '',
        name: typeof r['name'] === 'string' ? r['name'] : '',
        status: st,
      });
    }
  }
  const out: Status = {
    status,
    version: typeof o['version'] === 'string' ? o['version'] : '',
    components: Array.isArray(o['components']) ? o['components'] : [],
  };
  if (scalers.length > 0) out.scalers = scalers;
  return out;
}
