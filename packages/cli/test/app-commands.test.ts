import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import type { ModelSummary } from '@wadm-ts/protocol';
import { formatTable, oneLine } from '../src/format.js';
import { registerAppCommands } from '../src/app-commands.js';
import { validateCommand } from '../src/commands/validate.js';
import { deprecatedLinkKeyWarnings } from '../src/manifest-check.js';
import { isManifestSource, readManifestSource } from '../src/manifest-source.js';
import type { CommandOutput } from '../src/output.js';
import { renderDelete, renderDeploy, renderHistory, renderList, renderPut } from '../src/render.js';
import { renderPlan } from '../src/render-plan.js';
import { renderStatus } from '../src/render-status.js';

const SOURCE_CONFIG_WARNING = "warning: one of the components' link trait contains a source_config key, please use source:config: rather";

const BAD_MANIFEST = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: bad-app
  annotations:
    version: v0.0.1
spec:
  components:
    - name: hello
      type: component
      properties:
        image: ghcr.io/example/hello:0.1.0
      traits:
        - type: spreadscaler
          properties:
            instances: 1
    - name: httpserver
      type: capability
      properties:
        image: ghcr.io/example/httpserver:0.1.0
      traits:
        - type: link
          properties:
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            target: hello
            source_config:
              - name: port-a
                properties:
                  address: '0.0.0.0:8080'
        - type: link
          properties:
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            target: hello
            source_config:
              - name: port-b
                properties:
                  address: '0.0.0.0:8081'
`;

const GOOD_MANIFEST = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: good-app
  annotations:
    version: v0.0.1
spec:
  components:
    - name: hello
      type: component
      properties:
        image: ghcr.io/example/hello:0.1.0
      traits:
        - type: spreadscaler
          properties:
            instances: 1
`;

function summary(over: Partial<ModelSummary>): ModelSummary {
  return {
    name: 'app',
    version: 'v2',
    description: null,
    deployed_version: null,
    detailed_status: { status: { type: 'undeployed' }, version: '', components: [] },
    status: 'undeployed',
    status_message: '',
    ...over,
  };
}

describe('formatTable', () => {
  it('aligns columns, leaves no trailing spaces and indents', () => {
    const lines = formatTable(
      ['Name', 'Kind', 'Status'],
      [
        ['http', 'SpreadScaler', 'deployed'],
        ['a-much-longer-name', 'LinkScaler', ''],
      ],
      { indent: '  ' },
    );
    assert.deepEqual(lines, [
      '  Name                Kind          Status',
      '  http                SpreadScaler  deployed',
      '  a-much-longer-name  LinkScaler',
    ]);
  });

  it('flattens multi-line cells and truncates with oneLine', () => {
    assert.deepEqual(formatTable(['A', 'B'], [['x\ny', 'z']]), ['A    B', 'x y  z']);
    assert.equal(oneLine('  a\n  b  '), 'a b');
    assert.equal(oneLine('abcdefghij', 5), 'abcd…');
    assert.equal(oneLine('abcde', 5), 'abcde');
  });
});

describe('deploy argument detection', () => {
  it('treats .yaml/.yml/.json paths, URLs and - as manifests, anything else as a name', () => {
    for (const arg of ['app.yaml', './dir/app.YML', 'app.json', '-', 'https://example.com/app', 'http://x/y.wadm']) {
      assert.equal(isManifestSource(arg), true, arg);
    }
    for (const arg of ['my-app', 'app_yaml', 'yaml', 'app.yaml.bak', 'v1.json-ish']) {
      assert.equal(isManifestSource(arg), false, arg);
    }
  });

  it('reads - from stdin', async () => {
    assert.equal(await readManifestSource('-', Readable.from([Buffer.from('kind: '), Buffer.from('Application\n')])), 'kind: Application\n');
  });
});

