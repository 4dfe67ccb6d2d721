/** The `wadm` command line. */
import { Command } from 'commander';
import { connectNats } from '@wadm-ts/store';
import { addReplicaOptions, replicaConfigFrom } from './config.js';
import { serve, up } from './serve.js';
import { registerAppCommands, registerSchemaCommand } from './app-commands.js';
import { registerSimCommand } from './sim.js';

/**
 * A drained replica exits 0 at once: a handle some library keeps open (a reconnect timer, an exporter's
 * socket) must not keep a stopped replica alive, which would leave an orchestrator waiting for its kill timeout.
 */
function exitDrained(): void {
  process.exit(0);
}

export function buildProgram(): Command {
  const program = new Command('wadm')
    .description('wadm-ts: the wasmCloud Application Deployment Manager, as a horizontally scaled worker cluster over NATS JetStream')
    .version('0.1.0');

  addReplicaOptions(
    program
      .command('serve')
      .description('run one wadm replica (API service) against a NATS server'),
  ).action(async (_opts, cmd: Command) => {
    await serve(replicaConfigFrom(cmd.opts()));
    exitDrained();
  });

  addReplicaOptions(
    program
      .command('up')
      .description('development mode: start a local nats-server -js when none is reachable, then serve')
      .option('--data-dir <dir>', 'JetStream data directory of the local nats-server (default ~/.wadm/jetstream)'),
  ).action(async (_opts, cmd: Command) => {
    const o = cmd.opts();
    await up(replicaConfigFrom(o), typeof o['dataDir'] === 'string' ? o['dataDir'] : undefined);
    exitDrained();
  });

  registerAppCommands(program, (o) => connectNats({ server: o.natsUrl }));
  registerSchemaCommand(program);
  registerSimCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
