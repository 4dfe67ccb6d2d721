export {
  startLocalNats,
  startLocalNatsCluster,
  freePort,
  hostPortOf,
  isTcpReachable,
  natsHealthy,
  NatsServerMissingError,
  type LocalNats,
  type LocalNatsOptions,
  type LocalNatsCluster,
  type LocalNatsClusterNode,
  type LocalNatsClusterOptions,
} from './nats-server.js';