describe('reply rendering', () => {
  it('put and deploy print the wash lines', () => {
    const put = renderPut({ result: 'created', total_versions: 1, current_version: 'v1', message: 'ok', name: 'hello' }, 'text');
    assert.deepEqual(put, { stdout: ['Put application "hello", version "v1"'], stderr: [], exitCode: 0 });
    const dep = renderDeploy({ result: 'acknowledged', message: 'ok', name: 'hello', version: 'v1' }, 'text');
    assert.deepEqual(dep.stdout, ['Deployed application "hello", version "v1"']);
  });

  it('an error or notfound reply prints its message on stderr and exits 1', () => {
    const out = renderDeploy({ result: 'notfound', message: 'Application with the name x not found', name: 'x', version: null }, 'text');
    assert.deepEqual(out, { stdout: [], stderr: ['Application with the name x not found'], exitCode: 1 });
  });

  it('json prints the raw reply body on one line, exit 1 on failure', () => {
    const reply = { result: 'error' as const, total_versions: 0, current_version: '', message: 'Manifest version v1 already exists', name: '' };
    assert.deepEqual(renderPut(reply, 'json'), { stdout: [JSON.stringify(reply)], stderr: [], exitCode: 1 });
  });

  it('delete distinguishes deleted and noop', () => {
    assert.deepEqual(renderDelete('hello', undefined, { result: 'deleted', message: '', undeploy: true }, 'text').stdout, [
      'Deleted application: hello',
    ]);
    assert.deepEqual(renderDelete('hello', undefined, { result: 'noop', message: '', undeploy: false }, 'text').stdout, [
      'Already deleted application: hello',
    ]);
    assert.deepEqual(renderDelete('hello', 'v1', { result: 'deleted', message: '', undeploy: false }, 'text').stdout, [
      'Deleted application: hello, version "v1"',
    ]);
  });

  it('list prints a table of name, deployed version, latest version, status and description', () => {
    const out = renderList(
      {
        result: 'success',
        message: '',
        models: [
          summary({ name: 'hello', deployed_version: 'v1', detailed_status: { status: { type: 'deployed' }, version: '', components: [] }, description: 'Says\nhello' }),
          summary({ name: 'other', detailed_status: { status: { type: 'waiting', message: 'Waiting' }, version: '', components: [] } }),
        ],
      },
      'text',
    );
    assert.deepEqual(out.stdout, [
      'Name   Deployed Version  Latest Version  Status    Description',
      'hello  v1                v2              deployed  Says hello',
      'other  N/A               v2              waiting',
    ]);
    assert.deepEqual(renderList({ result: 'success', message: '', models: [] }, 'text').stdout, ['No applications found']);
  });

  it('history prints version and deployed', () => {
    const out = renderHistory(
      { result: 'success', message: '', versions: [{ version: '01J0', deployed: false }, { version: 'v0.0.2', deployed: true }] },
      'text',
    );
    assert.deepEqual(out.stdout, ['Version  Deployed', '01J0     no', 'v0.0.2   yes']);
  });

  it('status prints name@version - type and one row per scaler, with (*) for messages', () => {
    const status = {
      status: { type: 'failed', message: 'Could not satisfy spread' },
      scalers: [
        { id: '1', kind: 'SpreadScaler', name: 'http', status: { type: 'deployed' } },
        { id: '2', kind: 'SpreadScaler', name: 'httpserver', status: { type: 'failed', message: 'Could not satisfy spread' } },
      ],
      version: '',
      components: [],
    };
    const out = renderStatus('hello', { result: 'ok', message: '', status }, 'text', 'v1');
    assert.deepEqual(out.stdout, [
      'hello@v1 - failed',
      '  Name        Kind          Status    Message',
      '  http        SpreadScaler  deployed',
      '  httpserver  SpreadScaler  failed    (*) Could not satisfy spread',
    ]);
    const undeployed = renderStatus('gone', { result: 'ok', message: '', status: { status: { type: 'undeployed', message: 'Manifest has been undeployed' }, version: '', components: [] } }, 'text');
    assert.deepEqual(undeployed.stdout, ['gone - undeployed', '  Manifest has been undeployed']);
  });
});

describe('plan rendering (app diff, deploy --dry-run)', () => {
  const base = { result: 'success' as const, message: '', name: 'shop', version: 'v2', deployed_version: 'v1' };
  it('one line per change, then the commands; exit 1', () => {
    const out = renderPlan(
      {
        ...base,
        changes: [
          { kind: 'component', op: 'add', id: 'web', after: { image: 'img:1', id: 'shop-web' } },
          { kind: 'link', op: 'remove', id: 'a -(wasi:http/default)-> b', before: { interfaces: ['incoming-handler'] } },
          { kind: 'provider', op: 'change', id: 'http', fields: [{ field: 'image', before: 'p:1', after: 'p:2' }] },
          { kind: 'config', op: 'change', id: 'shop-addr', fields: [{ field: 'address' }] },
          { kind: 'scaler', op: 'change', id: 'web/spreadscaler/default', before: { instances: 2 }, after: { instances: 3 } },
        ],
        commands: [{ kind: 'ScaleComponent', ctl: 'component.scale', host_id: 'H1', target: 'shop-web', detail: 'max_instances 3 (img:1)' }, { kind: 'DeleteLink', ctl: 'link.del', target: 'a -(wasi:http/default)-> b', detail: 'delete' }],
      },
      'text',
    );
    assert.deepEqual(out, {
      stdout: [
        'Deploying shop v2 (deployed now: v1):',
        '+ component web (image img:1)',
        '- link a -(wasi:http/default)-> b (interfaces incoming-handler)',
        '~ provider http image p:1 -> p:2',
        '~ config shop-addr keys address',
        '~ scaler web/spreadscaler/default instances 2 -> 3',
        'Commands it would issue now (2):',
        '  component.scale on H1: shop-web max_instances 3 (img:1)',
        '  link.del: a -(wasi:http/default)-> b delete',
      ],
      stderr: [],
      exitCode: 1,
    });
  });
  it('nothing to do: exit 0; an error reply: exit 2 in json', () => {
    assert.deepEqual(renderPlan({ ...base, version: 'v1', changes: [], commands: [] }, 'text'), { stdout: ['No changes: deploying shop v1 would change nothing (deployed now: v1)'], stderr: [], exitCode: 0 });
    assert.equal(renderPlan({ ...base, result: 'error', message: 'nope', changes: [], commands: [] }, 'json').exitCode, 2);
  });
});

