/**
 * deploy/helm/wadm-ts (issue 9, item 4), checked without a Helm binary (none is packaged here): the
 * chart's structure, every value its templates read exists, every WADM_* setting of the README is a
 * value (or set by the template), the PrometheusRule's rules are deploy/prometheus/alerts.yml, and the
 * rendered plain manifests (deploy/kubernetes/wadm-ts.yaml) match the default values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/wadm-ts');
type Json = Record<string, unknown>;

const get = (o: unknown, path: string[]): unknown => path.reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Json)[k] : undefined), o);
const has = (o: unknown, path: string[]): boolean => {
  let x: unknown = o;
  for (const k of path) {
    if (!x || typeof x !== 'object' || !(k in (x as Json))) return false;
    x = (x as Json)[k];
  }
  return true;
};

test('the chart: structure, values its templates read, every WADM_* setting, rules from alerts.yml', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Json;
  assert.equal(chart['apiVersion'], 'v2');
  assert.equal(chart['name'], 'wadm-ts');
  assert.ok(chart['version'] && chart['appVersion']);
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Json;
  const templates = readdirSync(join(CHART, 'templates')).map((f) => ({ f, text: readFileSync(join(CHART, 'templates', f), 'utf8') }));
  for (const want of ['deployment.yaml', 'pdb.yaml', 'service.yaml', 'servicemonitor.yaml', 'prometheusrule.yaml', '_helpers.tpl']) assert.ok(templates.some((t) => t.f === want), want);
  for (const { f, text } of templates) {
    // Actions open and close in balance.
    const opened = [...text.matchAll(/\{\{-?\s*(if|range|with|define)\b/g)].length;
    const closed = [...text.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
    assert.equal(opened, closed, `${f}: ${opened} blocks opened, ${closed} closed`);
    assert.equal([...text.matchAll(/\{\{/g)].length, [...text.matchAll(/\}\}/g)].length, `${f}: delimiters balanced`);
    for (const [, path] of text.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) assert.ok(has(values, path!.split('.')), `${f}: .Values.${path} is in values.yaml`);
  }
  // Every WADM_* setting of the README's configuration table.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('| metric |'));
  const documented = new Set([...table.matchAll(/`(WADM_[A-Z_]+)`/g)].map((m) => m[1]!).filter((n) => !n.endsWith('_MAX_BYTES')));
  assert.ok(documented.size >= 25, `${documented.size} settings in the README's configuration table`);
  const deployment = templates.find((t) => t.f === 'deployment.yaml')!.text;
  const settings = values['settings'] as Json;
  for (const n of documented) assert.ok(n in settings || deployment.includes(`name: ${n}`), `${n} is a value (settings.${n}) or set by the template`);
  // NATS credentials come from Secrets.
  for (const k of ['credsSecret', 'nkeySecret', 'tlsCaSecret']) assert.ok(has(values, ['nats', k]) && deployment.includes(`.Values.nats.${k}`), k);
  // The PrometheusRule carries deploy/prometheus/alerts.yml (Helm reads files inside the chart only: a copy, kept identical).
  assert.equal(readFileSync(join(CHART, 'files/alerts.yml'), 'utf8'), readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8'), 'files/alerts.yml is deploy/prometheus/alerts.yml');
});

test('the rendered manifests match the chart defaults', () => {
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Json;
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy/kubernetes/wadm-ts.yaml'), 'utf8')).map((d) => d.toJS() as Json).filter(Boolean);
  const byKind = new Map(docs.map((d) => [d['kind'] as string, d]));
  assert.deepEqual([...byKind.keys()].sort(), ['Deployment', 'PodDisruptionBudget', 'Service']);
  const dep = byKind.get('Deployment')!;
  assert.equal(get(dep, ['spec', 'replicas']), values['replicaCount']);
  const c = (get(dep, ['spec', 'template', 'spec', 'containers']) as Json[])[0]!;
  assert.equal(get(c, ['livenessProbe', 'httpGet', 'path']), '/livez');
  assert.equal(get(c, ['readinessProbe', 'httpGet', 'path']), '/readyz');
  assert.deepEqual(get(c, ['resources']), values['resources']);
  const env = new Map((c['env'] as Json[]).map((e) => [e['name'] as string, e['value']]));
  assert.equal(env.get('WADM_NATS_SERVER'), get(values, ['nats', 'url']));
  assert.equal(env.get('WADM_HTTP_ADMIN'), `0.0.0.0:${values['adminPort'] as number}`);
  for (const [k, v] of Object.entries(values['settings'] as Json)) assert.equal(env.get(k), v === null ? undefined : String(v), `settings.${k}`);
  assert.ok(get(dep, ['spec', 'template', 'spec', 'affinity', 'podAntiAffinity']), 'anti-affinity');
  assert.equal(get(byKind.get('PodDisruptionBudget')!, ['spec', 'minAvailable']), get(values, ['podDisruptionBudget', 'minAvailable']));
  assert.equal((get(byKind.get('Service')!, ['spec', 'ports']) as Json[])[0]!['port'], values['adminPort']);
});
