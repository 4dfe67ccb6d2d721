/** `wadm serve` replicas as separate processes (real SIGKILL/SIGTERM), with their JSON log lines collected. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WADM_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'bin', 'wadm.js');

export type LogLine = Record<string, unknown>;

export interface WadmProcess {
  id: string;
  p: ChildProcess;
  /** Parsed JSON log lines (stdout), in order. */
  lines: LogLine[];
  /** Raw stderr (crashes land here). */
  stderr: string[];
  /** Lines whose `msg` is msg. */
  logged(msg: string): LogLine[];
  exited(): boolean;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Spawn `wadm serve --host-id id --structured-logging …args`. */
export function spawnWadm(id: string, args: string[], env: NodeJS.ProcessEnv = {}): WadmProcess {
  const p = spawn(process.execPath, [WADM_BIN, 'serve', '--host-id', id, '--structured-logging', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  let buf = '';
  p.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      if (!l.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as LogLine);
      } catch {
        // a torn line: ignore
      }
    }
  });
  p.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = (): boolean => p.exitCode !== null || p.signalCode !== null;
  return {
    id,
    p,
    lines,
    stderr,
    logged: (msg) => lines.filter((l) => l['msg'] === msg),
    exited,
    async stop() {
      if (exited()) return p.exitCode;
      const done = once(p, 'exit') as Promise<[number | null]>;
      p.kill('SIGTERM');
      const [code] = await done;
      return code;
    },
  };
}

/** Kill every still-running process (SIGKILL), for `after` hooks. */
export function killAll(ps: readonly WadmProcess[]): void {
  for (const w of ps) if (!w.exited()) w.p.kill('SIGKILL');
}

/** HTTP status of GET url (0 when nothing answers). */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

/** With WADM_TEST_DUMP=dir set, write every replica's log lines to dir/{prefix}-{id}.log (for debugging a failure). */
export function dumpLogs(ps: readonly WadmProcess[], prefix: string, natsLog?: readonly string[]): void {
  const dir = process.env['WADM_TEST_DUMP'];
  if (!dir) return;
  if (natsLog) writeFileSync(join(dir, `${prefix}-nats.log`), natsLog.join('\n') + '\n');
  for (const w of ps) writeFileSync(join(dir, `${prefix}-${w.id}.log`), w.lines.map((l) => JSON.stringify(l)).join('\n') + '\n' + w.stderr.join(''));
}
