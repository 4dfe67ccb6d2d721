/**
 * `wadm app …` (the equivalent of `wash app …`) and `wadm schema`.
 *
 * Every command computes a `CommandOutput` (lines + exit code) without touching the process, so the
 * rendering is testable; `emit` writes it out. Networked commands go through `@wadm-ts/client`.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { DEFAULT_LATTICE, WadmClient, describeError, type UndeployOptions } from '@wadm-ts/client';
import { manifestSchema, parseManifest, statusFromWire, validateManifest, type ValidationFailure } from '@wadm-ts/model';
import type {
  DeleteModelResponse,
  DeployModelResponse,
  GetModelResponse,
  ListModelsResponse,
  ModelSummary,
  PlanChange,
  PlanModelResponse,
  PutModelResponse,
  StatusResponse,
  VersionResponse,
} from '@wadm-ts/protocol';
import { formatTable, oneLine } from './format.js';
import { statusSubject } from '@wadm-ts/protocol';
import { followDeploy, stdoutLive, untilInterrupted, watchAndRedraw } from './live.js';

export type OutputMode = 'text' | 'json';

/** What a command prints, and its exit code. */
export interface CommandOutput {
  stdout: string[];
  stderr: string[];
  exitCode: number;
}

export type Connect = (opts: { natsUrl: string }) => Promise<NatsConnection>;

/** Options shared by every networked `app` subcommand. */
interface ApiOptions {
  lattice: string;
  apiPrefix: string;
  natsServer: string;
  output: OutputMode;
  timeoutMs?: number;
}

interface ReplyBody {
  result: string;
  message: string;
}

export const DEFAULT_NATS_SERVER = '127.0.0.1:4222';
const DESCRIPTION_WIDTH = 60;

// ---------------------------------------------------------------------------------------------
// Registration

