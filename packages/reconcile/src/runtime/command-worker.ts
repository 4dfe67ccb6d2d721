/**
 * The command workers: every replica runs one, on the shared durable pull consumer of the command stream
 * (`commands.ts`), and turns each command into one control-interface request.
 *
 * Fencing: a worker drops a command whose epoch is older than the lattice's current lease epoch (read
 * from the replica's watch of the lease bucket, not from KV per command), a constructive command for an
 * app no longer deployed, and a command for a host that announced `host_stopped`; it checks again,
 * synchronously, right before the request is written to the socket (`send`).
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import PQueue from 'p-queue';
import { COMMAND_CONSUMER, COMMAND_STREAM, type LatticeRef } from '@wadm-ts/protocol';
import { ConsumerLoop, streamName, type JetStreamContext } from '@wadm-ts/store';
import type { Logger, Metrics, Tracing } from '@wadm-ts/obs';
import type { Command } from '../types.js';
import { toCtlRequest, type CtlRequest } from './ctl.js';
import { COMMAND_ACK_WAIT_MS, EXPIRY_MARGIN_MS, ensureCommandResources, isConstructive, type CommandEnvelope } from './commands.js';

/** What a worker knows, from its in-memory views, to refuse a command. */
export interface CommandGuards {
  /** Current lease epoch of the lattice, if known. */
  epochOf(ref: LatticeRef): number | undefined;
  /**
   * Resolves true once this replica has heard from the server recently (its lease presence renewal is
   * current): after a pause, the views the other guards read are stale until then.
   */
  caughtUp(): Promise<boolean>;
  /**
   * The same, synchronously and without waiting: checked again immediately before a request is written
   * to the socket (see `CommandWorker.send`). Absent: only `caughtUp` is checked.
   */
  currentNow?(): boolean;
  /** True when the host announced host_stopped (or was expired): it must not be sent anything. */
  hostGone(ref: LatticeRef, hostId: string): boolean;
  /** Whether the app is still deployed: nothing is started, scaled up, linked or configured for an undeployed app. */
  appDeployed(ref: LatticeRef, app: string): Promise<boolean>;
  /** Whether the app was undeployed non-destructively: nothing at all is sent for it (its resources are left alone). */
  appReleased?(ref: LatticeRef, app: string): boolean;
}

/** A checked control request waiting to be written (see `CommandWorker.send`). */
interface Outgoing {
  ref: LatticeRef;
  env: CommandEnvelope;
  c: Command;
  req: CtlRequest;
  log: () => Logger;
  resolve: (reply: Msg | 'deferred') => void;
  reject: (err: unknown) => void;
}

