/**
 * The settings of one wadm-ts replica, from flags and environment variables with the names and
 * defaults of the Rust wadm (docs/wire/behaviour.md §6), so it drops in where the Rust wadm ran.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { DEFAULT_API_PREFIX, normalizeApiPrefix } from '@wadm-ts/protocol';
import { DEFAULT_MANIFEST_BUCKET, DEFAULT_STATE_BUCKET } from '@wadm-ts/protocol';
import type { NatsSettings, JetStreamSettings } from '@wadm-ts/store';

export interface ReplicaConfig {
  replicaId: string;
  nats: NatsSettings;
  jetstream: JetStreamSettings;
  apiPrefix: string;
  streamPrefix?: string;
  manifestBucket: string;
  stateBucket: string;
  /** Seconds without an event after which a host is considered gone. */
  cleanupIntervalS: number;
  multitenant: boolean;
  structuredLogging: boolean;
  maxJobs: number;
  maxRequestBytes: number;
  /** `host:port` for /livez, /readyz, /metrics. */
  httpAdmin?: string;
  tracing: boolean;
  tracingEndpoint?: string;
  /** Ingest consumer ack wait, ms (redelivery delay after a replica dies mid-event). */
  ingestAckWaitMs: number;
  /** How long a `host.ping` collects answers on a cold start, ms. */
  hostPingWindowMs: number;
  /** Reconcile signals are coalesced per lattice over this interval, ms. */
  signalIntervalMs: number;
  /** Every lattice is reconciled at least this often, ms. */
  resyncIntervalMs: number;
  /** Lease duration: another replica takes a lattice over within this long after its owner stalls or dies, ms. */
  takeoverMs: number;
  /**
   * Replicas of every stream and bucket wadm-ts creates, and that existing ones are updated to — only
   * when given (absent: new ones get 1, existing ones are left as the operator made them).
   */
  streamReplicas?: number;
  /** A lattice with no live host and no deployed app for this long is forgotten, seconds. */
  latticeGcAfterS: number;
  /** Concurrent reconcile passes on this replica. */
  maxReconciles: number;
  /** How long an in-place `component.update` (and a provider start) may take before it is retried; an update
   * that never shows is then replaced by stop and start on that host, ms. */
  updateTimeoutMs: number;
  /** Test-only (hidden): disable epoch fencing, to show what it prevents. Never in production. */
  unsafeDisableFencing?: boolean;
}

/** clap's reading of a boolean env var: n/no/f/false/off/0 (any case) and empty are false. */
export function envFlag(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return !['', 'n', 'no', 'f', 'false', 'off', '0'].includes(v.trim().toLowerCase());
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${v}'`);
    return n;
  };
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