export function registerAppCommands(program: Command, connect: Connect): void {
  const app = program.command('app').description('Manage wadm applications (like `wash app`)');

  apiCommand(app, 'put', 'Store a new version of an application manifest (file, URL or - for stdin)')
    .argument('<file>', 'manifest file (.yaml, .yml, .json), http(s) URL, or - for stdin')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      await run(async () => {
        const source = await readManifestSource(file);
        return withClient(connect, cmd, async (client, mode) => renderPut(await client.put(source), mode));
      });
    });

  apiCommand(app, 'get', 'Show an application manifest (lists applications when no name is given)')
    .argument('[name]', 'application name')
    .argument('[version]', 'version (default: latest)')
    .action(async (name: string | undefined, version: string | undefined, _o: unknown, cmd: Command) => {
      await run(() =>
        withClient(connect, cmd, async (client, mode) =>
          name === undefined ? renderList(await client.list(), mode) : renderGet(await client.get(name, version), mode),
        ),
      );
    });

  apiCommand(app, 'list', 'List applications')
    .option('-w, --watch', 'redraw whenever an application status changes (until Ctrl-C)')
    .action(async (opts: { watch?: boolean }, cmd: Command) => {
      await run(() =>
        withClient(connect, cmd, async (client, mode, nc) => {
          if (!opts.watch) return renderList(await client.list(), mode);
          await watchAndRedraw(nc, statusSubject(cmd.opts<ApiOptions>().lattice, '*'), async () => linesOf(renderList(await client.list(), mode)), stdoutLive(), untilInterrupted());
          return { stdout: [], stderr: [], exitCode: 0 };
        }),
      );
    });

  apiCommand(app, 'history', 'List the stored versions of an application')
    .argument('<name>', 'application name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await run(() => withClient(connect, cmd, async (client, mode) => renderHistory(await client.versions(name), mode)));
    });

  apiCommand(app, 'deploy', 'Deploy an application by name, or put a manifest and deploy the stored version')
    .argument('<fileOrName>', 'application name, or manifest file (.yaml, .yml, .json), http(s) URL, or - for stdin')
    .argument('[version]', 'version to deploy when a name is given (default: latest)')
    .option('--wait', 'follow the deploy until the application is deployed (exit 0) or failed (exit 1); the default in a terminal')
    .option('--no-wait', 'return once the deploy is acknowledged, also in a terminal')
    .addOption(new Option('--wait-timeout-ms <ms>', 'give up following after this long (exit 1)').argParser(parsePositiveInt).default(300_000))
    .option('--dry-run', 'print what the deploy would change and the commands it would issue; store and deploy nothing')
    .action(async (target: string, version: string | undefined, opts: { wait?: boolean; waitTimeoutMs: number; dryRun?: boolean }, cmd: Command) => {
      if (opts.dryRun) return run(() => dryRunCommand(connect, cmd, target, version));
      const follow = opts.wait ?? process.stdout.isTTY === true;
      await run(() => deployCommand(connect, cmd, target, version, follow ? opts.waitTimeoutMs : undefined));
    });

  apiCommand(app, 'diff', 'Show what deploying a manifest or a stored version would change; exit 0: nothing, 1: something, 2: error')
    .argument('<fileOrName>', 'application name, or manifest file (.yaml, .yml, .json), http(s) URL, or - for stdin')
    .argument('[version]', 'stored version when a name is given (default: latest)')
    .action(async (target: string, version: string | undefined, _o: unknown, cmd: Command) => {
      await run(() => diffCommand(connect, cmd, target, version));
    });

  apiCommand(app, 'rollback', 'Deploy the previous deployed version of an application (or the given one) again')
    .argument('<name>', 'application name')
    .argument('[version]', 'version to deploy (default: the last version before the deployed one that reached deployed)')
    .option('--wait', 'follow the deploy until the application is deployed (exit 0) or failed (exit 1); the default in a terminal')
    .option('--no-wait', 'return once the deploy is acknowledged, also in a terminal')
    .addOption(new Option('--wait-timeout-ms <ms>', 'give up following after this long (exit 1)').argParser(parsePositiveInt).default(300_000))
    .action(async (name: string, version: string | undefined, opts: { wait?: boolean; waitTimeoutMs: number }, cmd: Command) => {
      const follow = opts.wait ?? process.stdout.isTTY === true;
      await run(() => rollbackCommand(connect, cmd, name, version, follow ? opts.waitTimeoutMs : undefined));
    });

  apiCommand(app, 'undeploy', 'Undeploy an application (its versions are kept)')
    .argument('[name]', 'application name')
    .option('--all', 'undeploy every deployed application in the lattice')
    .option('--non-destructive', 'stop managing it but leave its instances, providers, links and configs running (a later deploy adopts them)')
    .action(async (name: string | undefined, opts: { all?: boolean; nonDestructive?: boolean }, cmd: Command) => {
      await run(() => undeployCommand(connect, cmd, name, opts.all === true, { nonDestructive: opts.nonDestructive === true }));
    });

  apiCommand(app, 'delete', 'Delete an application, or one version of it')
    .argument('[name]', 'application name')
    .argument('[version]', 'version to delete (default: all versions)')
    .option('--all-undeployed', 'delete every application that has no deployed version')
    .action(async (name: string | undefined, version: string | undefined, opts: { allUndeployed?: boolean }, cmd: Command) => {
      await run(() => deleteCommand(connect, cmd, name, version, opts.allUndeployed === true));
    });

  apiCommand(app, 'status', 'Show the status of an application and of each of its scalers')
    .argument('<name>', 'application name')
    .option('-w, --watch', 'redraw whenever the status changes (until Ctrl-C)')
    .action(async (name: string, opts: { watch?: boolean }, cmd: Command) => {
      await run(() =>
        withClient(connect, cmd, async (client, mode, nc) => {
          if (!opts.watch) return statusCommand(client, name, mode);
          await watchAndRedraw(nc, statusSubject(cmd.opts<ApiOptions>().lattice, name), async () => linesOf(await statusCommand(client, name, mode)), stdoutLive(), untilInterrupted());
          return { stdout: [], stderr: [], exitCode: 0 };
        }),
      );
    });

  app
    .command('validate')
    .description('Validate a manifest offline: parse it and report every warning and error')
    .argument('<file>', 'manifest file (.yaml, .yml, .json), http(s) URL, or - for stdin')
    .addOption(outputOption())
    .action(async (file: string, opts: { output: OutputMode }) => {
      await run(() => validateCommand(file, opts.output));
    });
}

