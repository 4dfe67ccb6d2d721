/** The optional admin endpoint: `/livez`, `/readyz` (200 only when ready) and `/metrics`. */
import { createServer, type Server } from 'node:http';
import type { Metrics } from '@wadm-ts/obs';

export interface AdminHandle {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export function parseHostPort(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`--http-admin must be host:port, got '${addr}'`);
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}

export async function startAdmin(addr: string, metrics: Metrics, isReady: () => boolean): Promise<AdminHandle> {
  const { host, port } = parseHostPort(addr);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/livez') return json(200, { status: 'ok' });
    if (path === '/readyz') return isReady() ? json(200, { status: 'ok' }) : json(503, { status: 'not ready' });
    if (path === '/metrics') {
      metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
        },
        (err: Error) => json(500, { error: err.message }),
      );
      return;
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address();
  const bound = typeof a === 'object' && a ? a.port : port;
  return {
    server,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
