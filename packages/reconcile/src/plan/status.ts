/** Scaler and app status (docs/wire/api.md §3; `unhealthy` is reported, docs/wire/README.md rule 3). */
import { aggregateStatus, type ScalerStatus, type Status, type StatusInfo } from '@wadm-ts/model';
import type { ScalerEval } from './evaluation.js';

const info = (type: StatusInfo['type'], message: string): StatusInfo => (message ? { type, message } : { type });

/**
 * One scaler's status: failed (unsatisfiable, missing config, or a recent failure event) > reconciling
 * (commands pending, issued now or in flight; or waiting) > unhealthy > deployed.
 */
export function scalerStatus(e: ScalerEval, pending: number, backoffErrors: readonly string[]): StatusInfo {
  if (e.fixed) return e.fixed;
  const failures = [...new Set([...e.failures, ...backoffErrors])];
  if (failures.length > 0) return info('failed', failures.join(' '));
  if (pending > 0) return info('reconciling', e.busy(pending));
  if (e.waiting.length > 0) return info('reconciling', e.waiting.join(', '));
  if (e.unhealthy > 0) return info('unhealthy', `Unhealthy provider on ${e.unhealthy} host(s)`);
  return info('deployed', '');
}

export function toScalerStatus(e: ScalerEval, status: StatusInfo): ScalerStatus {
  return { id: e.id, kind: e.kind, name: e.name, status };
}

/**
 * An app's status: the aggregate of its scalers, plus `extra` infos that count in the aggregate without
 * being scalers (cleanup of what a previous version left behind).
 */
export function appStatus(scalers: readonly ScalerStatus[], extra: readonly StatusInfo[] = []): Status {
  const s: Status = { status: aggregateStatus([...scalers.map((x) => x.status), ...extra]), version: '', components: [] };
  if (scalers.length > 0) s.scalers = [...scalers];
  return s;
}

export function cleanupInfo(n: number): StatusInfo {
  return info('reconciling', `Removing ${n} resource(s) no longer in the manifest`);
}
