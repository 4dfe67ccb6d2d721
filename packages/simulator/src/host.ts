/**
 * One simulated wasmCloud 1.x host: its identity, what it runs, its control subscriptions,
 * heartbeat and provider health checks. The control operations live in ctl-handlers.ts.
 */
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Logger } from '@wadm-ts/obs';
import { dispatch, type HandlerResult } from './ctl-handlers.js';
import type { HostEnvironment } from './env.js';
import * as ev from './events.js';
import type { WireValue } from './json.js';
import { uptimeHuman } from './ids.js';
import type { RegistryCredential } from './wire.js';

export interface ComponentInstance {
  id: string;
  imageRef: string;
  maxInstances: number;
  annotations: Map<string, string>;
  config: string[];
  limits: Map<string, string> | undefined;
}

export interface ProviderInstance {
  id: string;
  imageRef: string;
  annotations: Map<string, string>;
  config: string[];
  /** `host_id` of the start request: used in this provider's health events. */
  startHostId: string;
  previousHealthy: boolean;
  /** Result of the last health probe, undefined before the first one. */
  lastHealthy: boolean | undefined;
  healthTimer: NodeJS.Timeout | undefined;
}

export type HostState = 'starting' | 'running' | 'stopping' | 'stopped';

/** The `hostcore.*` labels a real host always carries, derived from this machine. */
export function hostcoreLabels(): Map<string, string> {
  const arch: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'x86', arm: 'arm' };
  const os: Record<string, string> = { linux: 'linux', darwin: 'macos', win32: 'windows' };
  return new Map([
    ['hostcore.arch', arch[process.arch] ?? process.arch],
    ['hostcore.os', os[process.platform] ?? process.platform],
    ['hostcore.osfamily', process.platform === 'win32' ? 'windows' : 'unix'],
  ]);
}

