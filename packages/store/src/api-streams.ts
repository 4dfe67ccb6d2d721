/**
 * JetStream resources wadm-ts needs for the API: the status stream and the wadm event stream.
 */
import { RetentionPolicy } from '@nats-io/jetstream';
import {
  STATUS_STREAM,
  STATUS_STREAM_BESIDE,
  STATUS_SUBJECTS,
  TENANT_STATUS_STREAM,
  TENANT_STATUS_SUBJECTS,
  WADM_EVENT_SUBJECTS,
  WADM_EVENTS_STREAM,
  WADM_EVENTS_STREAM_BESIDE,
} from '@wadm-ts/protocol';
import type { JetStreamContext } from './jetstream-context.js';
import { ensureStream } from './ensure-stream.js';

const SEVENTY_SECONDS_NS = 70 * 1_000_000_000;

/**
 * The status and wadm event streams. Both have the Rust wadm's subjects and retention, so the Rust wadm's
 * streams are used as they are (status history included); where one is incompatible, wadm-ts's own
 * stream beside it (`wadm_ts_status`, `wadm_ts_events`) when that is possible (see ensureStream).
 */
export async function ensureApiStreams(ctx: JetStreamContext, opts: { multitenant?: boolean } = {}): Promise<void> {
  if (opts.multitenant) {
    await ensureStream(ctx, {
      name: TENANT_STATUS_STREAM,
      subjects: [TENANT_STATUS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 10,
      allow_direct: true,
    });
  }
  await ensureStream(
    ctx,
    {
      name: STATUS_STREAM,
      subjects: [STATUS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 10,
      allow_direct: true,
    },
    { fallback: STATUS_STREAM_BESIDE },
  );
  await ensureStream(
    ctx,
    {
      name: WADM_EVENTS_STREAM,
      subjects: [WADM_EVENT_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_age: SEVENTY_SECONDS_NS,
    },
    { fallback: WADM_EVENTS_STREAM_BESIDE },
  );
}
