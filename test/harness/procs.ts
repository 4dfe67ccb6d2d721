/**
 * `wadm serve` replicas as real child processes (the product binary, structured logs on stdout), so a
 * test can SIGKILL, SIGSTOP and SIGCONT them and read what they logged. Each replica serves its metrics
 * on an admin port of its own (`--http-admin 127.0.0.1:0`), so a test can wait for reconcile passes
 * instead of sleeping.
 */
import * as nodeTest from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from './nats.js';

export const WADM_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'bin', 'wadm.js');

export type LogLine = Record<string, unknown> & { msg?: string; lattice?: string; at: number };

export interface ReplicaProc {
  readonly id: string;
  readonly p: ChildProcess;
  /** Parsed JSON log lines (stdout), each stamped with the time the test read it. */
  readonly lines: LogLine[];
  /** Raw stderr, for failure messages. */
  stderr(): string;
  /** `http://127.0.0.1:port` of the admin endpoint, once logged. */
  adminUrl(): string | undefined;
  alive(): boolean;
  stopped: boolean;
  /** Resolves with [code, signal] when the process exits. */
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
}

export interface FleetOptions {
  natsUrl: string;
  /** Flags for every replica (after `serve -s URL --host-id ID`). */
  args?: string[];
  /** Extra environment for every replica. */
  env?: Record<string, string>;
}

export class ReplicaFleet {
  readonly all: ReplicaProc[] = [];

  constructor(private readonly o: FleetOptions) {}

  /** Start one replica; `extraArgs` come after the fleet's flags (later flags win). */
  spawn(id: string, extraArgs: string[] = [], extraEnv: Record<string, string> = {}): ReplicaProc {
    const args = [WADM_BIN, 'serve', '-s', this.o.natsUrl, '--host-id', id, '--structured-logging', '--http-admin', '127.0.0.1:0', ...(this.o.args ?? []), ...extraArgs];
    const p = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WADM_LOG_LEVEL: process.env['WADM_TEST_REPLICA_LOG_LEVEL'] ?? 'info', ...(this.o.env ?? {}), ...extraEnv },
    });
    const lines: LogLine[] = [];
    let err = '';
    let buf = '';
    let admin: string | undefined;
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      const at = Date.now();
      for (const l of parts) {
        if (!l.startsWith('{')) continue;
        try {
          const line = { ...(JSON.parse(l) as Record<string, unknown>), at } as LogLine;
          if (line.msg === 'admin endpoint listening' && typeof line['url'] === 'string') admin = line['url'];
          lines.push(line);
        } catch {
          /* a partial line from a killed process */
        }
      }
    });
    p.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-20_000);
    });
    const exited = once(p, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const r: ReplicaProc = {
      id,
      p,
      lines,
      stderr: () => err,
      adminUrl: () => admin,
      alive: () => p.exitCode === null && p.signalCode === null,
      stopped: false,
      exited,
    };
    this.all.push(r);
    return r;
  }

  /** The replicas whose process is still running. */
  live(): ReplicaProc[] {
    return this.all.filter((r) => r.alive());
  }

  async ready(rs: readonly ReplicaProc[], timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => {
        const dead = rs.find((r) => !r.alive());
        if (dead) throw new Error(`replica ${dead.id} exited: ${dead.stderr().slice(-2000)}`);
        return rs.every((r) => r.lines.some((l) => l.msg === 'replica ready') && r.adminUrl() !== undefined);
      },
      timeoutMs,
      `replicas ${rs.map((r) => r.id).join(', ')} ready`,
    );
  }

  async sigkill(r: ReplicaProc): Promise<void> {
    if (!r.alive()) return;
    r.p.kill('SIGKILL');
    await r.exited;
  }

  sigstop(r: ReplicaProc): void {
    r.p.kill('SIGSTOP');
    r.stopped = true;
  }

  sigcont(r: ReplicaProc): void {
    r.p.kill('SIGCONT');
    r.stopped = false;
  }

  /**
   * SIGTERM every live replica (resuming stopped ones first) and wait for them to exit; returns the exit
   * codes by id. Replicas still running after `timeoutMs` are killed and reported as `null`.
   */
  async shutdown(timeoutMs = 25_000): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = {};
    await Promise.all(
      this.live().map(async (r) => {
        if (r.stopped) this.sigcont(r);
        r.p.kill('SIGTERM');
        const t = setTimeout(() => r.p.kill('SIGKILL'), timeoutMs);
        const [code] = await r.exited;
        clearTimeout(t);
        out[r.id] = code;
      }),
    );
    return out;
  }

  /**
   * Last resort in `after()`: SIGKILL whatever still runs (stopped ones included). With
   * WADM_TEST_DUMP_LOGS=<file>, every replica's log lines are appended to that file first (debugging).
   */
  killAll(): void {
    const dump = process.env['WADM_TEST_DUMP_LOGS'];
    if (dump) {
      for (const r of this.all) {
        appendFileSync(dump, r.lines.map((l) => JSON.stringify({ replicaProc: r.id, ...l })).join('\n') + '\n');
        if (r.stderr()) appendFileSync(dump, `${r.id} stderr: ${r.stderr()}\n`);
      }
    }
    for (const r of this.all) {
      if (!r.alive()) continue;
      r.p.kill('SIGKILL');
    }
  }
}

