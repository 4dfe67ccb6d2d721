/**
 * The simulator's import graph (packages/simulator/README.md, "Layout and import order"): its modules
 * import one way, with no cycle (type-only imports count too), and nothing of wadm-ts but `@wadm-ts/obs`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

const srcDir = new URL('../../src/', import.meta.url);
const ALLOWED_PACKAGES = new Set(['@nats-io/transport-node', '@wadm-ts/obs', 'yaml']);

/** The rows of the README's table, bottom layer first: a module imports only from earlier rows. */
const LAYERS: readonly (readonly string[])[] = [
  ['json', 'serde', 'ids', 'faults'],
  ['wire'],
  ['stores', 'events'],
  ['env'],
  ['host-model'],
  ['ctl-common', 'health'],
  ['ctl-components', 'ctl-providers', 'ctl-links', 'ctl-config', 'ctl-host'],
  ['ctl-dispatch'],
  ['host'],
  ['snapshot'],
  ['lattice'],
  ['config'],
  ['index'],
];

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

test('src modules import only from the layers below their own', () => {
  const layerOf = new Map(LAYERS.flatMap((row, i) => row.map((m) => [m, i] as const)));
  for (const [m, { local }] of importGraph()) {
    const own = layerOf.get(m);
    assert.ok(own !== undefined, `${m}.ts has no row in LAYERS (and the README's import order)`);
    for (const d of local) {
      const theirs = layerOf.get(d);
      assert.ok(theirs !== undefined && theirs < own, `${m} imports ./${d}.js, which is not in a layer below it`);
    }
  }
});

test('src imports nothing of wadm-ts but @wadm-ts/obs', () => {
  for (const [m, { packages }] of importGraph()) {
    for (const p of packages) assert.ok(ALLOWED_PACKAGES.has(p), `${m} imports ${p}`);
  }
});
