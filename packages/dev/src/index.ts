export { startLocalNats, type LocalNatsOptions } from './nats-server.js';
export {
  startLocalNatsCluster,
  type LocalNatsCluster,
  type LocalNatsClusterNode,
  type LocalNatsClusterOptions,
} from './cluster.js';
export { freePort, hostPortOf, isTcpReachable, natsHealthy } from './probes.js';
export { NatsServerMissingError, type LocalNats } from './process.js';
export { seededRandom } from './random.js';
