/**
 * Desired state: the scalers of each deployed manifest (docs/wire/behaviour.md §5.0, `convert.rs`), as
 * plain data. Component and provider spread/daemon scalers are one `WorkloadSpec` shape.
 */
import {
  classifyTrait,
  componentId,
  DAEMONSCALER_TRAIT,
  linkName,
  rolloutPolicyOf,
  LINK_TRAIT,
  SPREADSCALER_TRAIT,
  type Component,
  type LinkProperties,
  type Manifest,
  type ScalerProperties,
  type SharedApplicationRef,
  type StatusInfo,
} from '@wadm-ts/model';
import type { LinkDef } from '@wadm-ts/protocol';
import type { DeployedApp } from '../types.js';
import { deepFreeze } from './freeze.js';
import { configRefs, type ConfigRef } from './configs.js';
import {
  DAEMON_SCALER_KIND,
  LINK_SCALER_KIND,
  linkIdentity,
  linkScalerId,
  SPREAD_SCALER_KIND,
  statusScalerId,
  workloadScalerId,
  type ScalerKind,
  type WorkloadScalerKind,
} from './ids.js';
import { computeSpread, daemonSpreads, type SpreadTarget } from './spread.js';

export type Workload = 'component' | 'provider';

export interface WorkloadSpec {
  type: 'workload';
  workload: Workload;
  kind: WorkloadScalerKind;
  id: string;
  app: string;
  /** Component or provider id: the scaler's status name. */
  name: string;
  image: string;
  mode: 'spread' | 'daemon';
  spreads: SpreadTarget[];
  configs: ConfigRef[];
  /** The manifest's component name (part of the scaler id, with the image: an instance of the same scaler but another image is recognised by it). */
  componentName: string;
  /** Of the app's rollout policy: instances that may be down at once while an image change replaces them. */
  maxUnavailable: number;
}

export interface LinkSpec {
  type: 'link';
  kind: typeof LINK_SCALER_KIND;
  /** From the link trait's own fields (before merging). */
  id: string;
  app: string;
  /** `{source_id} -({ns}:{pkg})-> {target}` */
  name: string;
  /** The link to put: merged with the app's other links of the same host identity (`mergeLinks`). */
  link: LinkDef;
  configs: ConfigRef[];
}

/** A scaler that can only report (an invalid component): wadm's StatusScaler. */
export interface StatusSpec {
  type: 'status';
  kind: ScalerKind;
  id: string;
  app: string;
  name: string;
  status: StatusInfo;
}

export type ScalerSpec = WorkloadSpec | LinkSpec | StatusSpec;

export interface AppDesired {
  app: string;
  scalers: ScalerSpec[];
  /** wadm-managed configs (and secrets) of the app: name → values (first definition wins). */
  managedConfigs: Map<string, Record<string, string>>;
}

const BOTH = 'Application specified both an image and a shared application reference';
const NEITHER = 'Application did not specify an image or shared application reference';

export function linkStatusName(sourceId: string, ns: string, pkg: string, targetId: string): string {
  return `${sourceId} -(${ns}:${pkg})-> ${targetId}`;
}

/** The id a shared reference resolves to: the shared app's component id (its explicit `id` if it has one). */
export function sharedComponentId(ref: SharedApplicationRef, apps: ReadonlyMap<string, DeployedApp>): string {
  const shared = apps.get(ref.name)?.manifest.spec.components.find((c) => c.name === ref.component);
  return shared && shared.properties.application === undefined
    ? componentId(ref.name, shared)
    : componentId(ref.name, { name: ref.component, properties: {} });
}

type Resolved = { ok: true; id: string; local: boolean } | { ok: false; error: string };

function resolve(app: string, c: Component, apps: ReadonlyMap<string, DeployedApp>): Resolved {
  const { image, application } = c.properties;
  if (image !== undefined && application !== undefined) return { ok: false, error: BOTH };
  if (image !== undefined) return { ok: true, id: componentId(app, c), local: true };
  if (application !== undefined) return { ok: true, id: sharedComponentId(application, apps), local: false };
  return { ok: false, error: NEITHER };
}

