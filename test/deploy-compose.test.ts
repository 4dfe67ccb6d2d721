/**
 * docker-compose.yml, the demo (issue 9, item 5): it names NATS, 3 wadm-ts replicas, a simulated
 * lattice, Prometheus and Grafana; Prometheus finds the replicated service by DNS service discovery on
 * the port the replicas serve /metrics on, with the alerting rules (promtool-checked); Grafana
 * provisions its datasource and the dashboard, which needs no `${DS_…}` import inputs; every file the
 * services mount exists. (No Docker engine here: the file is checked, not run.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  deploy?: { replicas?: number };
}

test('the compose demo: every service, DNS discovery of the replicas, provisioned Grafana, mounted files exist', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
  const s = compose.services;
  assert.deepEqual(Object.keys(s).sort(), ['grafana', 'nats', 'prometheus', 'sim', 'wadm']);
  assert.ok(s['nats']!.command!.includes('-js'), 'NATS with JetStream');
  assert.equal(s['wadm']!.deploy?.replicas, 3, '3 wadm-ts replicas');
  assert.deepEqual(s['sim']!.command!.slice(0, 1), ['sim'], 'a simulated lattice (`wadm sim`)');
  const adminPort = Number(s['wadm']!.environment!['WADM_HTTP_ADMIN']!.split(':').pop());

  // Prometheus: DNS service discovery of the `wadm` service on the admin port, rules loaded.
  const promMount = s['prometheus']!.volumes!.find((v) => v.endsWith(':/etc/prometheus/prometheus.yml:ro'))!;
  const promFile = join(ROOT, promMount.split(':')[0]!);
  const prom = parse(readFileSync(promFile, 'utf8')) as { rule_files: string[]; scrape_configs: Array<{ dns_sd_configs?: Array<{ names: string[]; port: number; type: string }>; static_configs?: unknown }> };
  const sd = prom.scrape_configs[0]!.dns_sd_configs![0]!;
  assert.deepEqual(sd.names, ['wadm']);
  assert.equal(sd.port, adminPort, 'scraped on the port the replicas serve /metrics on');
  assert.equal(prom.scrape_configs[0]!.static_configs, undefined, 'no static target list');
  assert.deepEqual(prom.rule_files, ['alerts.yml']);
  const check = spawnSync('promtool', ['check', 'config', promFile], { encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);

  // Grafana: datasource and dashboard provisioned; the dashboard needs no import inputs.
  for (const v of s['grafana']!.volumes!) assert.ok(existsSync(join(ROOT, v.split(':')[0]!)), `${v} exists`);
  for (const svc of Object.values(s)) for (const v of svc.volumes ?? []) if (v.startsWith('./')) assert.ok(existsSync(join(ROOT, v.split(':')[0]!)), `${v} exists`);
  const ds = parse(readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ type: string; url: string }> };
  assert.equal(ds.datasources[0]!.type, 'prometheus');
  assert.equal(ds.datasources[0]!.url, 'http://prometheus:9090');
  const dashText = readFileSync(join(ROOT, 'deploy/grafana/wadm-ts.json'), 'utf8');
  assert.ok(!/\$\{DS_/.test(dashText) && !('__inputs' in (JSON.parse(dashText) as object)), 'no ${DS_…} import inputs');

  // The README says how to run it and what to open.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /docker compose up/);
  assert.match(readme, /localhost:3000/);
});
