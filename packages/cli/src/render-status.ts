/** Rendering of `wadm app status`: the application's status line, then one row per scaler. */
import { statusFromWire } from '@wadm-ts/model';
import type { StatusResponse } from '@wadm-ts/protocol';
import { formatTable } from './format.js';
import type { CommandOutput, OutputMode } from './output.js';
import { renderReply } from './render.js';

/** `{name}@{version} - {type}`, then one row per scaler; a scaler with a message gets `(*) {message}`. */
export function renderStatus(name: string, reply: StatusResponse, mode: OutputMode, deployed?: string): CommandOutput {
  return renderReply(reply, mode, (r) => {
    const status = statusFromWire(r.status);
    if (status === undefined) return [`${name} - unknown (wadm returned no status)`];
    const version = status.version || deployed;
    const lines = [`${version ? `${name}@${version}` : name} - ${status.status.type}`];
    const scalers = status.scalers ?? [];
    if (scalers.length === 0) {
      if (status.status.message) lines.push(`  ${status.status.message}`);
      return lines;
    }
    // The app's own message when it says more than its scalers do (e.g. that an automatic revert happened).
    const own = (status.status.message ?? '').trim();
    if (own && own !== scalerMessages(scalers)) lines.push(`  ${own}`);
    const rows = scalers.map((s) => [s.name, s.kind, s.status.type, s.status.message ? `(*) ${s.status.message}` : '']);
    return [...lines, ...formatTable(['Name', 'Kind', 'Status', 'Message'], rows, { indent: '  ' })];
  });
}

/** The scalers' messages as the aggregate status joins them. */
function scalerMessages(scalers: ReadonlyArray<{ status: { message?: string } }>): string {
  return scalers
    .map((s) => (s.status.message ?? '').trim())
    .filter((m) => m.length > 0)
    .join(', ');
}
