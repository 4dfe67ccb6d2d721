/**
 * Reading a request: the generic error (docs/wire/api.md §1.2), subject tokens that must also be KV key
 * tokens, the optional JSON-object bodies of get/del/deploy/undeploy and the manifest body of `model.put`
 * (and `model.plan`). Pure: no I/O, failures are thrown as `ApiError`.
 */
import type { MsgHdrs } from '@nats-io/transport-node';
import { LATEST_VERSION, VERSION_ANNOTATION, parseManifest, validateManifest, type Manifest } from '@wadm-ts/model';
import { isValidName } from '@wadm-ts/protocol';

/** A failure answered with the generic `{"result":"error","message":…}` body (plus `extra`). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The generic error body (docs/wire/api.md §1.2). */
export function errorBody(message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { result: 'error', message, ...extra };
}

/** KV keys allow `[-/_=.a-zA-Z0-9]`; names and lattices are subject tokens too, so no `.`. */
export const KV_SAFE_TOKEN = /^[-/_=a-zA-Z0-9]+$/;

/** Parse an optional JSON-object request body (`{"version": …}` and friends). */
export function parseRequestBody(data: Uint8Array, what: string): Record<string, unknown> {
  if (data.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (err) {
    throw new ApiError(`Unable to parse ${what} request: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ApiError(`Unable to parse ${what} request: expected a JSON object, found ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}

export function versionField(body: Record<string, unknown>, what: string): string | null {
  const v = body['version'];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ApiError(`Unable to parse ${what} request: invalid type for field \`version\`: expected a string, found ${JSON.stringify(v)}`);
  return v;
}

/**
 * The version a delete request names (null: the whole app). 0.x clients sent
 * `{"version": "", "delete_all": true}` to delete everything; `undeploy` is accepted and ignored
 * (deleting the deployed version always undeploys).
 */
export function deleteVersionField(body: Record<string, unknown>): string | null {
  return body['delete_all'] === true ? null : versionField(body, 'delete application');
}

/** `non_destructive` of an undeploy request (0.x clients sent it; `destructive: true` is the default, said explicitly). */
export function nonDestructiveField(body: Record<string, unknown>): boolean {
  const v = body['non_destructive'];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ApiError(`Unable to parse undeploy application request: invalid type for field \`non_destructive\`: expected a boolean, found ${JSON.stringify(v)}`);
  if (v && body['destructive'] === true) throw new ApiError('Unable to parse undeploy application request: `non_destructive` and `destructive` are both true');
  return v;
}

/** An app name from the subject, checked as every per-app operation checks it. */
export function checkedName(name: string): string {
  if (!isValidName(name) || !KV_SAFE_TOKEN.test(name)) {
    throw new ApiError(
      `Application name ${name} contains invalid characters. Manifest names can only contain alphanumeric characters, dashes, and underscores.`,
    );
  }
  return name;
}

/** What a request carries: its body and, when present, its headers. */
export interface RequestBody {
  data: Uint8Array;
  headers?: MsgHdrs | undefined;
}

/**
 * Parse and validate a manifest request body exactly as `model.put` does: YAML or JSON (the
 * `Content-Type` header decides when present), `latest` refused as a version, the name a valid subject
 * token and KV key, every validation error joined with `; `.
 */
export function validatedManifest(msg: RequestBody): { manifest: Manifest; name: string; warnings: string[] } {
  const ct = msg.headers?.has('Content-Type') ? msg.headers.get('Content-Type') : undefined;
  const parsed = parseManifest(msg.data, ct === undefined ? {} : { contentType: ct });
  if (!parsed.ok) throw new ApiError(`Unable to parse manifest: ${parsed.error}`);
  const m = parsed.manifest;
  if (m.metadata.annotations[VERSION_ANNOTATION] === LATEST_VERSION) {
    throw new ApiError('invalid manifest version, errors: "latest is not allowed in wadm"');
  }
  const name = m.metadata.name.trim();
  if (!isValidName(name)) {
    throw new ApiError(
      `Manifest name ${name} contains invalid characters. Manifest names can only contain alphanumeric characters, dashes, and underscores.`,
    );
  }
  if (!KV_SAFE_TOKEN.test(name)) {
    throw new ApiError(`Manifest name ${name} contains non-ASCII characters, which cannot be stored as a NATS KV key. Use ASCII letters, digits, dashes, and underscores.`);
  }
  const failures = [...parsed.warnings, ...validateManifest(m)];
  const errors = failures.filter((f) => f.level === 'error').map((f) => f.msg);
  if (errors.length > 0) throw new ApiError(errors.join('; '));
  const warnings = failures.filter((f) => f.level === 'warning').map((f) => f.msg);
  return { manifest: m, name, warnings };
}
