/** Raw NATS request helpers for API tests: bytes in, parsed JSON out (no project client involved). */
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Json = Record<string, any>;

/** `test/fixtures`: the example manifests (copied from the spec's shared/examples). test/dist/harness → test/. */
export const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');

export function example(rel: string): string {
  return readFileSync(join(FIXTURES_DIR, 'examples', rel), 'utf8');
}

export class RawApi {
  constructor(
    readonly nc: NatsConnection,
    readonly lattice = 'default',
    readonly prefix = 'wadm.api',
  ) {}

  subject(op: string, name?: string): string {
    return [this.prefix, this.lattice, 'model', op, ...(name === undefined ? [] : [name])].join('.');
  }

  async raw(subject: string, body: string | Uint8Array = '', contentType?: string): Promise<Json> {
    const opts: { timeout: number; headers?: ReturnType<typeof headers> } = { timeout: 10_000 };
    if (contentType !== undefined) {
      const h = headers();
      h.set('Content-Type', contentType);
      opts.headers = h;
    }
    const m = await this.nc.request(subject, body, opts);
    return JSON.parse(new TextDecoder().decode(m.data)) as Json;
  }

  put(body: string | Uint8Array, contentType?: string): Promise<Json> {
    return this.raw(this.subject('put'), body, contentType);
  }
  get(name: string, version?: string): Promise<Json> {
    return this.raw(this.subject('get', name), version === undefined ? '' : JSON.stringify({ version }));
  }
  list(): Promise<Json> {
    return this.raw(this.subject('get'));
  }
  versions(name: string): Promise<Json> {
    return this.raw(this.subject('versions', name));
  }
  del(name: string, version?: string | null): Promise<Json> {
    return this.raw(this.subject('del', name), version === undefined ? '' : JSON.stringify({ version }));
  }
  deploy(name: string, version?: string): Promise<Json> {
    return this.raw(this.subject('deploy', name), version === undefined ? '' : JSON.stringify({ version }));
  }
  undeploy(name: string): Promise<Json> {
    return this.raw(this.subject('undeploy', name));
  }
  status(name: string): Promise<Json> {
    return this.raw(this.subject('status', name));
  }
}
