/**
 * `wadm app …` (the equivalent of `wash app …`) and `wadm schema`: the commander wiring only.
 *
 * Every command body (`commands/*.ts`) computes a `CommandOutput` (lines + exit code) without touching the
 * process, so the rendering (`render*.ts`) is testable; `run` (`output.ts`) writes it out. Networked
 * commands go through `@wadm-ts/client` (`session.ts`).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_LATTICE } from '@wadm-ts/client';
import { manifestSchema } from '@wadm-ts/model';
import { deployCommand, rollbackCommand } from './commands/deploy.js';
import { getCommand, historyCommand, listCommand, putCommand } from './commands/manifests.js';
import { diffCommand, dryRunCommand } from './commands/plan.js';
import { deleteCommand, undeployCommand } from './commands/remove.js';
import { statusCommand } from './commands/status.js';
import { validateCommand } from './commands/validate.js';
import { emit, run, type OutputMode } from './output.js';
import { DEFAULT_NATS_SERVER, type ApiOptions, type Connect } from './session.js';

export function registerAppCommands(program: Command, connect: Connect): void {
  const app = program.command('app').description('Manage wadm applications (like `wash app`)');
  const api = (cmd: Command): ApiOptions => cmd.opts<ApiOptions>();

  apiCommand(app, 'put', 'Store a new version of an application manifest (file, URL or - for stdin)')
    .argument('<file>', 'manifest file (.yaml, .yml, .json), http(s) URL, or - for stdin')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      await run(() => putCommand(connect, api(cmd), file));
    });

  apiCommand(app, 'get', 'Show an application manifest (lists applications when no name is given)')
    .argument('[name]', 'application name')
    .argument('[version]', 'version (default: latest)')
    .action(async (name: string | undefined, version: string | undefined, _o: unknown, cmd: Command) => {
      await run(() => getCommand(connect, api(cmd), name, version));
    });

  apiCommand(app, 'list', 'List applications')
    .option('-w, --watch', 'redraw whenever an application status changes (until Ctrl-C)')
    .action(async (opts: { watch?: boolean }, cmd: Command) => {
      await run(() => listCommand(connect, api(cmd), opts.watch === true));
    });

  apiCommand(app, 'history', 'List the stored versions of an application')
    .argument('<name>', 'application name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await run(() => historyCommand(connect, api(cmd), name));
    });

  apiCommand(app, 'deploy', 'Deploy an application by name, or put a manifest and deploy the stored version')
    .argument('<fileOrName>', 'application name, or manifest file (.yaml, .yml, .json), http(s) URL, or - for stdin')
    .argument('[version]', 'version to deploy when a name is given (default: latest)')
    .option('--wait', 'follow the deploy until the application is deployed (exit 0) or failed (exit 1); the default in a terminal')
    .option('--no-wait', 'return once the deploy is acknowledged, also in a terminal')
    .addOption(waitTimeoutOption())
    .option('--dry-run', 'print what the deploy would change and the commands it would issue; store and deploy nothing')
    .action(async (target: string, version: string | undefined, opts: FollowOptions & { dryRun?: boolean }, cmd: Command) => {
      if (opts.dryRun) return run(() => dryRunCommand(connect, api(cmd), target, version));
      await run(() => deployCommand(connect, api(cmd), target, version, followMs(opts)));
    });

  apiCommand(app, 'diff', 'Show what deploying a manifest or a stored version would change; exit 0: nothing, 1: something, 2: error')
    .argument('<fileOrName>', 'application name, or manifest file (.yaml, .yml, .json), http(s) URL, or - for stdin')
    .argument('[version]', 'stored version when a name is given (default: latest)')
    .action(async (target: string, version: string | undefined, _o: unknown, cmd: Command) => {
      await run(() => diffCommand(connect, api(cmd), target, version));
    });

  apiCommand(app, 'rollback', 'Deploy the previous deployed version of an application (or the given one) again')
    .argument('<name>', 'application name')
    .argument('[version]', 'version to deploy (default: the last version before the deployed one that reached deployed)')
    .option('--wait', 'follow the deploy until the application is deployed (exit 0) or failed (exit 1); the default in a terminal')
    .option('--no-wait', 'return once the deploy is acknowledged, also in a terminal')
    .addOption(waitTimeoutOption())
    .action(async (name: string, version: string | undefined, opts: FollowOptions, cmd: Command) => {
      await run(() => rollbackCommand(connect, api(cmd), name, version, followMs(opts)));
    });

  apiCommand(app, 'undeploy', 'Undeploy an application (its versions are kept)')
    .argument('[name]', 'application name')
    .option('--all', 'undeploy every deployed application in the lattice')
    .option('--non-destructive', 'stop managing it but leave its instances, providers, links and configs running (a later deploy adopts them)')
    .action(async (name: string | undefined, opts: { all?: boolean; nonDestructive?: boolean }, cmd: Command) => {
      await run(() => undeployCommand(connect, api(cmd), name, opts.all === true, { nonDestructive: opts.nonDestructive === true }));
    });

  apiCommand(app, 'delete', 'Delete an application, or one version of it')
    .argument('[name]', 'application name')
    .argument('[version]', 'version to delete (default: all versions)')
    .option('--all-undeployed', 'delete every application that has no deployed version')
    .action(async (name: string | undefined, version: string | undefined, opts: { allUndeployed?: boolean }, cmd: Command) => {
      await run(() => deleteCommand(connect, api(cmd), name, version, opts.allUndeployed === true));
    });

  apiCommand(app, 'status', 'Show the status of an application and of each of its scalers')
    .argument('<name>', 'application name')
    .option('-w, --watch', 'redraw whenever the status changes (until Ctrl-C)')
    .action(async (name: string, opts: { watch?: boolean }, cmd: Command) => {
      await run(() => statusCommand(connect, api(cmd), name, opts.watch === true));
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

/** `--wait` / `--no-wait` / `--wait-timeout-ms` of `deploy` and `rollback`. */
interface FollowOptions {
  wait?: boolean;
  waitTimeoutMs: number;
}

function waitTimeoutOption(): Option {
  return new Option('--wait-timeout-ms <ms>', 'give up following after this long (exit 1)').argParser(parsePositiveInt).default(300_000);
}

/** How long to follow the deploy, or undefined not to: following is the default in a terminal. */
function followMs(opts: FollowOptions): number | undefined {
  const follow = opts.wait ?? process.stdout.isTTY === true;
  return follow ? opts.waitTimeoutMs : undefined;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('Expected a positive integer.');
  return n;
}