/** `wadm schema`: the manifest JSON Schema, pretty-printed. */
export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of application manifests')
    .action(() => {
      emit({ stdout: [JSON.stringify(manifestSchema, null, 2)], stderr: [], exitCode: 0 });
    });
}

function apiCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .addOption(new Option('--lattice <id>', 'lattice id').env('WADM_LATTICE').default(DEFAULT_LATTICE))
    .addOption(new Option('--api-prefix <prefix>', 'wadm API subject prefix').env('WADM_API_PREFIX').default('wadm.api'))
    .addOption(new Option('-s, --nats-server <url>', 'NATS server').env('WADM_NATS_SERVER').default(DEFAULT_NATS_SERVER))
    .addOption(outputOption())
    .addOption(new Option('--timeout-ms <ms>', 'request timeout in milliseconds (default 5000)').argParser(parsePositiveInt));
}

function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('Expected a positive integer.');
  return n;
}

// ---------------------------------------------------------------------------------------------
// Running

/** Run a command body and print its output; an unexpected throw becomes a one-line failure. */
async function run(body: () => Promise<CommandOutput>): Promise<void> {
  let output: CommandOutput;
  try {
    output = await body();
  } catch (e) {
    output = failure(describeError(e));
  }
  emit(output);
}

function emit(output: CommandOutput): void {
  if (output.stdout.length > 0) process.stdout.write(`${output.stdout.join('\n')}\n`);
  if (output.stderr.length > 0) process.stderr.write(`${output.stderr.join('\n')}\n`);
  if (output.exitCode !== 0) process.exitCode = output.exitCode;
}