/** One fresh nats-server, a client connection and a {@link ReplicaFleet} for a test file; see {@link withFleet}. */
export interface FleetFixture {
  readonly nats: TestNats;
  readonly nc: NatsConnection;
  readonly fleet: ReplicaFleet;
  /**
   * Settles when the fixture's before() hook has run. A file's own top-level before() hooks await it
   * first: node:test (20) starts top-level before hooks as they are registered, so they run concurrently.
   */
  readonly started: Promise<void>;
  /** A simulated lattice (see simLattice) on a connection of its own to the fixture's server, closed when the file's tests end. */
  lattice(name: string, hosts: number, heartbeatIntervalMs?: number): Promise<SimulatedLattice>;
  /** Close `sim` (a lattice the test built itself) when the file's tests end; returns it. */
  track<S extends SimulatedLattice>(sim: S): S;
}

/**
 * The set-up the process-replica files share, registered as the file's (or suite's) before/after hooks:
 * a nats-server (`nats` is passed to startNats), one connection and a fleet whose replicas get `args` and
 * `env` (none is spawned here). Afterwards the tracked simulated lattices are closed one by one, the
 * fleet is SIGKILLed (killAll) and the server stopped. Read the fields inside tests, not at module load.
 */
export function withFleet(opts: { args?: string[]; env?: Record<string, string>; nats?: Parameters<typeof startNats>[0] } = {}): FleetFixture {
  const { before, after } = nodeTest;
  let nats: TestNats | undefined;
  let nc: NatsConnection | undefined;
  let fleet: ReplicaFleet | undefined;
  const sims: SimulatedLattice[] = [];
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`withFleet: ${what} is read before the fixture's before() hook ran (await fx.started in before hooks)`);
    return v;
  };
  let settle!: (err?: unknown) => void;
  const started = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  started.catch(() => undefined); // a failed set-up is reported by the hook itself
  before(async () => {
    try {
      nats = await startNats(opts.nats);
      nc = await nats.connect();
      fleet = new ReplicaFleet({ natsUrl: nats.url, ...(opts.args ? { args: opts.args } : {}), ...(opts.env ? { env: opts.env } : {}) });
      settle();
    } catch (err) {
      settle(err ?? new Error('withFleet: set-up failed'));
      throw err;
    }
  });
  after(async () => {
    for (const s of sims) await s.close({ graceful: false });
    fleet?.killAll();
    await nats?.stop();
  });
  return {
    get nats() {
      return ready(nats, 'nats');
    },
    get nc() {
      return ready(nc, 'nc');
    },
    get fleet() {
      return ready(fleet, 'fleet');
    },
    started,
    async lattice(name, hosts, heartbeatIntervalMs) {
      await started;
      const { simLattice } = await import('./lattice.js');
      const sim = await simLattice(await ready(nats, 'nats').connect(), name, hosts, heartbeatIntervalMs);
      sims.push(sim);
      return sim;
    },
    track(sim) {
      sims.push(sim);
      return sim;
    },
  };
}

