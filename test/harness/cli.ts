/** The `wadm` command as a user runs it: one process per call, its output kept. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The CLI entry point of the built repository. */
export const WADM_BIN = fileURLToPath(new URL('../../../packages/cli/bin/wadm.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `wadm args…` to completion with `input` on stdin and no `WADM_NATS_SERVER` from the environment
 * (the test names its server). A command that never exits is killed after 30 s and reported as such: a
 * failure with its output, not a test that hangs until the file times out.
 */
export async function runWadm(args: readonly string[], input = ''): Promise<CliRun> {
  const child = spawn(process.execPath, [WADM_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, WADM_NATS_SERVER: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(kill);
  return { code, stdout, stderr: child.signalCode === 'SIGKILL' ? `${stderr}\n(killed after 30 s)` : stderr };
}