/** Connect, run `fn` with a client, close; any thrown error becomes a one-line failure. */
async function withClient(
  connect: Connect,
  cmd: Command,
  fn: (client: WadmClient, mode: OutputMode, nc: NatsConnection) => Promise<CommandOutput>,
): Promise<CommandOutput> {
  const opts = cmd.opts<ApiOptions>();
  let nc: NatsConnection;
  try {
    nc = await connect({ natsUrl: opts.natsServer });
  } catch (e) {
    return failure(`Failed to connect to NATS at ${opts.natsServer}: ${describeError(e)}`);
  }
  try {
    const clientOpts: ConstructorParameters<typeof WadmClient>[1] = { lattice: opts.lattice, prefix: opts.apiPrefix };
    if (opts.timeoutMs !== undefined) clientOpts.timeoutMs = opts.timeoutMs;
    return await fn(new WadmClient(nc, clientOpts), opts.output, nc);
  } catch (e) {
    return failure(describeError(e));
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function deployCommand(connect: Connect, cmd: Command, target: string, version: string | undefined, followMs?: number): Promise<CommandOutput> {
  const lattice = cmd.opts<ApiOptions>().lattice;
  if (!isManifestSource(target)) {
    return withClient(connect, cmd, (client, mode, nc) => deployAndFollow(client, nc, lattice, target, version, mode, followMs));
  }
  if (version !== undefined) return failure('A version cannot be given when deploying from a manifest; it comes from the put.');
  const source = await readManifestSource(target);
  return withClient(connect, cmd, async (client, mode, nc) => {
    const put = await client.put(source);
    if (isFailure(put)) return renderPut(put, mode);
    return deployAndFollow(client, nc, lattice, put.name, put.current_version, mode, followMs);
  });
}

/** Deploy, then (with `followMs`) follow the status until deployed (exit 0), failed or timed out (exit 1). */
async function deployAndFollow(client: WadmClient, nc: NatsConnection, lattice: string, name: string, version: string | undefined, mode: OutputMode, followMs?: number): Promise<CommandOutput> {
  if (followMs === undefined) return renderDeploy(await client.deploy(name, version), mode);
  const before = await deployedVersion(client, name);
  const sub = nc.subscribe(statusSubject(lattice, name));
  await nc.flush();
  const reply = await client.deploy(name, version);
  const acked = renderDeploy(reply, mode);
  if (acked.exitCode !== 0 || isFailure(reply)) {
    sub.unsubscribe();
    return acked;
  }
  emit(acked);
  const target = (reply as { version?: string | null }).version ?? version;
  const progress = mode === 'text';
  const outcome = await followDeploy(sub, {
    lattice,
    name,
    timeoutMs: followMs,
    noop: before !== undefined && before === target,
    onStatus: (s) => {
      if (progress) process.stdout.write(`${name} - ${s.status.type}${s.status.message ? `: ${oneLine(s.status.message, 200)}` : ''}\n`);
    },
    poll: async () => {
      const r = await client.status(name);
      return isFailure(r) ? undefined : statusFromWire(r.status);
    },
  });
  if (outcome === 'timeout') return failure(`Gave up waiting for ${name} to be deployed after ${followMs} ms`);
  if (mode === 'json') return { stdout: [JSON.stringify({ name, version: target, status: outcome.status })], stderr: [], exitCode: outcome.status.type === 'deployed' ? 0 : 1 };
  return outcome.status.type === 'deployed' ? { stdout: [], stderr: [], exitCode: 0 } : { stdout: [], stderr: [`${name} failed: ${outcome.status.message}`], exitCode: 1 };
}

// ---------------------------------------------------------------------------------------------
// Plans: `app diff` and `app deploy --dry-run`

/** Exit codes of `app diff`, as `kubectl diff`: nothing would change, something would, an error. */
export const DIFF_EXIT = { same: 0, changes: 1, error: 2 } as const;

/** Ask wadm for the plan of a manifest source (`-`, URL, file) or of a stored app (latest or `version`). Throws on a bad source. */
async function requestPlan(client: WadmClient, target: string, version: string | undefined): Promise<PlanModelResponse> {
  if (!isManifestSource(target)) return client.plan(target, version);
  if (version !== undefined) throw new Error('A version cannot be given with a manifest; it comes from the manifest.');
  return client.planManifest(await readManifestSource(target));
}

/** `app diff`: exit 0 when nothing would change (no changes, no commands), 1 when something would, 2 on any error. */
async function diffCommand(connect: Connect, cmd: Command, target: string, version: string | undefined): Promise<CommandOutput> {
  let failed = true;
  const out = await withClient(connect, cmd, async (client, mode) => {
    const reply = await requestPlan(client, target, version);
    failed = false;
    const o = renderPlan(reply, mode);
    if (isFailure(reply)) failed = true;
    return o;
  });
  if (failed) return { ...out, exitCode: DIFF_EXIT.error };
  return out;
}

/** `app deploy --dry-run`: the plan, printed; exit 0 unless planning failed (1). Nothing is stored or deployed. */
async function dryRunCommand(connect: Connect, cmd: Command, target: string, version: string | undefined): Promise<CommandOutput> {
  return withClient(connect, cmd, async (client, mode) => {
    const reply = await requestPlan(client, target, version);
    const o = renderPlan(reply, mode);
    return { ...o, exitCode: isFailure(reply) ? 1 : 0 };
  });
}

const OP_MARK: Record<PlanChange['op'], string> = { add: '+', remove: '-', change: '~' };

const shown = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '(none)' : JSON.stringify(v));

/** One line per change: `+ component web (image …)`, `- link …`, `~ scaler web/spreadscaler/default instances 2 -> 3`. */
export function planChangeLine(c: PlanChange): string {
  const head = `${OP_MARK[c.op]} ${c.kind} ${c.id}`;
  if (c.kind === 'scaler') {
    const moved = (c.fields ?? []).map((f) => `; ${f.field} ${shown(f.before)} -> ${shown(f.after)}`).join('');
    return `${head} instances ${shown(c.before?.['instances'] ?? 0)} -> ${shown(c.after?.['instances'] ?? 0)}${moved}`;
  }
  if (c.kind === 'config') {
    if (c.op === 'change') return `${head} keys ${(c.fields ?? []).map((f) => f.field).join(', ')}`;
    const keys = (c.after ?? c.before)?.['keys'];
    return Array.isArray(keys) && keys.length > 0 ? `${head} (keys ${keys.join(', ')})` : head;
  }
  if (c.op === 'change') return `${head} ${(c.fields ?? []).map((f) => `${f.field} ${shown(f.before)} -> ${shown(f.after)}`).join('; ')}`;
  if (c.kind === 'link') {
    const l = c.after ?? c.before;
    const ifaces = l?.['interfaces'];
    return Array.isArray(ifaces) ? `${head} (interfaces ${ifaces.join(', ')})` : head;
  }
  const v = c.after ?? c.before;
  const image = v?.['image'];
  const app = v?.['application'] as { name?: string; component?: string } | undefined;
  if (typeof image === 'string') return `${head} (image ${image})`;
  if (app) return `${head} (shared ${app.name}/${app.component})`;
  return head;
}

export function renderPlan(reply: PlanModelResponse, mode: OutputMode): CommandOutput {
  if (mode === 'json') return { stdout: [JSON.stringify(reply)], stderr: [], exitCode: isFailure(reply) ? DIFF_EXIT.error : reply.changes.length + reply.commands.length > 0 ? DIFF_EXIT.changes : DIFF_EXIT.same };
  if (isFailure(reply)) return failure(reply.message || `wadm replied "${reply.result}"`);
  const what = `${reply.name}${reply.version ? ` ${reply.version}` : ''}`;
  const deployedNote = reply.deployed_version === null ? 'not deployed now' : `deployed now: ${reply.deployed_version}`;
  if (reply.changes.length === 0 && reply.commands.length === 0) return { stdout: [`No changes: deploying ${what} would change nothing (${deployedNote})`], stderr: [], exitCode: DIFF_EXIT.same };
  const lines = [`Deploying ${what} (${deployedNote}):`];
  if (reply.changes.length === 0) lines.push('  no changes to the application');
  for (const c of reply.changes) lines.push(planChangeLine(c));
  lines.push(reply.commands.length === 0 ? 'No commands would be issued now' : `Commands it would issue now (${reply.commands.length}):`);
  for (const c of reply.commands) lines.push(`  ${c.ctl}${c.host_id ? ` on ${c.host_id}` : ''}: ${c.target} ${c.detail}`);
  return { stdout: lines, stderr: [], exitCode: DIFF_EXIT.changes };
}

/** `wadm app rollback`: find the version (unless given), then deploy it as `deploy <name> <version>` does. */
async function rollbackCommand(connect: Connect, cmd: Command, name: string, version: string | undefined, followMs?: number): Promise<CommandOutput> {
  const lattice = cmd.opts<ApiOptions>().lattice;
  return withClient(connect, cmd, async (client, mode, nc) => {
    let target = version;
    if (target === undefined) {
      const t = await client.rollbackTarget(name);
      if ('error' in t) return renderDeploy(t.error, mode);
      target = t.version;
    }
    return deployAndFollow(client, nc, lattice, name, target, mode, followMs);
  });
}

/** A command's output as lines (for redrawing). */
function linesOf(o: CommandOutput): string[] {
  return [...o.stdout, ...o.stderr];
}

async function undeployCommand(connect: Connect, cmd: Command, name: string | undefined, all: boolean, opts: UndeployOptions): Promise<CommandOutput> {
  const invalid = targetError(name, all, '--all');
  if (invalid !== undefined) return invalid;
  return withClient(connect, cmd, async (client, mode) =>
    name !== undefined ? renderUndeploy(await client.undeploy(name, opts), mode) : undeployAll(client, mode, opts),
  );
}

async function undeployAll(client: WadmClient, mode: OutputMode, opts: UndeployOptions): Promise<CommandOutput> {
  const names = (await listModels(client)).filter((m) => !isUndeployed(m)).map((m) => m.name);
  if (names.length === 0 && mode === 'text') return ok('No deployed applications to undeploy');
  const replies: DeployModelResponse[] = [];
  for (const n of names) replies.push(await client.undeploy(n, opts));
  return renderMany(replies, mode, undeployText);
}

async function deleteCommand(
  connect: Connect,
  cmd: Command,
  name: string | undefined,
  version: string | undefined,
  allUndeployed: boolean,
): Promise<CommandOutput> {
  const invalid = targetError(name, allUndeployed, '--all-undeployed');
  if (invalid !== undefined) return invalid;
  return withClient(connect, cmd, async (client, mode) =>
    name !== undefined ? renderDelete(name, version, await client.delete(name, version), mode) : deleteAllUndeployed(client, mode),
  );
}

async function deleteAllUndeployed(client: WadmClient, mode: OutputMode): Promise<CommandOutput> {
  const names = (await listModels(client)).filter(isUndeployed).map((m) => m.name);
  if (names.length === 0 && mode === 'text') return ok('No undeployed applications to delete');
  const replies: DeleteModelResponse[] = [];
  for (const n of names) replies.push(await client.delete(n));
  if (mode === 'json') return jsonOutput(replies, replies.some(isFailure));
  return combine(replies.map((reply, i) => renderDelete(names[i]!, undefined, reply, mode)));
}

/** Exactly one of an application name or the "all" flag must be given. */
function targetError(name: string | undefined, all: boolean, flag: string): CommandOutput | undefined {
  if (name !== undefined && all) return failure(`Give either an application name or ${flag}, not both.`);
  if (name === undefined && !all) return failure(`Give an application name or ${flag}.`);
  return undefined;
}

async function listModels(client: WadmClient): Promise<ModelSummary[]> {
  const reply = await client.list();
  if (isFailure(reply)) throw new Error(reply.message || 'Failed to list applications');
  return reply.models;
}

/**
 * "Undeployed" means no deployed version. (wash keeps apps whose last published status is `undeployed`, which
 * misses apps that were put but never deployed — they list as `waiting`.)
 */
function isUndeployed(model: ModelSummary): boolean {
  return model.deployed_version == null;
}

async function statusCommand(client: WadmClient, name: string, mode: OutputMode): Promise<CommandOutput> {
  const reply = await client.status(name);
  if (mode === 'json' || isFailure(reply)) return renderStatus(name, reply, mode);
  return renderStatus(name, reply, mode, await deployedVersion(client, name));
}

/** Best effort: the status' own `version` is always "" in current wadm, so ask for the deployed one. */
async function deployedVersion(client: WadmClient, name: string): Promise<string | undefined> {
  try {
    const reply = await client.versions(name);
    return reply.versions.find((v) => v.deployed)?.version;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Manifest sources and offline validation

/** What `deploy` treats as a manifest rather than an application name: `-`, a URL, or a .yaml/.yml/.json path. */
export function isManifestSource(arg: string): boolean {
  return arg === '-' || /^https?:\/\//i.test(arg) || /\.(ya?ml|json)$/i.test(arg);
}

/** Read a manifest from a file, an http(s) URL, or `-` (stdin); failures say which source could not be read. */
export async function readManifestSource(arg: string, stdin: Readable = process.stdin): Promise<string> {
  try {
    if (arg === '-') return await readAll(stdin);
    if (/^https?:\/\//i.test(arg)) return await fetchText(arg);
    return await readFile(arg, 'utf8');
  } catch (e) {
    throw new Error(`Failed to read manifest ${arg === '-' ? 'from stdin' : arg}: ${describeError(e)}`, { cause: e });
  }
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export interface ValidationReport {
  /** Set when the manifest does not parse; then `failures` is empty. */
  parseError?: string;
  name?: string;
  failures: ValidationFailure[];
}

/** Parse + validate, plus the raw-YAML deprecated link key warnings of `wash app validate`. */
export function validateManifestText(text: string): ValidationReport {
  const parsed = parseManifest(text);
  if (!parsed.ok) return { parseError: describeError(parsed.error), failures: [] };
  const failures = [...deprecatedLinkKeyWarnings(text), ...parsed.warnings, ...validateManifest(parsed.manifest)];
  return { name: parsed.manifest.metadata.name, failures };
}

const SOURCE_CONFIG_WARNING = "one of the components' link trait contains a source_config key, please use source:config: rather";
const TARGET_CONFIG_WARNING = "one of the components' link trait contains a target_config key, please use target:config: rather";

/** docs/wire/manifest.md §2.3: `source_config` / `target_config` in a link trait's properties (raw document, before normalising). */
export function deprecatedLinkKeyWarnings(text: string): ValidationFailure[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return [];
  }
  const failures: ValidationFailure[] = [];
  for (const component of arrayAt(doc, 'spec', 'components')) {
    for (const trait of arrayAt(component, 'traits')) {
      const type = field(trait, 'type');
      if (type !== undefined && type !== 'link') continue;
      const props = field(trait, 'properties');
      if (field(props, 'source_config') !== undefined) failures.push({ level: 'warning', msg: SOURCE_CONFIG_WARNING });
      if (field(props, 'target_config') !== undefined) failures.push({ level: 'warning', msg: TARGET_CONFIG_WARNING });
    }
  }
  return failures;
}

function field(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return (value as Record<string, unknown>)[key];
}

function arrayAt(value: unknown, ...path: string[]): unknown[] {
  const found = path.reduce<unknown>((v, key) => field(v, key), value);
  return Array.isArray(found) ? found : [];
}

export async function validateCommand(file: string, mode: OutputMode): Promise<CommandOutput> {
  let text: string;
  try {
    text = await readManifestSource(file);
  } catch (e) {
    return failure(describeError(e));
  }
  return renderValidation(validateManifestText(text), mode);
}

export function renderValidation(report: ValidationReport, mode: OutputMode): CommandOutput {
  const errors = report.failures.filter((f) => f.level === 'error').length;
  const warnings = report.failures.length - errors;
  const valid = report.parseError === undefined && errors === 0;
  const exitCode = valid ? 0 : 1;
  if (mode === 'json') {
    const body = report.parseError === undefined ? { valid, failures: report.failures } : { valid, parseError: report.parseError, failures: [] };
    return jsonOutput(body, !valid);
  }
  if (report.parseError !== undefined) return { stdout: [`error: ${report.parseError}`], stderr: [], exitCode };
  const lines = report.failures.map((f) => `${f.level}: ${f.msg}`);
  lines.push(validationSummary(report.name ?? '', errors, warnings));
  return { stdout: lines, stderr: [], exitCode };
}

function validationSummary(name: string, errors: number, warnings: number): string {
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (errors > 0) return `Manifest ${name} is invalid: ${count(errors, 'error')}, ${count(warnings, 'warning')}`;
  if (warnings > 0) return `Manifest ${name} is valid, with ${count(warnings, 'warning')}`;
  return `Manifest ${name} is valid`;
}

// ---------------------------------------------------------------------------------------------
// Rendering replies

function ok(...lines: string[]): CommandOutput {
  return { stdout: lines, stderr: [], exitCode: 0 };
}

function failure(message: string): CommandOutput {
  return { stdout: [], stderr: [message], exitCode: 1 };
}

function jsonOutput(body: unknown, failed: boolean): CommandOutput {
  return { stdout: [JSON.stringify(body)], stderr: [], exitCode: failed ? 1 : 0 };
}

function combine(outputs: readonly CommandOutput[]): CommandOutput {
  return {
    stdout: outputs.flatMap((o) => o.stdout),
    stderr: outputs.flatMap((o) => o.stderr),
    exitCode: Math.max(0, ...outputs.map((o) => o.exitCode)),
  };
}

export function isFailure(reply: ReplyBody): boolean {
  return reply.result === 'error' || reply.result === 'notfound';
}

/** json: the reply body as one line; text: `text(reply)`, or the reply's message on stderr when it failed. */
function renderReply<R extends ReplyBody>(reply: R, mode: OutputMode, text: (r: R) => string[]): CommandOutput {
  if (mode === 'json') return jsonOutput(reply, isFailure(reply));
  if (isFailure(reply)) return failure(reply.message || `wadm replied "${reply.result}"`);
  return ok(...text(reply));
}

/** Several replies of one kind (the `--all` forms): json prints them as one array line. */
function renderMany<R extends ReplyBody>(replies: readonly R[], mode: OutputMode, text: (r: R) => string[]): CommandOutput {
  if (mode === 'json') return jsonOutput(replies, replies.some(isFailure));
  return combine(replies.map((r) => renderReply(r, mode, text)));
}

export function renderPut(reply: PutModelResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) => [`Put application "${r.name}", version "${r.current_version}"`]);
}

export function renderDeploy(reply: DeployModelResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) => [`Deployed application "${r.name}", version "${r.version ?? ''}"`]);
}