/** Lines a replica logged after index `from` that match. */
export function logged(r: ReplicaProc, pred: (l: LogLine) => boolean, from = 0): LogLine[] {
  return r.lines.slice(from).filter(pred);
}

/** Sum of the samples of one metric in Prometheus text, optionally only those whose labels contain `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) n += v;
  }
  return n;
}

/** One metric summed over the given replicas' admin endpoints (a replica that does not answer counts 0). */
export async function fleetMetric(rs: readonly ReplicaProc[], name: string, labels: Record<string, string> = {}): Promise<number> {
  const vals = await Promise.all(
    rs.map(async (r) => {
      const url = r.adminUrl();
      if (!url || !r.alive() || r.stopped) return 0;
      try {
        const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) });
        return sumMetric(await res.text(), name, labels);
      } catch {
        return 0;
      }
    }),
  );
  return vals.reduce((a, b) => a + b, 0);
}

/**
 * Wait until the given replicas have run at least `passes` more reconcile passes between them (any
 * result; only a lattice's owner reconciles it, so a replica owning nothing may run none).
 */
export async function reconcilePasses(rs: readonly ReplicaProc[], passes: number, timeoutMs = 30_000): Promise<void> {
  const start = await fleetMetric(rs, 'wadm_reconciles_total');
  await waitFor(async () => (await fleetMetric(rs, 'wadm_reconciles_total')) >= start + passes, timeoutMs, `${passes} more reconcile passes on ${rs.map((r) => r.id).join(', ')}`);
}

/**
 * A one-line-per-replica picture for failure messages: reconcile and command counters from the admin
 * endpoint, and the last warnings and errors logged.
 */
export async function diagnose(rs: readonly ReplicaProc[]): Promise<string> {
  const out: string[] = [];
  for (const r of rs) {
    const m = async (name: string, labels: Record<string, string> = {}): Promise<number> => fleetMetric([r], name, labels);
    const state = !r.alive() ? 'dead' : r.stopped ? 'stopped' : 'live';
    const counters = state === 'live'
      ? `reconciles ${await m('wadm_reconciles_total')} (errors ${await m('wadm_reconciles_total', { result: 'error' })}), owned ${await m('wadm_lattices_owned')}, commands issued ${await m('wadm_commands_issued_total')}, executed ok ${await m('wadm_commands_total', { result: 'ok' })}`
      : '';
    let series = '';
    if (state === 'live' && r.adminUrl()) {
      try {
        const text = await (await fetch(`${r.adminUrl()}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
        series = text
          .split('\n')
          .filter((l) => /^(wadm_reconciles_total|wadm_commands_total|wadm_commands_issued_total|wadm_fenced_writes_total|wadm_lease_changes_total|wadm_lease_valid|wadm_lattices_owned|wadm_reconcile_queue_depth|wadm_reconcile_active_workers|wadm_reconcile_triggers_total)[{ ]/.test(l) && !/ 0$/.test(l))
          .map((l) => l.replace(/,?replica="[^"]*"/, ''))
          .join(' ');
      } catch {
        /* no metrics */
      }
    }
    const warns = r.lines.filter((l) => Number(l['level']) >= 40).slice(-3).map((l) => `${String(l.msg)} ${JSON.stringify(l['err'] ?? '')}`.slice(0, 300));
    out.push(`${r.id} [${state}] ${counters} last warnings: ${JSON.stringify(warns)}${series ? `\n    ${series}` : ''}`);
  }
  return out.join('\n');
}
