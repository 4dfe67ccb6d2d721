/**
 * The `wadm` command as a user runs it: separate processes, real nats-server, the admin endpoint,
 * SIGTERM drain, `wadm up` starting its own nats-server, and the `app` commands end to end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isTcpReachable } from '@wadm-ts/dev';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { FIXTURES_DIR } from './harness/api.js';
import { WADM_BIN as BIN, runWadm as wadm } from './harness/cli.js';




function daemon(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WADM_STRUCTURED_LOGGING: 'true' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
}

async function stopDaemon(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  // The daemon's own drain bound is 20 s; past 30 s it is hung, and the test fails (code null) instead of hanging.
  const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await exited) as [number | null];
  clearTimeout(kill);
  return code;
}

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

describe('wadm serve', () => {
  test('admin endpoint, app commands end to end, SIGTERM drains and exits 0', async () => {
    const adminPort = await freePort();
    const d = daemon(['serve', '-s', nats.url, '--http-admin', `127.0.0.1:${adminPort}`, '--stream-persistence', 'memory', '--host-id', 'cli-test']);
    try {
      const admin = `http://127.0.0.1:${adminPort}`;
      await waitFor(async () => (await httpGet(`${admin}/readyz`)).status === 200, 20_000, `readyz (output: ${d.output()})`);
      assert.deepEqual(JSON.parse((await httpGet(`${admin}/livez`)).body), { status: 'ok' });
      const common = ['--lattice', 'clitest', '-s', nats.url];
      const hello = join(FIXTURES_DIR, 'examples', 'oam', 'hello.yaml');

      let r = await wadm(['app', 'put', hello, ...common]);
      assert.equal(r.code, 0, r.stderr);
      const put = /^Put application "hello-world", version "([0-9A-Z]{26})"/.exec(r.stdout);
      assert.ok(put, r.stdout);
      const version = put[1]!;

      r = await wadm(['app', 'list', ...common, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const listed = JSON.parse(r.stdout);
      assert.equal(listed.models?.[0]?.name ?? listed[0]?.name, 'hello-world');

      r = await wadm(['app', 'deploy', 'hello-world', ...common]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(`Deployed application "hello-world", version "${version}"`), r.stdout);

      r = await wadm(['app', 'history', 'hello-world', ...common]);
      assert.ok(r.stdout.includes(version), r.stdout);

      r = await wadm(['app', 'status', 'hello-world', ...common]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /hello-world/);

      r = await wadm(['app', 'get', 'hello-world', 'nope', ...common]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /doesn't exist/);

      r = await wadm(['app', 'put', '-', ...common], 'apiVersion: [broken');
      assert.equal(r.code, 1);

      r = await wadm(['app', 'undeploy', 'hello-world', ...common]);
      assert.equal(r.code, 0, r.stderr);
      r = await wadm(['app', 'delete', 'hello-world', ...common]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Deleted application: hello-world/);

      const metrics = await httpGet(`${admin}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /wadm_api_requests_total\{[^}]*operation="put"[^}]*result="created"/);
      assert.match(metrics.body, /replica="cli-test"/);
      assert.equal(await stopDaemon(d.child), 0, d.output());
      const lines = d
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.length > 0 && lines.every((l) => l['replica'] === 'cli-test'), 'pino JSON lines carry the replica');
      assert.ok(lines.some((l) => l['lattice'] === 'clitest' && l['app'] === 'hello-world'), 'and lattice/app where they apply');
    } finally {
      await stopDaemon(d.child);
    }
  });

  test('/readyz is 503 until NATS is reachable, then 200', async () => {
    const natsPort = await freePort();
    const adminPort = await freePort();
    const d = daemon(['serve', '-s', `127.0.0.1:${natsPort}`, '--http-admin', `127.0.0.1:${adminPort}`, '--stream-persistence', 'memory']);
    const { startLocalNats } = await import('@wadm-ts/dev');
    let late: Awaited<ReturnType<typeof startLocalNats>> | undefined;
    try {
      const admin = `http://127.0.0.1:${adminPort}`;
      await waitFor(async () => (await httpGet(`${admin}/livez`)).status === 200, 20_000, 'livez');
      assert.equal((await httpGet(`${admin}/readyz`)).status, 503);
      late = await startLocalNats({ port: natsPort });
      await waitFor(async () => (await httpGet(`${admin}/readyz`)).status === 200, 30_000, `readyz after NATS came up: ${d.output()}`);
      assert.equal(await stopDaemon(d.child), 0);
    } finally {
      await stopDaemon(d.child);
      await late?.stop();
    }
  });
});

describe('wadm up', () => {
  test('starts its own nats-server when none answers, serves, and stops it on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'wadm-up-'));
    const d = daemon(['up', '-s', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    try {
      await waitFor(async () => {
        const r = await wadm(['app', 'list', '-s', `127.0.0.1:${port}`]);
        return r.code === 0;
      }, 30_000, `wadm up serving (output: ${d.output()})`);
      assert.match(d.output(), /starting nats-server -js/);
      assert.equal(await stopDaemon(d.child), 0, d.output());
      assert.equal(await isTcpReachable(`127.0.0.1:${port}`, 500), false, 'the nats-server it started is stopped');
    } finally {
      await stopDaemon(d.child);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('wadm sim', () => {
  test('runs N simulated hosts with labels, and stops them cleanly on SIGTERM', async () => {
    const nc = await nats.connect();
    const started: Array<Record<string, any>> = [];
    const stopped: string[] = [];
    const s1 = nc.subscribe('wasmbus.evt.simcli.host_started', { callback: (_e, m) => void started.push(JSON.parse(m.string())) });
    const s2 = nc.subscribe('wasmbus.evt.simcli.host_stopped', { callback: (_e, m) => void stopped.push(JSON.parse(m.string()).source) });
    const d = daemon(['sim', '--lattice', 'simcli', '--hosts', '3', '--label', 'zone=east', '--label', 'tier=gold', '-s', nats.url]);
    try {
      await waitFor(() => started.length === 3, 20_000, `3 host_started (output: ${d.output()})`);
      for (const ev of started) assert.deepEqual({ zone: ev['data'].labels.zone, tier: ev['data'].labels.tier }, { zone: 'east', tier: 'gold' });
      const inventory = await nc.request(`wasmbus.ctl.v1.simcli.host.get.${started[0]!['source']}`, '', { timeout: 5000 });
      assert.equal(JSON.parse(inventory.string()).success, true);
      assert.equal(await stopDaemon(d.child), 0);
      await waitFor(() => stopped.length === 3, 10_000, '3 host_stopped');
      assert.deepEqual(stopped.sort(), started.map((e) => e['source']).sort());
    } finally {
      s1.unsubscribe();
      s2.unsubscribe();
      await stopDaemon(d.child);
    }
  });
});

describe('offline commands', () => {
  test('validate reports warnings and errors, exit 1 on errors', async () => {
    let r = await wadm(['app', 'validate', join(FIXTURES_DIR, 'examples', 'legacy', 'echo.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /warning/i);
    const dir = await mkdtemp(join(tmpdir(), 'wadm-validate-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      'apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: bad\n  annotations: {}\nspec:\n  components:\n    - name: a\n      type: component\n      properties: {}\n',
    );
    r = await wadm(['app', 'validate', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /Component must have either 'image' or 'application' property/);
    await rm(dir, { recursive: true, force: true });
  });

  test('schema prints the manifest JSON Schema', async () => {
    const r = await wadm(['schema']);
    assert.equal(r.code, 0);
    const schema = JSON.parse(r.stdout);
    assert.ok(schema.properties.spec && schema.required.includes('metadata'));
  });
});