function undeployText(reply: DeployModelResponse): string[] {
  return [`Undeployed application: ${reply.name}`];
}

export function renderUndeploy(reply: DeployModelResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, undeployText);
}

export function renderDelete(name: string, version: string | undefined, reply: DeleteModelResponse, mode: OutputMode): CommandOutput {
  const suffix = version === undefined ? '' : `, version "${version}"`;
  return renderReply(reply, mode, (r) => [
    r.result === 'noop' ? `Already deleted application: ${name}${suffix}` : `Deleted application: ${name}${suffix}`,
  ]);
}

export function renderGet(reply: GetModelResponse, mode: OutputMode): CommandOutput {
  if (mode === 'text' && !isFailure(reply) && reply.manifest === undefined) return failure('wadm returned no manifest');
  return renderReply(reply, mode, (r) => [toYaml(r.manifest).trimEnd()]);
}

export function renderList(reply: ListModelsResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) =>
    r.models.length === 0
      ? ['No applications found']
      : formatTable(['Name', 'Deployed Version', 'Latest Version', 'Status', 'Description'], r.models.map(summaryRow)),
  );
}

function summaryRow(m: ModelSummary): string[] {
  const status = statusFromWire(m.detailed_status)?.status.type ?? m.status;
  return [m.name, m.deployed_version ?? 'N/A', m.version, status, oneLine(m.description ?? '', DESCRIPTION_WIDTH)];
}

