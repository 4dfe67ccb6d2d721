/**
 * Live views of the CLI (issue 9, item 7): `app deploy --wait` follows the deploy to `deployed` (exit 0)
 * or `failed` (exit 1); `app status --watch` and `app list --watch` redraw as statuses change.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { simLattice } from './harness/lattice.js';
import { PatientApi, appManifest } from './harness/runtime.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/wadm.js', import.meta.url));
const LATTICE = 'live';
let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[] = [];
let sim: SimulatedLattice;
let dir = '';
const children: ChildProcess[] = [];

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(1, nats.url, { resyncIntervalMs: 1000 });
  sim = await simLattice(nats.url, LATTICE, 2);
  dir = mkdtempSync(join(tmpdir(), 'wadm-live-'));
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await sim?.close({ graceful: false });
  await Promise.all(replicas.map((r) => r.stop()));
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function wadm(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args, '--lattice', LATTICE, '-s', nats.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}

function manifestFile(name: string, image: string): string {
  const f = join(dir, `${name}.json`);
  writeFileSync(f, appManifest({ name, version: 'v1', image, instances: 2 }));
  return f;
}

test('deploy --wait: exit 0 once deployed, with the progress on the way', async () => {
  const run = wadm(['app', 'deploy', manifestFile('waited', 'reg/waited:1'), '--wait']);
  assert.equal(await run.exit, 0, `${run.out()} ${run.err()}`);
  assert.match(run.out(), /waited - deployed/);
});

test('deploy --wait: exit 1 when the app fails', async () => {
  sim.failStarts(/reg\/broken/, 'image not found');
  try {
    const run = wadm(['app', 'deploy', manifestFile('broken', 'reg/broken:1'), '--wait', '--wait-timeout-ms', '60000']);
    assert.equal(await run.exit, 1, `${run.out()} ${run.err()}`);
    assert.match(run.err(), /broken failed/);
  } finally {
    sim.clearFaults();
  }
});

test('status --watch and list --watch redraw as statuses change', async () => {
  const api = new PatientApi(nc, LATTICE, 2000, 30_000);
  const status = wadm(['app', 'status', 'waited', '--watch']);
  const list = wadm(['app', 'list', '--watch']);
  await waitFor(() => /waited@v1 - deployed/.test(status.out()), 20_000, 'the first rendering of status');
  await waitFor(() => /waited/.test(list.out()), 20_000, 'the first rendering of list');
  await api.undeploy('waited');
  await waitFor(() => /waited.* - undeployed/.test(status.out()), 20_000, `status redrawn: ${status.out()}`);
  await waitFor(() => /waited\s+N\/A/.test(list.out()), 20_000, `list redrawn: ${list.out()}`);
  status.child.kill('SIGINT');
  list.child.kill('SIGINT');
  assert.equal(await status.exit, 0);
  assert.equal(await list.exit, 0);
});
