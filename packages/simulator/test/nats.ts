/** Test harness: a throw-away `nats-server -js` on a free port with its own store dir (the project's one launcher). */
import { startLocalNats } from '@wadm-ts/dev';

export async function startNats(): Promise<{ url: string; stop(): Promise<void> }> {
  return startLocalNats();
}