/** A whole number of ms of at least `min` (an in-flight entry must outlive the command workers' 1 s expiry margin). */
function intAtLeast(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}, got '${v}'`);
    return n;
  };
}

/** Adds every serve flag (with its env var) to a command. */
export function addReplicaOptions(cmd: Command): Command {
  const opt = (flags: string, desc: string, env: string, def?: string | number, parse?: (v: string) => unknown): void => {
    const o = new Option(flags, desc).env(env);
    if (def !== undefined) o.default(def);
    if (parse) o.argParser(parse);
    cmd.addOption(o);
  };
  opt('-s, --nats-server <url>', 'NATS server to connect to (user:pass@host:port honoured)', 'WADM_NATS_SERVER', '127.0.0.1:4222');
  opt('--nats-seed <seed>', 'NKey seed (literal or file), needs --nats-jwt', 'WADM_NATS_NKEY');
  opt('--nats-jwt <jwt>', 'JWT (literal or file), needs --nats-seed', 'WADM_NATS_JWT');
  opt('--nats-creds-file <path>', 'NATS credentials file', 'WADM_NATS_CREDS_FILE');
  opt('--nats-tls-ca-file <path>', 'CA file for TLS to NATS', 'WADM_NATS_TLS_CA_FILE');
  opt('-d, --domain <domain>', 'JetStream domain for every stream and KV bucket', 'WADM_JETSTREAM_DOMAIN');
  opt('--api-prefix <prefix>', 'API subject prefix', 'WADM_API_PREFIX', DEFAULT_API_PREFIX);
  opt('--stream-prefix <prefix>', 'prefix for the internal stream names', 'WADM_STREAM_PREFIX');
  opt('--manifest-bucket-name <name>', 'KV bucket of manifests', 'WADM_MANIFEST_BUCKET_NAME', DEFAULT_MANIFEST_BUCKET);
  opt('--state-bucket-name <name>', 'KV bucket of lattice state', 'WADM_STATE_BUCKET_NAME', DEFAULT_STATE_BUCKET);
  opt('--cleanup-interval <seconds>', 'seconds without events after which a host is gone', 'WADM_CLEANUP_INTERVAL', 70, positiveNumber('--cleanup-interval'));
  opt('--ingest-ack-wait-ms <ms>', 'redeliver an unacknowledged lattice event after this long', 'WADM_INGEST_ACK_WAIT_MS', 30000, positiveInt('--ingest-ack-wait-ms'));
  opt('--host-ping-window-ms <ms>', 'on a cold start, how long host.ping collects the hosts that answer before the lattice is queried and reconciled', 'WADM_HOST_PING_WINDOW_MS', 1000, positiveInt('--host-ping-window-ms'));
  opt('--resync-interval-ms <ms>', 'reconcile every lattice at least this often', 'WADM_RESYNC_INTERVAL_MS', 30000, positiveInt('--resync-interval-ms'));
  opt('--takeover-ms <ms>', 'another replica takes a lattice over within this long after its owner dies', 'WADM_TAKEOVER_MS', 5000, positiveInt('--takeover-ms'));
  opt('--stream-replicas <n>', 'replicas of every stream and KV bucket wadm-ts creates, and that existing ones are updated to (default: 1 for new ones, existing ones left alone)', 'WADM_STREAM_REPLICAS', undefined, positiveInt('--stream-replicas'));
  opt('--lattice-gc-after <seconds>', 'forget a lattice with no live host and no deployed app after this long', 'WADM_LATTICE_GC_AFTER', 3600, positiveNumber('--lattice-gc-after'));
  opt('--update-timeout-ms <ms>', 'how long an in-place component.update may take (the image fetch) before that host is replaced by stop and start instead (hosts report a failed update only in their own log)', 'WADM_UPDATE_TIMEOUT_MS', 30000, intAtLeast('--update-timeout-ms', 2000));
  opt('--max-reconciles <n>', 'concurrent reconcile passes on this replica', 'WADM_MAX_RECONCILES', 8, positiveInt('--max-reconciles'));
  opt('--signal-interval-ms <ms>', 'coalesce reconcile signals per lattice over this interval', 'WADM_SIGNAL_INTERVAL_MS', 100, positiveInt('--signal-interval-ms'));
  opt('--stream-persistence <kind>', 'file or memory', 'WADM_STREAM_PERSISTENCE', 'file');
  opt('-j, --max-jobs <n>', 'concurrent message handlers of this replica', 'WADM_MAX_JOBS', undefined, positiveInt('--max-jobs'));
  opt('--max-request-bytes <n>', 'largest API request body accepted', 'WADM_MAX_REQUEST_BYTES', 1048576, positiveInt('--max-request-bytes'));
  opt('--http-admin <addr>', 'host:port serving /livez, /readyz and /metrics', 'WADM_HTTP_ADMIN');
  opt('-i, --host-id <id>', 'this replica\'s id (in logs and metrics); random by default', 'WADM_HOST_ID');
  opt('-e, --tracing-endpoint <url>', 'OTLP/HTTP traces endpoint (default http://localhost:4318/v1/traces; /v1/traces appended when missing); setting it enables tracing', 'WADM_TRACING_ENDPOINT');
  cmd.option('-l, --structured-logging', 'JSON logs (env WADM_STRUCTURED_LOGGING)');
  cmd.option('--multitenant', 'account-prefixed subjects (env WADM_MULTITENANT)');
  cmd.option('-t, --tracing', 'export OTLP traces: a span per API request, reconcile pass and control command (env WADM_TRACING_ENABLED)');
  for (const hidden of [
    ['--state-bucket-max-bytes <n>', 'WADM_STATE_BUCKET_MAX_BYTES'],
    ['--manifest-bucket-max-bytes <n>', 'WADM_MANIFEST_BUCKET_MAX_BYTES'],
    ['--command-stream-max-bytes <n>', 'WADM_COMMAND_STREAM_MAX_BYTES'],
    ['--event-stream-max-bytes <n>', 'WADM_EVENT_STREAM_MAX_BYTES'],
    ['--event-consumer-stream-max-bytes <n>', 'WADM_EVENT_CONSUMER_STREAM_MAX_BYTES'],
    ['--status-stream-max-bytes <n>', 'WADM_STATUS_STREAM_MAX_BYTES'],
    ['--notify-stream-max-bytes <n>', 'WADM_NOTIFY_STREAM_MAX_BYTES'],
    ['--wasmbus-event-stream-max-bytes <n>', 'WADM_WASMBUS_EVENT_STREAM_MAX_BYTES'],
  ] as const) {
    cmd.addOption(new Option(hidden[0]).env(hidden[1]).hideHelp());
  }
  return cmd;
}

type Raw = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Turn parsed commander options (plus the boolean env vars) into a ReplicaConfig. */
export function replicaConfigFrom(o: Raw, env: NodeJS.ProcessEnv = process.env): ReplicaConfig {
  const persistence = String(o['streamPersistence'] ?? 'file').toLowerCase();
  if (persistence !== 'file' && persistence !== 'memory') throw new Error(`--stream-persistence must be 'file' or 'memory', got '${persistence}'`);
  const bool = (key: string, envName: string): boolean => (o[key] === true ? true : (envFlag(env[envName]) ?? false));
  const nats: NatsSettings = { server: String(o['natsServer'] ?? '127.0.0.1:4222') };
  const seed = str(o['natsSeed']);
  const jwt = str(o['natsJwt']);
  const creds = str(o['natsCredsFile']);
  const ca = str(o['natsTlsCaFile']);
  if (seed) nats.nkeySeed = seed;
  if (jwt) nats.jwt = jwt;
  if (creds) nats.credsFile = creds;
  if (ca) nats.tlsCaFile = ca;
  const streamReplicas = o['streamReplicas'] === undefined ? undefined : Number(o['streamReplicas']);
  const jetstream: JetStreamSettings = { persistence, ...(streamReplicas !== undefined ? { replicas: streamReplicas } : {}) };
  const domain = str(o['domain']);
  if (domain) jetstream.domain = domain;
  const replicaId = str(o['hostId']) ?? `wadm-${hostname()}-${randomUUID().slice(0, 8)}`;
  nats.name = `wadm-ts ${replicaId}`;
  const cfg: ReplicaConfig = {
    replicaId,
    nats,
    jetstream,
    apiPrefix: normalizeApiPrefix(String(o['apiPrefix'] ?? DEFAULT_API_PREFIX)),
    manifestBucket: String(o['manifestBucketName'] ?? DEFAULT_MANIFEST_BUCKET),
    stateBucket: String(o['stateBucketName'] ?? DEFAULT_STATE_BUCKET),
    cleanupIntervalS: Number(o['cleanupInterval'] ?? 70),
    multitenant: bool('multitenant', 'WADM_MULTITENANT'),
    structuredLogging: bool('structuredLogging', 'WADM_STRUCTURED_LOGGING'),
    maxJobs: typeof o['maxJobs'] === 'number' ? o['maxJobs'] : 256,
    maxRequestBytes: Number(o['maxRequestBytes'] ?? 1048576),
    tracing: bool('tracing', 'WADM_TRACING_ENABLED') || str(o['tracingEndpoint']) !== undefined,
    ingestAckWaitMs: Number(o['ingestAckWaitMs'] ?? 30000),
    hostPingWindowMs: Number(o['hostPingWindowMs'] ?? 1000),
    signalIntervalMs: Number(o['signalIntervalMs'] ?? 100),
    resyncIntervalMs: Number(o['resyncIntervalMs'] ?? 30000),
    takeoverMs: Number(o['takeoverMs'] ?? 5000),
    ...(streamReplicas !== undefined ? { streamReplicas } : {}),
    latticeGcAfterS: Number(o['latticeGcAfter'] ?? 3600),
    maxReconciles: Number(o['maxReconciles'] ?? 8),
    updateTimeoutMs: Number(o['updateTimeoutMs'] ?? 30000),
  };
  if (envFlag(env['WADM_UNSAFE_DISABLE_FENCING'])) cfg.unsafeDisableFencing = true;
  const sp = str(o['streamPrefix']);
  if (sp) cfg.streamPrefix = sp;
  const admin = str(o['httpAdmin']);
  if (admin) cfg.httpAdmin = admin;
  const te = str(o['tracingEndpoint']);
  if (te) cfg.tracingEndpoint = te;
  return cfg;
}
