/** Errors of the storage layer, carrying the key and operation they concern. */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly context: { bucket?: string; key?: string; op: string },
    options?: { cause?: unknown },
  ) {
    super(`${message} (op=${context.op}${context.bucket ? ` bucket=${context.bucket}` : ''}${context.key ? ` key=${context.key}` : ''})`, options);
    this.name = 'StorageError';
  }
}

/** Jittered exponential backoff for CAS retries: 2, 4, 8 … ms, capped, with full jitter. */
export function casBackoff(attempt: number, capMs = 100): Promise<void> {
  const ms = Math.random() * Math.min(capMs, 2 ** Math.min(attempt + 1, 10));
  return new Promise((r) => setTimeout(r, ms));
}