export interface CommandWorkerOptions {
  nc: NatsConnection;
  /**
   * The connection control requests go out on (default `nc`). A connection of their own carries little
   * else, so its socket is rarely backed up: a request is on the wire as soon as it is sent, instead of
   * waiting in the process behind other traffic, where a pause (SIGSTOP, a VM freeze) would hold it past
   * the checks made before it was sent and release it on resume.
   */
  ctl?: NatsConnection;
  /** A span per control command (OTLP traces); none when absent. */
  tracing?: Tracing;
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
      stream: () => streamName(this.o.ctx, COMMAND_STREAM),
      consumer: COMMAND_CONSUMER,
      logger: this.o.logger,
      ensure: async () => void (await ensureCommandResources(this.o.ctx)),
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
    const batch = env.commands ?? (env.command ? [env.command] : []);
    if (batch.length === 0) {
      this.executed.inc({ type: 'invalid', result: 'dropped' });
      m.term();
      return;
    }
    const log = this.o.logger.child({ lattice: env.lattice });
    const ref: LatticeRef = env.account ? { lattice: env.lattice, account: env.account } : { lattice: env.lattice };
    if (this.o.guards && !this.o.unsafeDisableFencing && !(await this.o.guards.caughtUp())) {
      // Not caught up (paused or partitioned): let another worker take it after ack_wait.
      for (const c of batch) this.executed.inc({ type: c.kind, result: 'deferred' });
      return;
    }
    const current = this.newerEpoch(ref, env);
    if (current !== undefined) {
      for (const c of batch) this.executed.inc({ type: c.kind, result: 'stale' });
      log.warn({ commands: batch.length, epoch: env.epoch, currentEpoch: current }, 'dropping commands from an older lease epoch');
      m.term();
      return;
    }
    const keepAlive = setInterval(() => m.working(), COMMAND_ACK_WAIT_MS / 3);
    try {
      // The commands of one message are independent (the planner only emits what can go now): at once.
      const outcomes = await Promise.all(batch.map((c, i) => this.one(ref, env, c, env.expiresAt?.[i], log)));
      // A command deferred because this replica is not caught up: leave the message to another worker
      // (redelivered after ack_wait; the commands already sent are idempotent).
      if (!outcomes.includes('deferred')) m.ack();
    } finally {
      clearInterval(keepAlive);
    }
  }

  /**
   * Whether the command may still be sent: this replica has heard from the server recently, the
   * command's epoch is current, its app is still deployed (for constructive commands), and its host did
   * not stop. Checked before every attempt — a retry after a pause must not act on a stale decision.
   */
  private async allowed(ref: LatticeRef, env: CommandEnvelope, c: Command, expiresAt: number | undefined, logger: () => Logger): Promise<'yes' | 'no' | 'deferred'> {
    if (expiresAt !== undefined && Date.now() + EXPIRY_MARGIN_MS >= expiresAt) {
      this.executed.inc({ type: c.kind, result: 'expired' });
      logger().info({ command: c.kind, expiresAt }, 'dropping a command whose in-flight entry expired (the owner plans again without it)');
      return 'no';
    }
    const g = this.o.guards;
    if (!g) return 'yes';
    if (!this.o.unsafeDisableFencing) {
      if (!(await g.caughtUp())) {
        this.executed.inc({ type: c.kind, result: 'deferred' });
        logger().warn({ command: c.kind }, 'not sending a command: this replica has not heard from the server recently');
        return 'deferred';
      }
      const current = this.newerEpoch(ref, env);
      if (current !== undefined) {
        this.executed.inc({ type: c.kind, result: 'stale' });
        logger().warn({ command: c.kind, epoch: env.epoch, currentEpoch: current }, 'dropping a command from an older lease epoch');
        return 'no';
      }
    }
    if (isConstructive(c) && !(await g.appDeployed(ref, c.model_name))) {
      this.executed.inc({ type: c.kind, result: 'app_undeployed' });
      logger().info({ command: c.kind }, 'dropping a command for an app that is no longer deployed');
      return 'no';
    }
    if (!isConstructive(c) && g.appReleased?.(ref, c.model_name) === true) {
      this.executed.inc({ type: c.kind, result: 'app_undeployed' });
      logger().info({ command: c.kind }, 'dropping a command for an app undeployed non-destructively (its resources are left running)');
      return 'no';
    }
    const host = 'host_id' in c ? c.host_id : undefined;
    if (host !== undefined && g.hostGone(ref, host)) {
      this.executed.inc({ type: c.kind, result: 'host_gone' });
      logger().info({ command: c.kind, host }, 'dropping a command for a host that stopped');
      return 'no';
    }
    return 'yes';
  }

  /** The lattice's current lease epoch when it is newer than the one that issued `env` (fencing on), else undefined. */
  private newerEpoch(ref: LatticeRef, env: CommandEnvelope): number | undefined {
    if (this.o.unsafeDisableFencing) return undefined;
    const current = this.o.guards?.epochOf(ref);
    return current !== undefined && env.epoch !== undefined && env.epoch < current ? current : undefined;
  }

  /** One command, in a span when tracing: guards, then the control request, retried with backoff; never throws. */
  private one(ref: LatticeRef, env: CommandEnvelope, c: Command, expiresAt: number | undefined, parent: Logger): Promise<'done' | 'deferred'> {
    const t = this.o.tracing;
    if (!t) return this.attempts(ref, env, c, expiresAt, parent);
    const attrs = { lattice: ref.lattice, 'wadm.command': c.kind, ...('model_name' in c ? { app: c.model_name } : {}), ...('host_id' in c ? { 'wasmcloud.host': c.host_id } : {}) };
    return t.span(`wadm.command ${c.kind}`, attrs, async (span) => {
      const r = await this.attempts(ref, env, c, expiresAt, parent);
      span.setAttribute('wadm.outcome', r);
      return r;
    });
  }

  /** Requests that passed `allowed`, waiting for the next `writeOutbox` (one per turn of the event loop). */
  private outbox: Outgoing[] = [];

  /**
   * The control request, or 'deferred' when this replica stopped being current since `allowed` said yes.
   * Requests are checked once more and written to the socket in one synchronous run (`writeOutbox`):
   * `request` only queues the bytes, `flush` writes them. Otherwise a pause (SIGSTOP, a frozen VM) that
   * lands between the checks and the write holds a request decided before the pause and releases it on
   * resume, after another owner has taken over and the app may be gone. The requests of one turn share
   * that run (and one socket write).
   */
  private send(ref: LatticeRef, env: CommandEnvelope, c: Command, req: CtlRequest, log: () => Logger): Promise<Msg | 'deferred'> {
    return new Promise((resolve, reject) => {
      if (this.outbox.push({ ref, env, c, req, log, resolve, reject }) === 1) queueMicrotask(() => this.writeOutbox());
    });
  }

  private writeOutbox(): void {
    const batch = this.outbox;
    this.outbox = [];
    const g = this.o.guards;
    const fenced = g !== undefined && !this.o.unsafeDisableFencing;
    const current = !fenced || g.currentNow === undefined || g.currentNow();
    const conn = this.o.ctl ?? this.o.nc;
    let sent = 0;
    for (const o of batch) {
      if (!current || this.newerEpoch(o.ref, o.env) !== undefined) {
        this.executed.inc({ type: o.c.kind, result: 'deferred' });
        o.log().warn({ command: o.c.kind }, 'not sending a command: this replica stalled after it was checked');
        o.resolve('deferred');
        continue;
      }
      conn.request(o.req.subject, o.req.body, { timeout: this.o.timeoutMs ?? 5000 }).then(o.resolve, o.reject);
      sent++;
    }
    if (sent > 0) conn.flush().catch(() => undefined);
  }

  private async attempts(ref: LatticeRef, env: CommandEnvelope, c: Command, expiresAt: number | undefined, parent: Logger): Promise<'done' | 'deferred'> {
    // The command's logger (bound to its app) is made the first time something is logged.
    let child: Logger | undefined;
    const logger = (): Logger => (child ??= 'model_name' in c ? parent.child({ app: c.model_name }) : parent);
    const req = toCtlRequest(c, env.lattice, env.account);
    const max = this.o.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const may = await this.allowed(ref, env, c, expiresAt, logger);
      if (may !== 'yes') return may === 'deferred' ? 'deferred' : 'done';
      try {
        const reply = await this.send(ref, env, c, req, logger);
        if (reply === 'deferred') return 'deferred';
        const r = JSON.parse(reply.string()) as { success?: boolean; message?: string };
        if (r.success === false) throw new Error(r.message || 'host replied success=false');
        this.executed.inc({ type: c.kind, result: 'ok' });
        if (parent.isLevelEnabled('debug')) logger().debug({ command: c.kind, subject: req.subject }, 'command executed');
        return 'done';
      } catch (err) {
        if (attempt >= max) {
          this.executed.inc({ type: c.kind, result: 'failed' });
          logger().error({ err: (err as Error).message, command: c, attempts: attempt }, 'command failed; giving up (the next reconcile decides again)');
          return 'done';
        }
        this.executed.inc({ type: c.kind, result: 'retried' });
        logger().warn({ err: (err as Error).message, command: c.kind, attempts: attempt }, 'command failed; will retry');
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }
}
