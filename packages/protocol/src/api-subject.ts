/**
 * wadm API subject grammar (docs/wire/api.md §1.1):
 *   single tenant: {prefix}.{lattice}.{category}.{operation}[.{name}]
 *   multitenant:   {account}.{prefix}.{lattice}.{category}.{operation}[.{name}]
 */

export const DEFAULT_API_PREFIX = 'wadm.api';
export const API_QUEUE_GROUP = 'wadm_server';

export type ApiOperation = 'put' | 'get' | 'list' | 'versions' | 'del' | 'deploy' | 'undeploy' | 'status' | 'history' | 'plan';

export interface ParsedApiSubject {
  account?: string;
  lattice: string;
  category: string;
  operation: string;
  name?: string;
}

export type SubjectParse = { ok: true; subject: ParsedApiSubject } | { ok: false; reason: string };

/** Trim whitespace and leading/trailing dots; throws on an empty prefix (a startup error). */
export function normalizeApiPrefix(prefix: string): string {
  const p = prefix.trim().replace(/^\.+|\.+$/g, '');
  if (p.length === 0) throw new Error('API prefix must not be empty');
  return p;
}

/** The subscription subject for the API: `{prefix}.>` or `*.{prefix}.>`. */
export function apiSubscription(prefix: string, multitenant: boolean): string {
  return multitenant ? `*.${prefix}.>` : `${prefix}.>`;
}

export function parseApiSubject(subject: string, prefix: string, multitenant: boolean): SubjectParse {
  let rest = subject;
  let account: string | undefined;
  if (multitenant) {
    const dot = rest.indexOf('.');
    if (dot < 0) return { ok: false, reason: 'Expected to find account ID in multitenant subject' };
    account = rest.slice(0, dot);
    rest = rest.slice(dot + 1);
  }
  if (!rest.startsWith(prefix)) return { ok: false, reason: `Subject does not start with the API prefix ${prefix}` };
  rest = rest.slice(prefix.length).replace(/^\.+/, '');
  const parts = rest.split('.');
  const [lattice, category, operation, name, ...extra] = parts;
  if (lattice === undefined || lattice === '') return { ok: false, reason: 'Expected to find lattice ID' };
  if (category === undefined) return { ok: false, reason: 'Expected to find API category' };
  if (operation === undefined) return { ok: false, reason: 'Expected to find operation' };
  if (extra.length > 0) {
    return {
      ok: false,
      reason:
        'Found extra components of subject, ensure your manifest name consists of only alphanumeric characters, dashes, and underscores.',
    };
  }
  const parsed: ParsedApiSubject = { lattice, category, operation };
  if (account !== undefined) parsed.account = account;
  if (name !== undefined) parsed.name = name;
  return { ok: true, subject: parsed };
}

/** Build an API request subject (what clients send to). */
export function apiSubject(opts: {
  prefix?: string;
  lattice: string;
  operation: ApiOperation;
  name?: string;
  account?: string;
}): string {
  const parts = [opts.prefix ?? DEFAULT_API_PREFIX, opts.lattice, 'model', opts.operation];
  if (opts.name !== undefined) parts.push(opts.name);
  const s = parts.join('.');
  return opts.account ? `${opts.account}.${s}` : s;
}
