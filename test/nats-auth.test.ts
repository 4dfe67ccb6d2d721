/**
 * Connecting to a NATS that asks for credentials (issue 9, item 8): user/password in the URL, an NKey
 * seed alone (a valid NKey user: no JWT needed; a seed file's trailing newline is trimmed), TLS with an
 * own CA; wrong credentials are a clear failure (never ready, an error log naming the cause, not
 * "not reachable"); and no credential ever appears in a replica's output, also across a reconnect.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { startLocalNats, type LocalNats } from '@wadm-ts/dev';
import { waitFor } from './harness/nats.js';
import { ReplicaFleet, type ReplicaProc } from './harness/procs.js';

const PASSWORD = 's3cret-Pa55word';
let dir = '';
const servers: LocalNats[] = [];
const fleets: ReplicaFleet[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wadm-auth-'));
});

after(async () => {
  for (const f of fleets) f.killAll();
  for (const s of servers) await s.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function server(config: string): Promise<LocalNats> {
  const s = await startLocalNats({ config });
  servers.push(s);
  return s;
}

function fleet(url: string): ReplicaFleet {
  const f = new ReplicaFleet({ natsUrl: url, args: ['--stream-persistence', 'memory'] });
  fleets.push(f);
  return f;
}

const output = (r: ReplicaProc): string => `${r.lines.map((l) => JSON.stringify(l)).join('\n')}\n${r.stderr()}`;

test('user and password in the URL: ready, and the password never logged, also across a reconnect', async () => {
  const s = await server(`authorization { users = [ { user: wadm, password: "${PASSWORD}" } ] }`);
  const f = fleet(`nats://wadm:${PASSWORD}@${s.host}:${s.port}`);
  const r = f.spawn('auth-userpass');
  await f.ready([r]);
  await s.restart();
  await waitFor(() => r.lines.some((l) => l.msg === 'NATS reconnected'), 30_000, 'the replica reconnected');
  assert.ok(!output(r).includes(PASSWORD), 'the password appears nowhere in the output');
});

test('an NKey seed alone (a file ending in a newline) is a valid NKey user', async () => {
  const user = createUser();
  const seedFile = join(dir, 'user.nk');
  writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`);
  const s = await server(`authorization { users = [ { nkey: ${user.getPublicKey()} } ] }`);
  const f = fleet(s.url);
  const r = f.spawn('auth-nkey', ['--nats-seed', seedFile]);
  await f.ready([r]);
  assert.ok(!output(r).includes(new TextDecoder().decode(user.getSeed())), 'the seed is never logged');
});

test('TLS with an own CA', async () => {
  const ca = join(dir, 'ca');
  const srv = join(dir, 'server');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '1', '-subj', '/CN=wadm-test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${srv}.key`, '-out', `${srv}.csr`, '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(`${srv}.ext`, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  execFileSync('openssl', ['x509', '-req', '-in', `${srv}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${srv}.pem`, '-days', '1', '-extfile', `${srv}.ext`], { stdio: 'ignore' });
  const s = await server(`tls { cert_file: "${srv}.pem", key_file: "${srv}.key" }`);
  const f = fleet(s.url);
  const r = f.spawn('auth-tls', ['--nats-tls-ca-file', `${ca}.pem`]);
  await f.ready([r]);
});

test('wrong credentials: never ready, an error naming the cause, and the password not logged', async () => {
  const s = await server(`authorization { users = [ { user: wadm, password: "${PASSWORD}" } ] }`);
  const f = fleet(`nats://wadm:wrong-${PASSWORD}@${s.host}:${s.port}`);
  const r = f.spawn('auth-wrong');
  await waitFor(() => r.lines.some((l) => l.msg?.startsWith('NATS refused the credentials') === true), 30_000, 'the refusal logged');
  assert.ok(r.alive(), 'the replica keeps trying (the credentials may be fixed)');
  assert.ok(!r.lines.some((l) => l.msg === 'replica ready'), 'never ready');
  assert.ok(!r.lines.some((l) => l.msg === 'NATS not reachable yet, retrying'), 'not reported as unreachable');
  assert.ok(!output(r).includes(PASSWORD), 'the password appears nowhere in the output');
});
