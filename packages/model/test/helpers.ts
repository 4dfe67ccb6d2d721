import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseManifest,
  type Component,
  type JsonValue,
  type Manifest,
  type ParseOptions,
  type Trait,
  type ValidationFailure,
} from '../src/index.js';

/** packages/model/dist/test → repo root is 4 levels up; the example manifests (copied from shared/examples) live in test/fixtures. */
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '../../../..');
export const EXAMPLES_DIR = path.resolve(REPO_ROOT, 'test/fixtures/examples');

export function exampleFiles(dir: 'oam' | 'legacy'): string[] {
  return readdirSync(path.join(EXAMPLES_DIR, dir)).sort();
}

export function readExample(rel: string): string {
  return readFileSync(path.join(EXAMPLES_DIR, rel), 'utf8');
}

export function parseOk(text: string | Uint8Array, opts?: ParseOptions): { manifest: Manifest; warnings: ValidationFailure[] } {
  const r = parseManifest(text, opts);
  if (!r.ok) assert.fail(`expected the manifest to parse, got: ${r.error}`);
  return r;
}

export function parseErr(text: string, opts?: ParseOptions): string {
  const r = parseManifest(text, opts);
  if (r.ok) assert.fail('expected a parse error');
  return r.error;
}

/** `level: msg` lines, for compact assertions. */
export function lines(fs: readonly ValidationFailure[]): string[] {
  return fs.map((f) => `${f.level}: ${f.msg}`);
}

export function comp(name: string, extra: Partial<Component> = {}): Component {
  return { name, type: 'component', properties: { image: `example.com/${name}:1` }, ...extra };
}

export function cap(name: string, extra: Partial<Component> = {}): Component {
  return { name, type: 'capability', properties: { image: `example.com/${name}:1` }, ...extra };
}

export function trait(type: string, properties: JsonValue): Trait {
  return { type, properties };
}

export function link(target: string, extra: { [k: string]: JsonValue } = {}): Trait {
  return trait('link', { namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'], target: { name: target }, ...extra });
}

export function manifest(components: Component[], extra: Partial<Manifest['metadata']> & { policies?: Manifest['spec']['policies'] } = {}): Manifest {
  const { policies, ...metadata } = extra;
  const m: Manifest = {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'app', annotations: { version: 'v1' }, ...metadata },
    spec: { components },
  };
  if (policies) m.spec.policies = policies;
  return m;
}

/** A YAML manifest around a `components:` block (indented by 4). */
export function yamlWith(components: string, head = ''): string {
  return `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: app
  annotations:
    version: v1
${head}spec:
  components:
${components}`;
}
