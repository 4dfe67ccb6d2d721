export { startReplica, type Replica, type StartOptions } from './replica.js';
export { addReplicaOptions, replicaConfigFrom, envFlag, type ReplicaConfig } from './config.js';
export { startAdmin, parseHostPort } from './admin-http.js';
export { buildProgram, main } from './main.js';
