export {
  WadmClient,
  DEFAULT_LATTICE,
  DEFAULT_TIMEOUT_MS,
  type WadmClientOptions,
  type PutOptions,
  type UndeployOptions,
  type StatusSubscription,
} from './client.js';
export { WadmClientError, NO_RESPONDERS_MESSAGE, describeError, type WadmClientErrorKind } from './errors.js';