describe('validate (offline)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wadm-validate-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the raw-YAML link key warnings', () => {
    const warnings = deprecatedLinkKeyWarnings(BAD_MANIFEST);
    assert.equal(warnings.length, 2);
    assert.ok(warnings.every((w) => w.level === 'warning' && `warning: ${w.msg}` === SOURCE_CONFIG_WARNING));
    assert.deepEqual(deprecatedLinkKeyWarnings('not: [valid'), []);
  });

  it('prints every failure with its level and exits 1 on an error', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, BAD_MANIFEST);
    const out = await validateCommand(file, 'text');
    assert.equal(out.exitCode, 1);
    assert.equal(out.stdout.filter((l) => l === SOURCE_CONFIG_WARNING).length, 2);
    assert.ok(out.stdout.includes("error: Duplicate link found inside component 'httpserver': default (wasi:http/incoming-handler)"), out.stdout.join('\n'));
    assert.match(out.stdout.at(-1)!, /^Manifest bad-app is invalid: 1 error, \d+ warnings$/);
  });

  it('json output lists the failures', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, BAD_MANIFEST);
    const out = await validateCommand(file, 'json');
    assert.equal(out.exitCode, 1);
    const body = JSON.parse(out.stdout[0]!) as { valid: boolean; failures: { level: string; msg: string }[] };
    assert.equal(body.valid, false);
    assert.ok(body.failures.some((f) => f.level === 'error'));
  });

  it('a manifest that does not parse is an error', async () => {
    const file = join(dir, 'unparseable.yaml');
    await writeFile(file, `${GOOD_MANIFEST}extra: true\n`);
    const out = await validateCommand(file, 'text');
    assert.equal(out.exitCode, 1);
    assert.equal(out.stdout.length, 1);
    assert.match(out.stdout[0]!, /^error: /);
  });

  it('a valid manifest exits 0', async () => {
    const file = join(dir, 'good.yaml');
    await writeFile(file, GOOD_MANIFEST);
    assert.deepEqual(await validateCommand(file, 'text'), { stdout: ['Manifest good-app is valid'], stderr: [], exitCode: 0 });
  });

  it('a missing file is an error', async () => {
    const out = await validateCommand(join(dir, 'missing.yaml'), 'text');
    assert.equal(out.exitCode, 1);
    assert.match(out.stderr[0]!, /^Failed to read manifest /);
  });
});

describe('registerAppCommands', () => {
  /** Run the program with stdout/stderr captured and process.exitCode restored. */
  async function runCli(args: string[], connect: Parameters<typeof registerAppCommands>[1]): Promise<CommandOutput> {
    const program = new Command('wadm').exitOverride();
    registerAppCommands(program, connect);
    const stdout: string[] = [];
    const stderr: string[] = [];
    const origOut = process.stdout.write.bind(process.stdout);
    const origErr = process.stderr.write.bind(process.stderr);
    const saved = process.exitCode;
    process.stdout.write = ((chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      await program.parseAsync(['node', 'wadm', ...args]);
      return { stdout: stdout.join('').split('\n').filter(Boolean), stderr: stderr.join('').split('\n').filter(Boolean), exitCode: Number(process.exitCode ?? 0) };
    } finally {
      process.stdout.write = origOut;
      process.stderr.write = origErr;
      process.exitCode = saved;
    }
  }

  it('adds every app subcommand', () => {
    const program = new Command('wadm');
    registerAppCommands(program, () => Promise.reject(new Error('unused')));
    const app = program.commands.find((c) => c.name() === 'app');
    assert.ok(app);
    assert.deepEqual(app.commands.map((c) => c.name()).sort(), [
      'delete', 'deploy', 'diff', 'get', 'history', 'list', 'put', 'rollback', 'status', 'undeploy', 'validate',
    ]);
  });

  it('passes --nats-server to connect and reports a connection failure', async () => {
    const urls: string[] = [];
    const out = await runCli(['app', 'status', 'hello', '-s', 'nats.example:4333'], (o) => {
      urls.push(o.natsUrl);
      return Promise.reject(new Error('connection refused'));
    });
    assert.deepEqual(urls, ['nats.example:4333']);
    assert.deepEqual(out, { stdout: [], stderr: ['Failed to connect to NATS at nats.example:4333: connection refused'], exitCode: 1 });
  });

  it('rejects undeploy with neither a name nor --all, without connecting', async () => {
    let connected = false;
    const out = await runCli(['app', 'undeploy'], () => {
      connected = true;
      return Promise.reject(new Error('unused'));
    });
    assert.equal(connected, false);
    assert.deepEqual(out, { stdout: [], stderr: ['Give an application name or --all.'], exitCode: 1 });
  });
});
