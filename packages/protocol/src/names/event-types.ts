/** The CloudEvent `type`s wadm publishes on `wadm.evt.{lattice}.{kind}` (see subjects.ts). */

export const APPLICATION_STATUS = 'com.wadm.application_status';
export const MANIFEST_PUBLISHED = 'com.wadm.manifest_published';
export const MANIFEST_UNPUBLISHED = 'com.wadm.manifest_unpublished';
/** New in wadm-ts: an owner deployed the previous version again because the new one missed its healthy deadline. */
export const ROLLOUT_REVERTED = 'com.wadm.rollout_reverted';