export function renderHistory(reply: VersionResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) =>
    formatTable(
      ['Version', 'Deployed'],
      r.versions.map((v) => [v.version, v.deployed ? 'yes' : 'no']),
    ),
  );
}

/** `{name}@{version} - {type}`, then one row per scaler; a scaler with a message gets `(*) {message}`. */
export function renderStatus(name: string, reply: StatusResponse, mode: OutputMode, deployed?: string): CommandOutput {
  return renderReply(reply, mode, (r) => {
    const status = statusFromWire(r.status);
    if (status === undefined) return [`${name} - unknown (wadm returned no status)`];
    const version = status.version || deployed;
    const lines = [`${version ? `${name}@${version}` : name} - ${status.status.type}`];
    const scalers = status.scalers ?? [];
    if (scalers.length === 0) {
      if (status.status.message) lines.push(`  ${status.status.message}`);
      return lines;
    }
    // The app's own message when it says more than its scalers do (e.g. that an automatic revert happened).
    const own = (status.status.message ?? '').trim();
    if (own && own !== scalerMessages(scalers)) lines.push(`  ${own}`);
    const rows = scalers.map((s) => [s.name, s.kind, s.status.type, s.status.message ? `(*) ${s.status.message}` : '']);
    return [...lines, ...formatTable(['Name', 'Kind', 'Status', 'Message'], rows, { indent: '  ' })];
  });
}

/** The scalers' messages as the aggregate status joins them. */
function scalerMessages(scalers: ReadonlyArray<{ status: { message?: string } }>): string {
  return scalers
    .map((s) => (s.status.message ?? '').trim())
    .filter((m) => m.length > 0)
    .join(', ');
}
