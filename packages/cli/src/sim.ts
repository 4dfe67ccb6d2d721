/**
 * `wadm sim`: run simulated wasmCloud 1.x hosts (one process, N hosts) until SIGTERM/SIGINT, then stop
 * them cleanly (each publishes `host_stopped`).
 */
import type { Command } from 'commander';
import { createLogger } from '@wadm-ts/obs';
import { loadSimulatorConfig, startSimulator, type SimulatorConfig } from '@wadm-ts/simulator';
import { untilSignal } from './signals.js';

function parseLabel(v: string, prev: Record<string, string>): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new Error(`--label takes key=value, got '${v}'`);
  return { ...prev, [v.slice(0, eq)]: v.slice(eq + 1) };
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('run simulated wasmCloud 1.x hosts that speak the control interface (for demos, tests and load)')
    .option('--lattice <id>', 'lattice id', 'default')
    .option('--hosts <n>', 'number of hosts', (v) => Number(v), 1)
    .option('--label <k=v>', 'label for every host (repeatable)', parseLabel, {})
    .option('-f, --file <path>', 'YAML/JSON file describing mixed hosts: { lattice, hosts: [{ count, labels }] }')
    .option('--heartbeat-interval-ms <ms>', 'heartbeat interval (a real host: 30000)', (v) => Number(v), 30000)
    .option('-s, --nats-server <url>', 'NATS server', process.env['WADM_NATS_SERVER'] || '127.0.0.1:4222')
    .action(async (o: { lattice: string; hosts: number; label: Record<string, string>; file?: string; heartbeatIntervalMs: number; natsServer: string }) => {
      const config: SimulatorConfig = o.file
        ? await loadSimulatorConfig(o.file)
        : { lattice: o.lattice, hosts: [{ count: o.hosts, labels: o.label }], heartbeatIntervalMs: o.heartbeatIntervalMs };
      const servers = /^[a-z]+:\/\//i.test(o.natsServer) ? o.natsServer : `nats://${o.natsServer}`;
      const logger = createLogger({ replica: 'simulator', structured: true });
      const sim = await startSimulator(config, { servers, logger });
      for (const h of sim.hosts()) process.stdout.write(`${JSON.stringify({ lattice: config.lattice, host: h.id, friendlyName: h.friendlyName, labels: h.labels })}\n`);
      await untilSignal();
      await sim.close({ graceful: true });
    });
}
