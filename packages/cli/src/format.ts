/** Plain-text table formatting for the CLI. No dependencies. */

export interface TableOptions {
  /** Prefix of every line; default "". */
  indent?: string;
  /** Spaces between columns; default 2. */
  gap?: number;
}

/** Collapse a value to one line (newlines and runs of whitespace become one space), optionally truncated with `…`. */
export function oneLine(text: string, maxLength?: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (maxLength === undefined || flat.length <= maxLength) return flat;
  return `${flat.slice(0, Math.max(0, maxLength - 1))}…`;
}

/** Left-aligned columns sized to their widest cell; the last column is not padded (no trailing spaces). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], opts: TableOptions = {}): string[] {
  const indent = opts.indent ?? '';
  const gap = ' '.repeat(opts.gap ?? 2);
  const all = [header, ...rows].map((row) => header.map((_, i) => oneLine(row[i] ?? '')));
  const widths = header.map((_, i) => Math.max(...all.map((row) => [...row[i]!].length)));
  return all.map((row) => indent + row.map((c, i) => (i === row.length - 1 ? c : pad(c, widths[i]!))).join(gap).trimEnd());
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(width - [...text].length);
}
