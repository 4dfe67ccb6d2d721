/**
 * How the state view indexes `wadm_state` keys: which lattice a key belongs to (`lat.{acct}.{lattice}`),
 * and subject-filter matching over its tokens (`StateView.keysMatching`).
 */
import { refOfTokens, type LatticeRef } from '@wadm-ts/protocol';

export function refOfPrefix(prefix: string): LatticeRef {
  const t = prefix.split('.');
  return refOfTokens(t[1]!, t[2]!);
}

/** `lat.{acct}.{lattice}` of a state key, or undefined for keys that are not lattice state. */
export function prefixOf(key: string): string | undefined {
  if (!key.startsWith('lat.')) return undefined;
  const a = key.indexOf('.', 4);
  if (a < 0) return undefined;
  const b = key.indexOf('.', a + 1);
  return b < 0 ? undefined : key.slice(0, b);
}

/** Whether a key's tokens match a subject filter's (`*` one token, `>` the rest). */
export function subjectMatches(pat: string[], toks: string[]): boolean {
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i]!;
    if (p === '>') return toks.length > i;
    if (i >= toks.length) return false;
    if (p !== '*' && p !== toks[i]) return false;
  }
  return pat.length === toks.length;
}
