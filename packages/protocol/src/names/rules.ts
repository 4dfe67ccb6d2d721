/** The naming rules, one validator each (docs/wire/api.md). */
import { isValidManifestName } from '@wadm-ts/model';

/**
 * An app (manifest) name: the Rust wadm's `^[-\w]+$` with Unicode `\w`. The one rule, owned by the
 * manifest model's validation; the API and the client check subject names with it too.
 */
export function isValidName(name: string): boolean {
  return isValidManifestName(name);
}

/**
 * A token safe to embed in a NATS subject or KV key: no `.`, `*`, `>`, whitespace or control chars, non-empty.
 * Used for lattice ids, which wadm does not otherwise constrain.
 */
export function isSafeToken(token: string): boolean {
  return token.length > 0 && token.length <= 256 && !/[.*>\s\u0000-\u001f\u007f]/u.test(token);
}
