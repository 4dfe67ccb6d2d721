/** `--watch`: redraw a command's output whenever a status subject sees a message, until Ctrl-C. */
import type { NatsConnection } from '@nats-io/transport-node';
import { stdoutLive, untilInterrupted, watchAndRedraw } from '../live.js';
import { linesOf, ok, type CommandOutput } from '../output.js';

/** Redraw `render()` on every message on `subject` until interrupted; the command itself then prints nothing. */
export async function redrawOn(nc: NatsConnection, subject: string, render: () => Promise<CommandOutput>): Promise<CommandOutput> {
  await watchAndRedraw(nc, subject, async () => linesOf(await render()), stdoutLive(), untilInterrupted());
  return ok();
}
