/**
 * Which lattice a name is about, and how arbitrary ids become subject tokens and KV key tokens (the
 * `{account|_}.{lattice}` pair of every per-lattice subject and key; docs/architecture.md).
 */

/** A lattice, and in multitenant mode the account it belongs to. */
export interface LatticeRef {
  lattice: string;
  account?: string;
}

const PLAIN = /^[-_a-zA-Z0-9][-_=a-zA-Z0-9]*$/;

/** A KV-key-safe (and subject-safe) token for an arbitrary string (readable when already safe). */
export function keyToken(s: string): string {
  return PLAIN.test(s) ? s : `=${Buffer.from(s, 'utf8').toString('base64url')}`;
}

export function fromKeyToken(t: string): string {
  return t.startsWith('=') ? Buffer.from(t.slice(1), 'base64url').toString('utf8') : t;
}

/** `{account|_}.{lattice}`, both as key tokens. */
export function refTokens(l: LatticeRef): string {
  return `${l.account ? keyToken(l.account) : '_'}.${keyToken(l.lattice)}`;
}

/** The inverse of refTokens, from its two tokens. */
export function refOfTokens(account: string, lattice: string): LatticeRef {
  const l = fromKeyToken(lattice);
  return account === '_' ? { lattice: l } : { lattice: l, account: fromKeyToken(account) };
}

/** `{account.}` before a subject in multitenant mode, nothing otherwise. */
export function accountPrefix(account: string | undefined): string {
  return account ? `${account}.` : '';
}
