export {
  ensureIngestResources,
  IngestWorker,
} from './worker.js';
export {
  HostReaper,
} from './reaper.js';
export {
  LatticeQuerier,
} from './query.js';
