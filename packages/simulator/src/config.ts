/**
 * `SimulatorConfig`: a file (YAML or JSON) describing a mixed set of simulated hosts, and
 * `startSimulator`, which the `wadm sim` CLI calls.
 *
 * ```yaml
 * lattice: default
 * servers: nats://127.0.0.1:4222     # optional
 * heartbeatIntervalMs: 30000          # optional
 * hosts:
 *   - count: 3
 *     labels: { zone: east }
 *   - count: 2
 *     labels: { zone: west, gpu: "true" }
 * ```
 */
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { parse as parseYaml } from 'yaml';
import { SimulatedLattice } from './lattice.js';

export interface SimulatorHostGroup {
  /** How many hosts of this kind (≥ 0). */
  count: number;
  labels?: Record<string, string>;
}

export interface SimulatorConfig {
  lattice: string;
  hosts: SimulatorHostGroup[];
  /** NATS URL(s); `startSimulator` options may override. Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  multitenantAccount?: string;
  heartbeatIntervalMs?: number;
  hostVersion?: string;
  fetchDelayMs?: number;
  healthCheckDelayMs?: number;
  healthCheckIntervalMs?: number;
}

export class SimulatorConfigError extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optNumber(o: Record<string, unknown>, key: string, errors: string[]): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    errors.push(`${key} must be a non-negative number`);
    return undefined;
  }
  return v;
}

function optString(o: Record<string, unknown>, key: string, errors: string[]): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') {
    errors.push(`${key} must be a non-empty string`);
    return undefined;
  }
  return v;
}

/** Validates a parsed config object; every problem is reported at once. */
export function validateSimulatorConfig(value: unknown): SimulatorConfig {
  if (!isRecord(value)) throw new SimulatorConfigError('simulator config must be an object');
  const errors: string[] = [];
  const lattice = value['lattice'];
  if (typeof lattice !== 'string' || !/^[^\s.*>]+$/.test(lattice)) {
    errors.push('lattice must be a non-empty string without ".", "*", ">" or whitespace');
  }
  const hosts: SimulatorHostGroup[] = [];
  const rawHosts = value['hosts'];
  if (!Array.isArray(rawHosts)) {
    errors.push('hosts must be a list of { count, labels }');
  } else {
    rawHosts.forEach((g: unknown, i) => {
      if (!isRecord(g)) {
        errors.push(`hosts[${i}] must be an object`);
        return;
      }
      const count = g['count'];
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
        errors.push(`hosts[${i}].count must be an integer >= 0`);
      }
      const labels: Record<string, string> = {};
      const rawLabels = g['labels'];
      if (rawLabels !== undefined && rawLabels !== null) {
        if (!isRecord(rawLabels)) errors.push(`hosts[${i}].labels must be a map of strings`);
        else
          for (const [k, v] of Object.entries(rawLabels)) {
            if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
              Object.defineProperty(labels, k, { value: String(v), enumerable: true, writable: true, configurable: true });
            } else errors.push(`hosts[${i}].labels.${k} must be a string`);
          }
      }
      hosts.push({ count: typeof count === 'number' ? count : 0, labels });
    });
  }
  let servers: string | string[] | undefined;
  const rawServers = value['servers'];
  if (typeof rawServers === 'string' || rawServers === undefined) servers = rawServers;
  else if (Array.isArray(rawServers) && rawServers.every((s) => typeof s === 'string')) servers = rawServers as string[];
  else errors.push('servers must be a string or a list of strings');
  const config: SimulatorConfig = { lattice: typeof lattice === 'string' ? lattice : '', hosts };
  if (servers !== undefined) config.servers = servers;
  const account = optString(value, 'multitenantAccount', errors);
  if (account !== undefined) config.multitenantAccount = account;
  const version = optString(value, 'hostVersion', errors);
  if (version !== undefined) {
    if (!/^\d+\.\d+\.\d+/.test(version)) errors.push('hostVersion must be a semver version like 1.9.2');
    config.hostVersion = version;
  }
  for (const key of ['heartbeatIntervalMs', 'fetchDelayMs', 'healthCheckDelayMs', 'healthCheckIntervalMs'] as const) {
    const n = optNumber(value, key, errors);
    if (n !== undefined) config[key] = n;
  }
  if (errors.length > 0) throw new SimulatorConfigError(`invalid simulator config: ${errors.join('; ')}`);
  return config;
}

/** Parses YAML or JSON text (JSON is YAML) into a validated config. */
export function parseSimulatorConfig(text: string): SimulatorConfig {
  let value: unknown;
  try {
    value = parseYaml(text) as unknown;
  } catch (e) {
    throw new SimulatorConfigError(`cannot parse simulator config: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validateSimulatorConfig(value);
}

export async function loadSimulatorConfig(path: string): Promise<SimulatorConfig> {
  return parseSimulatorConfig(await readFile(path, 'utf8'));
}

export interface StartSimulatorOptions {
  /** Overrides `config.servers`. */
  servers?: string | string[] | NatsConnection;
  logger?: Logger;
  metrics?: Metrics;
}

/** Connects, starts every host of the config (groups in order) and returns the running lattice. */
export async function startSimulator(config: SimulatorConfig, opts: StartSimulatorOptions = {}): Promise<SimulatedLattice> {
  const valid = validateSimulatorConfig(config);
  const lattice = new SimulatedLattice({
    servers: opts.servers ?? valid.servers ?? 'nats://127.0.0.1:4222',
    lattice: valid.lattice,
    ...(valid.multitenantAccount !== undefined ? { multitenantAccount: valid.multitenantAccount } : {}),
    ...(valid.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: valid.heartbeatIntervalMs } : {}),
    ...(valid.hostVersion !== undefined ? { hostVersion: valid.hostVersion } : {}),
    ...(valid.fetchDelayMs !== undefined ? { fetchDelayMs: valid.fetchDelayMs } : {}),
    ...(valid.healthCheckDelayMs !== undefined ? { healthCheckDelayMs: valid.healthCheckDelayMs } : {}),
    ...(valid.healthCheckIntervalMs !== undefined ? { healthCheckIntervalMs: valid.healthCheckIntervalMs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
  try {
    await lattice.ready();
    for (const group of valid.hosts) {
      for (let i = 0; i < group.count; i++) await lattice.addHost({ labels: group.labels ?? {} });
    }
  } catch (e) {
    await lattice.close({ graceful: false }).catch(() => undefined);
    throw e;
  }
  return lattice;
}