function workload(
  app: string,
  c: Component,
  id: string,
  image: string,
  traitType: string,
  props: ScalerProperties,
  configs: ConfigRef[],
  maxUnavailable: number,
): WorkloadSpec {
  const kind = traitType === DAEMONSCALER_TRAIT ? DAEMON_SCALER_KIND : SPREAD_SCALER_KIND;
  const mode = kind === DAEMON_SCALER_KIND ? 'daemon' : 'spread';
  return {
    type: 'workload',
    workload: c.type === 'capability' ? 'provider' : 'component',
    kind,
    id: workloadScalerId(kind, app, c.name, id, image, configs.map((r) => r.name)),
    app,
    name: id,
    image,
    mode,
    spreads: mode === 'daemon' ? daemonSpreads(props) : computeSpread(props),
    configs,
    componentName: c.name,
    maxUnavailable,
  };
}

function link(
  app: string,
  m: Manifest,
  source: Component,
  sourceId: string,
  l: LinkProperties,
  apps: ReadonlyMap<string, DeployedApp>,
): ScalerSpec | undefined {
  const target = m.spec.components.find((c) => c.name === l.target.name);
  if (!target) return undefined;
  // Providers link only to components.
  if (source.type === 'capability' && target.type === 'capability') return undefined;
  const t = resolve(app, target, apps);
  if (!t.ok) {
    const name = linkStatusName(source.name, l.namespace, l.package, l.target.name);
    return { type: 'status', kind: LINK_SCALER_KIND, id: statusScalerId(LINK_SCALER_KIND, app, name), app, name, status: { type: 'failed', message: t.error } };
  }
  const policies = m.spec.policies;
  const src = configRefs(app, l.source?.config, l.source?.secrets, policies);
  const tgt = configRefs(app, l.target.config, l.target.secrets, policies);
  const def: LinkDef = {
    source_id: sourceId,
    target: t.id,
    name: linkName(l),
    wit_namespace: l.namespace,
    wit_package: l.package,
    interfaces: [...l.interfaces],
    source_config: src.map((r) => r.name),
    target_config: tgt.map((r) => r.name),
  };
  return {
    type: 'link',
    kind: LINK_SCALER_KIND,
    id: linkScalerId(app, def),
    app,
    name: linkStatusName(def.source_id, def.wit_namespace, def.wit_package, def.target),
    link: def,
    configs: [...src, ...tgt],
  };
}

/** The scalers of one component, in wadm's order (traits in order, then the implicit provider spread). */
function componentScalers(app: string, m: Manifest, c: Component, apps: ReadonlyMap<string, DeployedApp>): ScalerSpec[] {
  const self = resolve(app, c, apps);
  if (!self.ok) {
    return [{ type: 'status', kind: SPREAD_SCALER_KIND, id: statusScalerId(SPREAD_SCALER_KIND, app, c.name), app, name: c.name, status: { type: 'failed', message: self.error } }];
  }
  const image = self.local ? c.properties.image : undefined;
  const configs = image === undefined ? [] : configRefs(app, c.properties.config, c.properties.secrets, m.spec.policies);
  const out: ScalerSpec[] = [];
  let scalerSpecified = false;
  for (const t of c.traits ?? []) {
    const shape = classifyTrait(t);
    if ((t.type === SPREADSCALER_TRAIT || t.type === DAEMONSCALER_TRAIT) && shape.shape === 'scaler') {
      // A shared reference cannot scale what another app owns.
      if (image === undefined) continue;
      scalerSpecified = true;
      out.push(workload(app, c, self.id, image, t.type, shape.scaler, configs, rolloutPolicyOf(m).maxUnavailable));
    } else if (t.type === LINK_TRAIT && shape.shape === 'link') {
      const s = link(app, m, c, self.id, shape.link, apps);
      if (s) out.push(s);
    }
  }
  if (c.type === 'capability' && image !== undefined && !scalerSpecified) {
    out.push(workload(app, c, self.id, image, SPREADSCALER_TRAIT, { instances: 1 }, configs, rolloutPolicyOf(m).maxUnavailable));
  }
  return out;
}

const union = (lists: ReadonlyArray<readonly string[]>): string[] => [...new Set(lists.flat())];

