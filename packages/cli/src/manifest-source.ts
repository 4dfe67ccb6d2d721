/** Where a `wadm app …` manifest comes from: a file, an http(s) URL, or `-` (stdin). */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { describeError } from '@wadm-ts/client';

/** What `deploy` treats as a manifest rather than an application name: `-`, a URL, or a .yaml/.yml/.json path. */
export function isManifestSource(arg: string): boolean {
  return arg === '-' || /^https?:\/\//i.test(arg) || /\.(ya?ml|json)$/i.test(arg);
}

/** Read a manifest from a file, an http(s) URL, or `-` (stdin); failures say which source could not be read. */
export async function readManifestSource(arg: string, stdin: Readable = process.stdin): Promise<string> {
  try {
    if (arg === '-') return await readAll(stdin);
    if (/^https?:\/\//i.test(arg)) return await fetchText(arg);
    return await readFile(arg, 'utf8');
  } catch (e) {
    throw new Error(`Failed to read manifest ${arg === '-' ? 'from stdin' : arg}: ${describeError(e)}`, { cause: e });
  }
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
