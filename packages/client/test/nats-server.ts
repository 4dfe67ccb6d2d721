/** Test helper: a throwaway nats-server on a free local port (the project's one launcher, from @wadm-ts/dev). */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startLocalNats } from '@wadm-ts/dev';

export interface TestServer {
  url: string;
  stop(): Promise<void>;
}

export function startNatsServer(): Promise<TestServer> {
  return startLocalNats();
}

export function connectTo(server: TestServer): Promise<NatsConnection> {
  return connect({ servers: server.url });
}
