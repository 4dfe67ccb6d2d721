/**
 * One simulated wasmCloud 1.x host: its identity, what it runs, its life cycle (start, heartbeat,
 * stop, kill), its control subscriptions and the sending of replies. The top of the host layers:
 * the control operations are dispatched by ctl-dispatch.ts (import order: packages/simulator/README.md).
 */
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Logger } from '@wadm-ts/obs';
import { dispatch, type HandlerResult } from './ctl-dispatch.js';
import { hostInventory } from './ctl-host.js';
import type { HostEnvironment } from './env.js';
import * as ev from './events.js';
import { stopHealthChecks } from './health.js';
import type { ComponentInstance, ControlledHost, HostState, ProviderInstance } from './host-model.js';
import type { WireValue } from './json.js';
import type { RegistryCredential } from './wire.js';

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

export class SimulatedHost implements ControlledHost {
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
    this.emit('host_heartbeat', hostInventory(this));
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
    for (const p of this.providers.values()) stopHealthChecks(p);
    this.providers.clear();
    this.components.clear();
  }
}