export class SimulatedHost {
  readonly components = new Map<string, ComponentInstance>();
  readonly providers = new Map<string, ProviderInstance>();
  readonly registries = new Map<string, RegistryCredential>();
  readonly log: Logger;
  private readonly startedAt = Date.now();
  private readonly subs: Subscription[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private heartbeat: NodeJS.Timeout | undefined;
  private stateValue: HostState = 'starting';

  constructor(
    readonly env: HostEnvironment,
    readonly id: string,
    readonly friendlyName: string,
    readonly labels: Map<string, string>,
  ) {
    this.log = env.logger.child({ host: id });
  }

  get state(): HostState {
    return this.stateValue;
  }

  uptimeSeconds(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }

  /** Subscribes like a real host (docs/wire/control-interface.md §1), then publishes `host_started`. */
  async start(): Promise<void> {
    const { nc } = this.env;
    const base = this.env.ctlBase;
    const on = (subject: string, queue?: string): void => {
      const sub = nc.subscribe(subject, {
        ...(queue === undefined ? {} : { queue }),
        callback: (err, msg) => {
          if (err) {
            this.log.warn({ err: err.message, subject }, 'subscription error');
            return;
          }
          this.onMessage(msg);
        },
      });
      this.subs.push(sub);
    };
    on(`${base}.registry.put`);
    on(`${base}.host.ping`);
    on(`${base}.link.*`, `${base}.link`);
    on(`${base}.claims.get`, `${base}.claims`);
    on(`${base}.component.*.${this.id}`);
    on(`${base}.provider.*.${this.id}`);
    on(`${base}.label.*.${this.id}`);
    on(`${base}.host.*.${this.id}`);
    on(`${base}.config.>`, `${base}.config`);
    on(`${base}.component.auction`);
    on(`${base}.provider.auction`);
    await nc.flush();
    if (this.stateValue !== 'starting') return; // killed while subscribing
    this.stateValue = 'running';
    this.emit('host_started', ev.hostStarted({ friendlyName: this.friendlyName, labels: this.labels, version: this.env.version }));
    this.heartbeat = setInterval(() => this.beat(), this.env.timing.heartbeatIntervalMs);
    this.log.info({ friendlyName: this.friendlyName }, 'simulated host started');
  }

  emit(type: ev.LatticeEventType, data: WireValue): boolean {
    return this.env.events.publish(this.id, type, data);
  }

  /** Runs `fn` after `ms` unless the host stops or is killed first. */
  schedule(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.stateValue !== 'running') return;
      try {
        fn();
      } catch (err) {
        this.log.error({ err }, 'simulated host task failed');
      }
    }, ms);
    this.timers.add(t);
  }

  private beat(): void {
    if (this.stateValue !== 'running') return;
    this.emit('host_heartbeat', this.inventory());
  }

  private onMessage(msg: Msg): void {
    if (this.stateValue !== 'running') return;
    let result: HandlerResult;
    try {
      result = dispatch(this, msg.subject, msg.data);
    } catch (err) {
      this.log.error({ err, subject: msg.subject }, 'control handler crashed');
      return;
    }
    if (result.async) this.schedule(result.async, this.env.timing.fetchDelayMs);
    const send = (): void => {
      if (result.reply !== undefined && msg.reply && !this.env.nc.isClosed()) {
        try {
          this.env.nc.publish(msg.reply, result.reply);
        } catch (err) {
          this.log.debug({ err }, 'reply not published');
        }
      }
      result.afterReply?.();
    };
    const delay = this.env.faults.replyDelayMs;
    if (delay > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (this.stateValue === 'stopped' && !result.afterReply) return; // killed meanwhile
        send();
      }, delay);
      this.timers.add(t);
    } else {
      send();
    }
  }

  /** `HostInventory` (reply struct order; sorted when encoded as heartbeat data). */
  inventory(): WireValue {
    const uptime = this.uptimeSeconds();
    return {
      components: [...this.components.values()].map((c) => ({
        id: c.id,
        image_ref: c.imageRef,
        annotations: c.annotations,
        revision: 0,
        max_instances: c.maxInstances,
        limits: this.env.hasLimits ? (c.limits ?? null) : undefined,
      })),
      providers: [...this.providers.values()].map((p) => ({
        id: p.id,
        image_ref: p.imageRef,
        revision: 0,
        annotations: p.annotations,
      })),
      host_id: this.id,
      friendly_name: this.friendlyName,
      labels: this.labels,
      version: this.env.version,
      uptime_human: uptimeHuman(uptime),
      uptime_seconds: uptime,
    };
  }

  /** `Host` as answered to `host.ping`. */
  pingInfo(): WireValue {
    const uptime = this.uptimeSeconds();
    return {
      rpc_host: this.env.natsUrl,
      ctl_host: this.env.natsUrl,
      friendly_name: this.friendlyName,
      id: this.id,
      js_domain: this.env.jsDomain,
      labels: this.labels,
      lattice: this.env.lattice,
      uptime_human: uptimeHuman(uptime),
      uptime_seconds: uptime,
      version: this.env.version,
    };
  }

  /** Starts the health-check loop of a freshly started provider. */
  startHealthChecks(p: ProviderInstance): void {
    const probe = (): void => {
      if (this.stateValue !== 'running' || this.providers.get(p.id) !== p) return;
      const healthy = !this.env.faults.unhealthy(p.id, p.imageRef);
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
      this.emit(type, ev.healthCheck(p.startHostId, p.id));
      p.healthTimer = setTimeout(probe, this.env.timing.healthCheckIntervalMs);
    };
    p.healthTimer = setTimeout(probe, this.env.timing.healthCheckDelayMs);
  }

  stopHealthChecks(p: ProviderInstance): void {
    if (p.healthTimer) clearTimeout(p.healthTimer);
    p.healthTimer = undefined;
  }

  /** First half of a clean stop: no further control requests are answered, the heartbeat stops. */
  beginStop(): void {
    if (this.stateValue !== 'running' && this.stateValue !== 'starting') return;
    this.stateValue = 'stopping';
    this.unsubscribe();
  }

  /** Second half of a clean stop: providers and components go away silently, then `host_stopped`. */
  finishStop(): void {
    if (this.stateValue === 'stopped') return;
    this.teardown();
    this.emit('host_stopped', ev.hostStopped(this.labels));
    this.log.info('simulated host stopped');
    this.env.onHostGone(this.id);
  }

  /** Clean stop without a control request (what a real host does on SIGTERM). */
  stop(): void {
    this.beginStop();
    this.finishStop();
  }

  /** Silent death: nothing is published, nothing answered. */
  kill(): void {
    if (this.stateValue === 'stopped') return;
    this.unsubscribe();
    this.teardown();
    this.log.info('simulated host killed');
    this.env.onHostGone(this.id);
  }

  private unsubscribe(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const s of this.subs.splice(0)) {
      try {
        s.unsubscribe();
      } catch {
        // connection already closed
      }
    }
  }

  private teardown(): void {
    this.stateValue = 'stopped';
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.providers.values()) this.stopHealthChecks(p);
    this.providers.clear();
    this.components.clear();
  }
}
