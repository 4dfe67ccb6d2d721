/** Tokens of state-bucket keys (`@wadm-ts/store` lattice-state.ts): plain `[-_=a-zA-Z0-9]`, else `=` + base64url. */
const PLAIN = /^[-_a-zA-Z0-9][-_=a-zA-Z0-9]*$/;

/** A KV-key-safe token for an arbitrary string (readable when already safe). */
export function keyToken(s: string): string {
  return PLAIN.test(s) ? s : `=${Buffer.from(s, 'utf8').toString('base64url')}`;
}

export function fromKeyToken(t: string): string {
  return t.startsWith('=') ? Buffer.from(t.slice(1), 'base64url').toString('utf8') : t;
}
