import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  /** `replica` field carried by every line. */
  replica: string;
  /** pino level; defaults to WADM_LOG_LEVEL or `info`. */
  level?: string;
  /** JSON lines (true) or human readable output when a TTY (false). */
  structured?: boolean;
  /** Where to write; stdout by default. */
  destination?: DestinationStream;
}

/**
 * The one logger factory of wadm-ts: pino JSON lines carrying `replica`; children add `lattice` and `app`.
 * Pretty output is used only when structured logging is off, stdout is a TTY and pino-pretty is installed.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env['WADM_LOG_LEVEL'] ?? 'info';
  const base = { replica: opts.replica };
  if (opts.destination) return pino({ level, base }, opts.destination);
  if (!opts.structured && process.stdout.isTTY) {
    try {
      return pino({ level, base, transport: { target: 'pino-pretty', options: { colorize: true } } });
    } catch {
      // pino-pretty missing: fall through to JSON.
    }
  }
  return pino({ level, base });
}
