/** A networked `wadm app …` command's connection: its shared options, and `withClient` (connect, run, close). */
import type { NatsConnection } from '@nats-io/transport-node';
import { WadmClient, describeError } from '@wadm-ts/client';
import { failure, type CommandOutput, type OutputMode } from './output.js';

export type Connect = (opts: { natsUrl: string }) => Promise<NatsConnection>;

/** Options shared by every networked `app` subcommand. */
export interface ApiOptions {
  lattice: string;
  apiPrefix: string;
  natsServer: string;
  output: OutputMode;
  timeoutMs?: number;
}

export const DEFAULT_NATS_SERVER = '127.0.0.1:4222';

/** Connect, run `fn` with a client, close; any thrown error becomes a one-line failure. */
export async function withClient(
  connect: Connect,
  opts: ApiOptions,
  fn: (client: WadmClient, mode: OutputMode, nc: NatsConnection) => Promise<CommandOutput>,
): Promise<CommandOutput> {
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
