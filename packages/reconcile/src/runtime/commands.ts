/**
 * The command stream and its workers. A reconciler writes commands to `wadm.cmd.{account|_}.{lattice}`
 * (stream `wadm_commands`, work queue) with a `Nats-Msg-Id`, so a retried reconcile that computes the
 * same command again is dropped by the server's duplicate window. Command workers (every replica, one
 * shared durable pull consumer) turn each command into one control-interface request.
 *
 * Fencing: every command carries the epoch of the lease its owner held. A worker drops a command whose
 * epoch is older than the lattice's current lease epoch (read from the replica's watch of the lease
 * bucket, not from KV per command), and a command for a host that announced `host_stopped`.
 */
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, RetentionPolicy, type JsMsg } from '@nats-io/jetstream';
import PQueue from 'p-queue';
import { ConsumerLoop, ensureStream, keyToken, type JetStreamContext, type LatticeRef } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import type { Command } from '../types.js';
import { toCtlRequest } from './ctl.js';

export const COMMAND_STREAM = 'wadm_commands';
export const COMMAND_CONSUMER = 'wadm_command_workers';
const COMMAND_ACK_WAIT_MS = 1500;
const NS = 1_000_000;

export interface CommandEnvelope {
  lattice: string;
  account?: string;
  /** Lease epoch of the owner that issued it. */
  epoch?: number;
  command: Command;
}

/** What a worker knows, from its in-memory views, to refuse a command. */
export interface CommandGuards {
  /** Current lease epoch of the lattice, if known. */
  epochOf(ref: LatticeRef): number | undefined;
  /**
   * Resolves true once this replica has heard from the server recently (its lease presence renewal is
   * current): after a pause, the views the other guards read are stale until then.
   */
  caughtUp(): Promise<boolean>;
  /** True when the host announced host_stopped (or was expired): it must not be sent anything. */
  hostGone(ref: LatticeRef, hostId: string): boolean;
  /** Whether the app is still deployed: nothing is started, scaled up, linked or configured for an undeployed app. */
  appDeployed(ref: LatticeRef, app: string): Promise<boolean>;
}

/** Commands that create or grow something (as opposed to removing it). */
export function isConstructive(c: Command): boolean {
  return (c.kind === 'ScaleComponent' && c.count > 0) || c.kind === 'StartProvider' || c.kind === 'PutLink' || c.kind === 'PutConfig';
}

export function commandSubject(ref: LatticeRef): string {
  return `wadm.cmd.${ref.account ? keyToken(ref.account) : '_'}.${keyToken(ref.lattice)}`;
}

export async function ensureCommandResources(ctx: JetStreamContext): Promise<void> {
  await ensureStream(ctx, {
    name: COMMAND_STREAM,
    subjects: ['wadm.cmd.*.*'],
    retention: RetentionPolicy.Workqueue,
    max_age: 3_600_000 * NS,
    duplicate_window: 120_000 * NS,
  });
  try {
    await ctx.jsm.consumers.add(COMMAND_STREAM, {
      durable_name: COMMAND_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      // A dead or stalled worker's commands go to another worker after 1.5 s; a live one extends with working().
      ack_wait: COMMAND_ACK_WAIT_MS * NS,
      max_deliver: -1,
      max_ack_pending: 1000,
    });
  } catch (err) {
    if (!/already (in use|exists)/i.test(String((err as Error).message))) throw err;
    // Created by an older version with a longer ack_wait: bring it to this one's.
    const info = await ctx.jsm.consumers.info(COMMAND_STREAM, COMMAND_CONSUMER);
    if (info.config.ack_wait !== COMMAND_ACK_WAIT_MS * NS) await ctx.jsm.consumers.update(COMMAND_STREAM, COMMAND_CONSUMER, { ack_wait: COMMAND_ACK_WAIT_MS * NS });
  }
}

export async function publishCommand(ctx: JetStreamContext, ref: LatticeRef, command: Command, msgId: string, epoch?: number): Promise<boolean> {
  const env: CommandEnvelope = { lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), ...(epoch !== undefined ? { epoch } : {}), command };
  const h = headers();
  h.set('Nats-Msg-Id', msgId);
  const ack = await ctx.js.publish(commandSubject(ref), JSON.stringify(env), { headers: h });
  return !ack.duplicate;
}

