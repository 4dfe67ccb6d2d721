/** Opening the NATS connection from wadm's connection settings (docs/wire/behaviour.md §6). */
import { readFileSync, existsSync } from 'node:fs';
import './nats-patches.js';
import { AuthorizationError, connect, credsAuthenticator, jwtAuthenticator, nkeyAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

export interface NatsSettings {
  /** `WADM_NATS_SERVER`: `host:port`, `nats://host:port`, optionally `user:pass@`, comma-separated for several. */
  server: string;
  credsFile?: string;
  /** Seed literal or a file holding it (needs jwt). */
  nkeySeed?: string;
  /** JWT literal or a file holding it. */
  jwt?: string;
  tlsCaFile?: string;
  name?: string;
}

/** A value that is either literal or the path of a file holding it. */
function literalOrFile(v: string): string {
  return existsSync(v) ? readFileSync(v, 'utf8').trim() : v.trim();
}

export function connectionOptions(s: NatsSettings): NodeConnectionOptions {
  const servers: string[] = [];
  let user: string | undefined;
  let pass: string | undefined;
  for (const raw of s.server.split(',').map((x) => x.trim()).filter(Boolean)) {
    const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `nats://${raw}`;
    const u = new URL(withScheme);
    if (u.username) {
      user = decodeURIComponent(u.username);
      pass = decodeURIComponent(u.password);
    }
    servers.push(`${u.hostname}:${u.port || '4222'}`);
  }
  // noAsyncTraces: no stack captured per request (a large share of CPU under load); errors carry our own context.
  const opts: NodeConnectionOptions = { servers, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true };
  if (s.name) opts.name = s.name;
  if (user !== undefined) {
    opts.user = user;
    if (pass) opts.pass = pass;
  }
  if (s.credsFile) {
    if (s.nkeySeed || s.jwt) throw new Error('--nats-creds-file conflicts with --nats-seed / --nats-jwt');
    opts.authenticator = credsAuthenticator(readFileSync(s.credsFile));
  } else if (s.jwt) {
    if (!s.nkeySeed) throw new Error('--nats-jwt needs --nats-seed (the seed of the user the JWT was issued to)');
    opts.authenticator = jwtAuthenticator(literalOrFile(s.jwt), new TextEncoder().encode(literalOrFile(s.nkeySeed)));
  } else if (s.nkeySeed) {
    // A seed alone is an NKey user (the server lists its public key); a file's trailing newline is trimmed.
    opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(literalOrFile(s.nkeySeed)));
  }
  if (s.tlsCaFile) opts.tls = { caFile: s.tlsCaFile };
  return opts;
}

export { coalesceSocketWrites, natsRequestPatched } from './nats-patches.js';

/** A server list fit for logs: passwords (and tokens in the user part) replaced by `***`. */
export function redactServers(server: string): string {
  return server
    .split(',')
    .map((raw) => raw.trim().replace(/^((?:[a-z]+:\/\/)?)([^@/]*)@/i, (_m, scheme: string, user: string) => `${scheme}${user.includes(':') ? `${user.slice(0, user.indexOf(':'))}:***` : '***'}@`))
    .join(',');
}

/** Whether a connection failure is the server refusing the credentials (retrying will not help until they change). */
export function isAuthFailure(err: unknown): boolean {
  const e = err as { name?: string; message?: string; cause?: unknown } | undefined;
  if (err instanceof AuthorizationError) return true;
  if (e?.cause && e.cause !== err && isAuthFailure(e.cause)) return true;
  return /authorization violation|authentication|user authentication|invalid nkey|invalid signature/i.test(`${e?.name ?? ''} ${e?.message ?? ''}`);
}

export function connectNats(s: NatsSettings): Promise<NatsConnection> {
  return connect(connectionOptions(s));
}
