/**
 * What a `wadm app …` command computes: its lines and exit code (`CommandOutput`), the small builders
 * every command and renderer uses, and `run`/`emit`, the only place that writes them to the process.
 */
import { describeError } from '@wadm-ts/client';

export type OutputMode = 'text' | 'json';

/** What a command prints, and its exit code. */
export interface CommandOutput {
  stdout: string[];
  stderr: string[];
  exitCode: number;
}

/** The fields every wadm API reply carries. */
export interface ReplyBody {
  result: string;
  message: string;
}

export function ok(...lines: string[]): CommandOutput {
  return { stdout: lines, stderr: [], exitCode: 0 };
}

export function failure(message: string): CommandOutput {
  return { stdout: [], stderr: [message], exitCode: 1 };
}

export function jsonOutput(body: unknown, failed: boolean): CommandOutput {
  return { stdout: [JSON.stringify(body)], stderr: [], exitCode: failed ? 1 : 0 };
}

export function combine(outputs: readonly CommandOutput[]): CommandOutput {
  return {
    stdout: outputs.flatMap((o) => o.stdout),
    stderr: outputs.flatMap((o) => o.stderr),
    exitCode: Math.max(0, ...outputs.map((o) => o.exitCode)),
  };
}

export function isFailure(reply: ReplyBody): boolean {
  return reply.result === 'error' || reply.result === 'notfound';
}

/** A command's output as lines (for redrawing). */
export function linesOf(o: CommandOutput): string[] {
  return [...o.stdout, ...o.stderr];
}

/** Run a command body and print its output; an unexpected throw becomes a one-line failure. */
export async function run(body: () => Promise<CommandOutput>): Promise<void> {
  let output: CommandOutput;
  try {
    output = await body();
  } catch (e) {
    output = failure(describeError(e));
  }
  emit(output);
}

export function emit(output: CommandOutput): void {
  if (output.stdout.length > 0) process.stdout.write(`${output.stdout.join('\n')}\n`);
  if (output.stderr.length > 0) process.stderr.write(`${output.stderr.join('\n')}\n`);
  if (output.exitCode !== 0) process.exitCode = output.exitCode;
}
