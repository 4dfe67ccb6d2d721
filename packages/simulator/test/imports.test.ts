/**
 * The simulator's import graph (packages/simulator/README.md, "Import order"): its modules import one
 * way, with no cycle (type-only imports count too), and nothing of wadm-ts but `@wadm-ts/obs`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

const srcDir = new URL('../../src/', import.meta.url);
const ALLOWED_PACKAGES = new Set(['@nats-io/transport-node', '@wadm-ts/obs', 'yaml']);

/** Module name (file without `.ts`) → the local modules and the packages it imports or re-exports from. */
function importGraph(): Map<string, { local: string[]; packages: string[] }> {
  const graph = new Map<string, { local: string[]; packages: string[] }>();
  for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(file, srcDir), 'utf8');
    const local: string[] = [];
    const packages: string[] = [];
    for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms)) {
      const spec = m[1]!;
      if (spec.startsWith('./')) local.push(spec.slice(2).replace(/\.js$/, ''));
      else if (!spec.startsWith('node:')) packages.push(spec);
    }
    graph.set(file.replace(/\.ts$/, ''), { local, packages });
  }
  return graph;
}

/** A cycle as a path `a → b → … → a`, or undefined. */
function findCycle(graph: Map<string, { local: string[] }>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (m: string): string[] | undefined => {
    if (state.get(m) === 'done') return undefined;
    if (state.get(m) === 'open') return [...path.slice(path.indexOf(m)), m];
    state.set(m, 'open');
    path.push(m);
    for (const d of graph.get(m)?.local ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    state.set(m, 'done');
    return undefined;
  };
  for (const m of graph.keys()) {
    const c = visit(m);
    if (c) return c;
  }
  return undefined;
}

test('src modules import one way: no cycle', () => {
  const graph = importGraph();
  assert.ok(graph.size > 10, 'src read');
  for (const [m, { local }] of graph) for (const d of local) assert.ok(graph.has(d), `${m} imports ./${d}.js, which does not exist`);
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `import cycle: ${cycle?.join(' → ')}`);
});

test('src imports nothing of wadm-ts but @wadm-ts/obs', () => {
  for (const [m, { packages }] of importGraph()) {
    for (const p of packages) assert.ok(ALLOWED_PACKAGES.has(p), `${m} imports ${p}`);
  }
});
