/** Provider health checks: internal probes reported as `health_check_*` events (docs/wire/control-interface.md §3.7, §4.2). */
import * as ev from './events.js';
import type { ControlledHost, ProviderInstance } from './host-model.js';

/** Starts the health-check loop of a freshly started provider. */
export function startHealthChecks(host: ControlledHost, p: ProviderInstance): void {
  const { timing, faults } = host.env;
  const probe = (): void => {
    if (host.state !== 'running' || host.providers.get(p.id) !== p) return;
    const healthy = !faults.unhealthy(p.id, p.imageRef);
    p.lastHealthy = healthy;
    let type: ev.LatticeEventType;
    if (healthy && !p.previousHealthy) {
      p.previousHealthy = true;
      type = 'health_check_passed';
    } else if (!healthy && p.previousHealthy) {
      p.previousHealthy = false;
      type = 'health_check_failed';
    } else {
      type = 'health_check_status';
    }
    host.emit(type, ev.healthCheck(p.startHostId, p.id));
    p.healthTimer = setTimeout(probe, timing.healthCheckIntervalMs);
  };
  p.healthTimer = setTimeout(probe, timing.healthCheckDelayMs);
}

export function stopHealthChecks(p: ProviderInstance): void {
  if (p.healthTimer) clearTimeout(p.healthTimer);
  p.healthTimer = undefined;
}
