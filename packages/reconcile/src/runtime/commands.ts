/**
 * The command stream and its workers. A reconciler writes commands to `wadm.cmd.{account|_}.{lattice}`
 * (stream `wadm_commands`, work queue; `wadm_ts_commands` beside the Rust wadm's `wadm_commands`) with a `Nats-Msg-Id`, so a retried reconcile that computes the
 * same command again is dropped by the server's duplicate window. Command workers (every replica, one
 * shared durable pull consumer) turn each command into one control-interface request.
 *
 * Fencing: every command carries the epoch of the lease its owner held; the workers
 * (`command-worker.ts`) drop what an older epoch issued.
 */
import { AckPolicy, RetentionPolicy } from '@nats-io/jetstream';
import { COMMAND_CONSUMER, COMMAND_STREAM, COMMAND_STREAM_BESIDE, COMMAND_SUBJECTS, commandSubject, type LatticeRef } from '@wadm-ts/protocol';
import { ensureStream, isConsumerExists, isWorkQueueConsumerConflict, workQueueConsumerConflict, type JetStreamContext } from '@wadm-ts/store';
import type { Command } from '../types.js';

/** A dead or stalled worker's commands go to another worker after this long (a live one extends with working()). */
export const COMMAND_ACK_WAIT_MS = 1500;
const NS = 1_000_000;

export interface CommandEnvelope {
  lattice: string;
  account?: string;
  /** Lease epoch of the owner that issued it. */
  epoch?: number;
  /** One command (older writers), or */
  command?: Command;
  /** several, executed at once (one message per chunk of a pass). */
  commands?: Command[];
  /**
   * Per command (same order), when its in-flight entry expires (ms, the issuer's clock). After that
   * the owner plans as if it never ran, so no attempt starts later than `EXPIRY_MARGIN_MS` before it:
   * a late put could otherwise create what nobody will clean up.
   */
  expiresAt?: number[];
}

/** No attempt of a command starts later than this before its in-flight entry expires. */
export const EXPIRY_MARGIN_MS = 1000;

export interface PublishOptions {
  /** Lease epoch of the issuing owner. */
  epoch?: number;
  /** Per command, the expiry of its in-flight entry (see `CommandEnvelope.expiresAt`). */
  expiresAt?: number[];
}

/** Commands that create or grow something (as opposed to removing it). */
export function isConstructive(c: Command): boolean {
  return (c.kind === 'ScaleComponent' && c.count > 0) || c.kind === 'UpdateComponent' || c.kind === 'StartProvider' || c.kind === 'PutLink' || c.kind === 'PutConfig';
}

/** The command stream and the workers' consumer; resolves to the name of the stream in use (see ensureStream). */
export async function ensureCommandResources(ctx: JetStreamContext): Promise<string> {
  const { name: stream } = await ensureStream(
    ctx,
    {
      name: COMMAND_STREAM,
      subjects: [COMMAND_SUBJECTS],
      retention: RetentionPolicy.Workqueue,
      max_age: 3_600_000 * NS,
      duplicate_window: 120_000 * NS,
    },
    { fallback: COMMAND_STREAM_BESIDE },
  );
  try {
    await ctx.jsm.consumers.add(stream, {
      durable_name: COMMAND_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      // A dead or stalled worker's commands go to another worker after 1.5 s; a live one extends with working().
      ack_wait: COMMAND_ACK_WAIT_MS * NS,
      max_deliver: -1,
      max_ack_pending: 1000,
    });
  } catch (err) {
    if (isWorkQueueConsumerConflict(err)) throw await workQueueConsumerConflict(ctx, COMMAND_STREAM, stream, COMMAND_CONSUMER, err);
    if (!isConsumerExists(err)) throw err;
    // Created by an older version with a longer ack_wait: bring it to this one's.
    const info = await ctx.jsm.consumers.info(stream, COMMAND_CONSUMER);
    if (info.config.ack_wait !== COMMAND_ACK_WAIT_MS * NS) await ctx.jsm.consumers.update(stream, COMMAND_CONSUMER, { ack_wait: COMMAND_ACK_WAIT_MS * NS });
  }
  return stream;
}

export async function publishCommand(ctx: JetStreamContext, ref: LatticeRef, command: Command | Command[], msgId: string, opts: PublishOptions = {}): Promise<boolean> {
  const env: CommandEnvelope = {
    lattice: ref.lattice,
    ...(ref.account ? { account: ref.account } : {}),
    ...(opts.epoch !== undefined ? { epoch: opts.epoch } : {}),
    ...(Array.isArray(command) ? { commands: command } : { command }),
    ...(opts.expiresAt !== undefined ? { expiresAt: opts.expiresAt } : {}),
  };
  const ack = await ctx.publisher.publish(commandSubject(ref), JSON.stringify(env), { msgID: msgId });
  return !ack.duplicate;
}
