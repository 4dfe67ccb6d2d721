/** Manifest versions generated on put when the `version` annotation is absent. */
import { monotonicFactory } from 'ulid';

const next = monotonicFactory();

/** A ULID (26 chars, Crockford base32); versions made within one millisecond stay ordered. */
export function newVersion(): string {
  return next();
}
