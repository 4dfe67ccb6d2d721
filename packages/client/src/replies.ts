/**
 * Decoding of wadm reply bodies. wadm answers some failures with the generic `{result:"error",message}` body
 * (docs/wire/api.md §1.2), which lacks the operation's other fields; like the Rust client, missing fields get
 * defaults so callers always see the full typed shape. Fields that are present are kept untouched.
 */
import type { ModelSummary } from '@wadm-ts/protocol';
import { WadmClientError } from './errors.js';

interface ReplyBase {
  result: string;
  message: string;
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON-decode a reply payload; an empty or non-JSON payload is a `bad_reply`. */
export function parseReplyJson(data: Uint8Array, subject: string): unknown {
  const text = new TextDecoder().decode(data);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    throw new WadmClientError('bad_reply', `Reply on ${subject} is not JSON: ${JSON.stringify(shown)}`, { cause: e });
  }
}

/** Check the reply is an object with a `result`, and fill in any of `defaults` that are missing. */
export function withDefaults<T extends ReplyBase>(raw: unknown, subject: string, defaults: Omit<T, 'result' | 'message'>): T {
  if (!isObject(raw) || typeof raw['result'] !== 'string') {
    throw new WadmClientError('bad_reply', `Reply on ${subject} is not a wadm API response: ${JSON.stringify(raw)}`);
  }
  const body: JsonObject = { ...raw };
  if (typeof body['message'] !== 'string') body['message'] = '';
  for (const [key, value] of Object.entries(defaults)) {
    if (body[key] === undefined) body[key] = value;
  }
  return body as T;
}

/** The deprecated `model.list` reply is a bare array; on failure wadm sends the generic error object instead. */
export function decodeSummaryArray(raw: unknown, subject: string): ModelSummary[] {
  if (Array.isArray(raw)) {
    if (raw.every(isObject)) return raw as unknown as ModelSummary[];
  } else if (isObject(raw) && typeof raw['message'] === 'string') {
    throw new WadmClientError('api_error', raw['message']);
  }
  throw new WadmClientError('bad_reply', `Reply on ${subject} is not a list of applications: ${JSON.stringify(raw)}`);
}