export interface CommandWorkerOptions {
  nc: NatsConnection;
  ctx: JetStreamContext;
  logger: Logger;
  metrics: Metrics;
  concurrency?: number;
  /** Control request timeout (ms, default 5000). */
  timeoutMs?: number;
  /** Attempts before a command is dropped with an error log (default 3). */
  maxAttempts?: number;
  guards?: CommandGuards;
  /** Test-only: execute stale commands too. */
  unsafeDisableFencing?: boolean;
}

export class CommandWorker {
  private readonly queue: PQueue;
  private loop: ConsumerLoop | undefined;
  private readonly executed;

  constructor(private readonly o: CommandWorkerOptions) {
    this.queue = new PQueue({ concurrency: o.concurrency ?? 32 });
    this.executed = o.metrics.counter('wadm_commands_total', 'control commands executed, by type and result', ['type', 'result']);
  }

  async start(): Promise<void> {
    // Supervised (survives restarts and lost consumers); small pulls that expire soon, so a stalled
    // replica holds few commands, and only for ack_wait.
    this.loop = new ConsumerLoop({
      nc: this.o.nc,
      js: this.o.ctx.js,
      stream: COMMAND_STREAM,
      consumer: COMMAND_CONSUMER,
      logger: this.o.logger,
      ensure: () => ensureCommandResources(this.o.ctx),
      handle: (m) => this.execute(m),
      queue: this.queue,
      maxMessages: 16,
      expiresMs: 1000,
    });
    await this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
    await this.queue.onIdle();
  }

  private async execute(m: JsMsg): Promise<void> {
    let env: CommandEnvelope;
    try {
      env = JSON.parse(m.string()) as CommandEnvelope;
    } catch {
      this.executed.inc({ type: 'invalid', result: 'dropped' });
      m.term();
      return;
    }
    const c = env.command;
    const log = this.o.logger.child({ lattice: env.lattice, app: 'model_name' in c ? c.model_name : undefined });
    const ref: LatticeRef = env.account ? { lattice: env.lattice, account: env.account } : { lattice: env.lattice };
    if (this.o.guards && !this.o.unsafeDisableFencing && !(await this.o.guards.caughtUp())) {
      // Not caught up (paused or partitioned): let another worker take it after ack_wait.
      this.executed.inc({ type: c.kind, result: 'deferred' });
      return;
    }
    const current = this.o.guards?.epochOf(ref);
    if (!this.o.unsafeDisableFencing && current !== undefined && env.epoch !== undefined && env.epoch < current) {
      this.executed.inc({ type: c.kind, result: 'stale' });
      log.warn({ command: c.kind, epoch: env.epoch, currentEpoch: current }, 'dropping a command from an older lease epoch');
      m.term();
      return;
    }
    if (isConstructive(c) && this.o.guards && !(await this.o.guards.appDeployed(ref, c.model_name))) {
      this.executed.inc({ type: c.kind, result: 'app_undeployed' });
      log.info({ command: c.kind }, 'dropping a command for an app that is no longer deployed');
      m.term();
      return;
    }
    const host = 'host_id' in c ? c.host_id : undefined;
    if (host !== undefined && this.o.guards?.hostGone(ref, host)) {
      this.executed.inc({ type: c.kind, result: 'host_gone' });
      log.info({ command: c.kind, host }, 'dropping a command for a host that stopped');
      m.term();
      return;
    }
    const req = toCtlRequest(c, env.lattice, env.account);
    const keepAlive = setInterval(() => m.working(), COMMAND_ACK_WAIT_MS / 3);
    try {
      const reply = await this.o.nc.request(req.subject, req.body, { timeout: this.o.timeoutMs ?? 5000 });
      const r = JSON.parse(reply.string()) as { success?: boolean; message?: string };
      if (r.success === false) throw new Error(r.message || 'host replied success=false');
      this.executed.inc({ type: c.kind, result: 'ok' });
      log.debug({ command: c.kind, subject: req.subject }, 'command executed');
      m.ack();
    } catch (err) {
      const attempts = m.info.deliveryCount;
      if (attempts >= (this.o.maxAttempts ?? 3)) {
        this.executed.inc({ type: c.kind, result: 'failed' });
        log.error({ err: (err as Error).message, command: c, attempts }, 'command failed; giving up (the next reconcile decides again)');
        m.term();
      } else {
        this.executed.inc({ type: c.kind, result: 'retried' });
        log.warn({ err: (err as Error).message, command: c.kind, attempts }, 'command failed; will retry');
        m.nak(250 * 2 ** attempts);
      }
    } finally {
      clearInterval(keepAlive);
    }
  }
}