/**
 * Links of one app with the same host identity (source, target, namespace, package, name) would replace
 * each other on a host, which keeps a single link per identity: each such link scaler puts the one link
 * holding the union of their interfaces and config lists (first-appearance order), so the host ends
 * up with what the manifest asks. Scaler ids and names stay those of each trait.
 */
export function mergeLinks(scalers: readonly ScalerSpec[]): ScalerSpec[] {
  const groups = new Map<string, LinkSpec[]>();
  for (const s of scalers) {
    if (s.type !== 'link') continue;
    const k = linkIdentity(s.link.source_id, s.link.wit_namespace, s.link.wit_package, s.link.name, s.link.target);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  const merged = new Map<string, { link: LinkDef; configs: ConfigRef[] }>();
  for (const [k, g] of groups) {
    if (g.length < 2) continue;
    const configs = new Map<string, ConfigRef>();
    for (const s of g) for (const r of s.configs) if (!configs.has(r.name)) configs.set(r.name, r);
    const link: LinkDef = {
      ...g[0]!.link,
      interfaces: union(g.map((s) => s.link.interfaces)),
      source_config: union(g.map((s) => s.link.source_config)),
      target_config: union(g.map((s) => s.link.target_config)),
    };
    merged.set(k, { link, configs: [...configs.values()] });
  }
  if (merged.size === 0) return [...scalers];
  return scalers.map((s) => {
    if (s.type !== 'link') return s;
    const m = merged.get(linkIdentity(s.link.source_id, s.link.wit_namespace, s.link.wit_package, s.link.name, s.link.target));
    return m ? { ...s, link: { ...m.link, interfaces: [...m.link.interfaces], source_config: [...m.link.source_config], target_config: [...m.link.target_config] }, configs: [...m.configs] } : s;
  });
}

/**
 * Desired state of apps whose manifest references no other app, by manifest object: a stored version never
 * changes, and the views hand every pass the same objects, so a pass builds only what is new. Results
 * are shared between passes, and frozen.
 */
const desiredMemo = new WeakMap<Manifest, { app: string; desired: AppDesired }>();

/** Build the desired scalers of one deployed app; `apps` (every deployed app by name) resolves shared references. */
export function desiredOf(a: DeployedApp, apps: ReadonlyMap<string, DeployedApp>): AppDesired {
  const standalone = !a.manifest.spec.components.some((c) => c.properties.application !== undefined);
  if (standalone) {
    const m = desiredMemo.get(a.manifest);
    if (m && m.app === a.name) return m.desired;
  }
  const desired = buildDesired(a, apps);
  // Frozen: shared between passes, so nothing may change it (a mutation throws instead of leaking).
  if (standalone) desiredMemo.set(a.manifest, { app: a.name, desired: deepFreeze(desired) });
  return desired;
}

function buildDesired(a: DeployedApp, apps: ReadonlyMap<string, DeployedApp>): AppDesired {
  const own: ScalerSpec[] = [];
  const seen = new Set<string>();
  for (const c of a.manifest.spec.components) {
    for (const s of componentScalers(a.name, a.manifest, c, apps)) {
      if (seen.has(s.id)) continue; // the same scaler twice would fight itself
      seen.add(s.id);
      own.push(s);
    }
  }
  const scalers = mergeLinks(own);
  const managedConfigs = new Map<string, Record<string, string>>();
  for (const s of scalers) {
    if (s.type === 'status') continue;
    for (const r of s.configs) if (r.values !== undefined && !managedConfigs.has(r.name)) managedConfigs.set(r.name, r.values);
  }
  return { app: a.name, scalers, managedConfigs };
}

/** Every config name the deployed apps use (managed, external, secrets): what an owner asks the hosts about. */
export function referencedConfigs(apps: readonly DeployedApp[]): string[] {
  const byName = new Map(apps.map((a) => [a.name, a]));
  const names = new Set<string>();
  for (const a of apps) {
    const d = desiredOf(a, byName);
    for (const n of d.managedConfigs.keys()) names.add(n);
    for (const s of d.scalers) if ('configs' in s) for (const r of s.configs) if (r.error === undefined) names.add(r.name);
  }
  return [...names].sort();
}
