/**
 * Plan preview: what deploying a candidate version of one app would change, as plain data.
 *
 * `diffApp` compares the deployed version (or none) with the candidate: components and providers by
 * manifest name, links by their host identity, wadm-managed configs by name, and per spread the
 * instances running now (observed) against the instances the candidate declares.
 *
 * `planApp` adds the control commands a deploy would issue now: the lattice's planner (`planLattice`,
 * the function every reconcile pass runs) over the same observed state, applied records and in-flight
 * commands, with the candidate in place of the app's deployed version; the commands of that app are
 * kept. Nothing is written and nothing is sent.
 */
import { APPSPEC_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, SPREAD_KEY } from '@wadm-ts/protocol';
import { componentId, type Component, type Manifest } from '@wadm-ts/model';
import type { LinkDef, PlanChange, PlanCommand, PlanFieldChange } from '@wadm-ts/protocol';
import type { Command, DeployedApp, ObservedLattice, PlanInput } from '../types.js';
import { copyLink } from './commands.js';
import { desiredOf, type LinkSpec, type WorkloadSpec } from './desired.js';
import { canonicalJson, linkIdentity } from './ids.js';
import { planLattice } from './lattice.js';
import { settleInflight } from './inflight.js';
import { indexObserved, type ObservedIndex } from './observed.js';
import { isEligible } from './spread.js';

export interface DiffContext {
  /** The lattice as observed now (running instances are counted from it). */
  observed: ObservedLattice;
  /** The other deployed apps of the lattice (shared component references resolve through them). */
  others?: readonly DeployedApp[];
}

export interface AppPlanInput extends Omit<PlanInput, 'apps'> {
  /** The app planned. */
  app: string;
  /** Its deployed version now, or null. */
  deployed: DeployedApp | null;
  /** The version to preview. */
  candidate: DeployedApp;
  /** Every other deployed app of the lattice. */
  others: readonly DeployedApp[];
}

export interface AppPlan {
  changes: PlanChange[];
  /** Summaries of `raw`, in the same order. */
  commands: PlanCommand[];
  /** The planner's commands for this app, as it would issue them. */
  raw: Command[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The link identity shown in changes and commands. */
export function linkLabel(l: { source_id: string; wit_namespace: string; wit_package: string; name: string; target?: string }): string {
  return `${l.source_id} -(${l.wit_namespace}:${l.wit_package}/${l.name})-> ${l.target ?? '*'}`;
}

// ---- components and providers ----

function workloadKind(c: Component): 'component' | 'provider' {
  return c.type === 'capability' ? 'provider' : 'component';
}

function componentView(app: string, c: Component): Record<string, unknown> {
  const p = c.properties;
  const out: Record<string, unknown> = {};
  if (p.image !== undefined) out['image'] = p.image;
  if (p.application !== undefined) out['application'] = { name: p.application.name, component: p.application.component };
  out['id'] = p.application === undefined ? componentId(app, c) : componentId(p.application.name, { name: p.application.component, properties: {} });
  return out;
}

const COMPONENT_FIELDS = ['image', 'application', 'id', 'config', 'secrets'] as const;

function componentFields(c: Component): Record<(typeof COMPONENT_FIELDS)[number], unknown> {
  const p = c.properties;
  return { image: p.image, application: p.application, id: p.id, config: p.config, secrets: p.secrets };
}

function fieldChanges<K extends string>(keys: readonly K[], a: Record<K, unknown>, b: Record<K, unknown>): PlanFieldChange[] {
  const out: PlanFieldChange[] = [];
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (canonicalJson(x ?? null) === canonicalJson(y ?? null)) continue;
    out.push({ field: k, ...(x !== undefined ? { before: x } : {}), ...(y !== undefined ? { after: y } : {}) });
  }
  return out;
}

function componentChanges(app: string, before: Manifest | undefined, after: Manifest): PlanChange[] {
  const out: PlanChange[] = [];
  const old = new Map((before?.spec.components ?? []).map((c) => [c.name, c]));
  const cur = new Map(after.spec.components.map((c) => [c.name, c]));
  for (const name of [...new Set([...old.keys(), ...cur.keys()])].sort(byString)) {
    const a = old.get(name);
    const b = cur.get(name);
    if (a && b && workloadKind(a) === workloadKind(b)) {
      const fields = fieldChanges(COMPONENT_FIELDS, componentFields(a), componentFields(b));
      if (fields.length > 0) out.push({ kind: workloadKind(b), op: 'change', id: name, before: componentView(app, a), after: componentView(app, b), fields });
      continue;
    }
    if (a) out.push({ kind: workloadKind(a), op: 'remove', id: name, before: componentView(app, a) });
    if (b) out.push({ kind: workloadKind(b), op: 'add', id: name, after: componentView(app, b) });
  }
  return out;
}

// ---- links and configs (from the planner's desired state) ----

function linkView(l: LinkDef): Record<string, unknown> {
  return { ...copyLink(l) };
}

const LINK_FIELDS = ['interfaces', 'source_config', 'target_config'] as const;

function desiredLinks(specs: ReturnType<typeof desiredOf> | undefined): Map<string, LinkDef> {
  const out = new Map<string, LinkDef>();
  for (const s of specs?.scalers ?? []) {
    if (s.type !== 'link') continue;
    const l = (s as LinkSpec).link;
    const k = linkIdentity(l.source_id, l.wit_namespace, l.wit_package, l.name, l.target);
    if (!out.has(k)) out.set(k, l);
  }
  return out;
}

function linkChanges(before: ReturnType<typeof desiredOf> | undefined, after: ReturnType<typeof desiredOf>): PlanChange[] {
  const a = desiredLinks(before);
  const b = desiredLinks(after);
  const out: PlanChange[] = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort(byString)) {
    const x = a.get(k);
    const y = b.get(k);
    if (x && y) {
      const fields = fieldChanges(LINK_FIELDS, { interfaces: [...x.interfaces].sort(), source_config: x.source_config, target_config: x.target_config }, { interfaces: [...y.interfaces].sort(), source_config: y.source_config, target_config: y.target_config });
      if (fields.length > 0) out.push({ kind: 'link', op: 'change', id: linkLabel(y), before: linkView(x), after: linkView(y), fields });
    } else if (x) out.push({ kind: 'link', op: 'remove', id: linkLabel(x), before: linkView(x) });
    else if (y) out.push({ kind: 'link', op: 'add', id: linkLabel(y), after: linkView(y) });
  }
  return out;
}

function configChanges(before: ReturnType<typeof desiredOf> | undefined, after: ReturnType<typeof desiredOf>): PlanChange[] {
  const a = before?.managedConfigs ?? new Map<string, Record<string, string>>();
  const b = after.managedConfigs;
  const out: PlanChange[] = [];
  for (const name of [...new Set([...a.keys(), ...b.keys()])].sort(byString)) {
    const x = a.get(name);
    const y = b.get(name);
    if (x && y) {
      const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort(byString).filter((k) => x[k] !== y[k]);
      if (keys.length > 0) out.push({ kind: 'config', op: 'change', id: name, before: { keys: Object.keys(x).sort(byString) }, after: { keys: Object.keys(y).sort(byString) }, fields: keys.map((field) => ({ field })) });
    } else if (x) out.push({ kind: 'config', op: 'remove', id: name, before: { keys: Object.keys(x).sort(byString) } });
    else if (y) out.push({ kind: 'config', op: 'add', id: name, after: { keys: Object.keys(y).sort(byString) } });
  }
  return out;
}

// ---- scalers: instances per spread, running vs declared ----

interface SpreadCount {
  id: string;
  component: string;
  spread: string;
  workload: 'component' | 'provider';
  entity: string;
  declared: number;
  requirements: Record<string, string>;
}

function spreadCounts(app: string, m: Manifest, d: ReturnType<typeof desiredOf>, observed: ObservedIndex): Map<string, SpreadCount> {
  const nameOf = new Map<string, string>();
  for (const c of m.spec.components) if (c.properties.image !== undefined) nameOf.set(componentId(app, c), c.name);
  const out = new Map<string, SpreadCount>();
  for (const s of d.scalers) {
    if (s.type !== 'workload') continue;
    const w = s as WorkloadSpec;
    const component = nameOf.get(w.name) ?? w.name;
    const trait = w.mode === 'daemon' ? 'daemonscaler' : 'spreadscaler';
    for (const sp of w.spreads) {
      const id = `${component}/${trait}/${sp.name}`;
      if (out.has(id)) continue;
      const declared = w.mode === 'daemon' ? sp.target * observed.hosts.filter((h) => isEligible(h.labels, sp.requirements)).length : sp.target;
      out.set(id, { id, component, spread: sp.name, workload: w.workload, entity: w.name, declared, requirements: sp.requirements });
    }
  }
  return out;
}

/** Instances of the app's `entity` in `spread` running now (components: max_instances; providers: 1 per host). */
function running(app: string, c: Pick<SpreadCount, 'workload' | 'entity' | 'spread'>, observed: ObservedIndex): number {
  let n = 0;
  for (const i of observed.instances[c.workload].get(c.entity)?.values() ?? []) {
    if (i.annotations[MANAGED_BY_KEY] !== MANAGED_BY_VALUE || i.annotations[APPSPEC_KEY] !== app) continue;
    if ((i.annotations[SPREAD_KEY] ?? '') !== c.spread) continue;
    n += i.count;
  }
  return n;
}

function scalerChanges(app: string, before: { m: Manifest; d: ReturnType<typeof desiredOf> } | undefined, after: { m: Manifest; d: ReturnType<typeof desiredOf> }, observed: ObservedIndex): PlanChange[] {
  const a = before ? spreadCounts(app, before.m, before.d, observed) : new Map<string, SpreadCount>();
  const b = spreadCounts(app, after.m, after.d, observed);
  const out: PlanChange[] = [];
  for (const id of [...new Set([...a.keys(), ...b.keys()])].sort(byString)) {
    const x = a.get(id);
    const y = b.get(id);
    const ref = (y ?? x)!;
    const now = running(app, ref, observed);
    const want = y?.declared ?? 0;
    // A spread kept with other requirements moves its instances even when the count stays.
    const fields = x && y ? fieldChanges(['requirements'], { requirements: x.requirements }, { requirements: y.requirements }) : [];
    if (now === want && fields.length === 0) continue;
    out.push({
      kind: 'scaler',
      op: !x ? 'add' : !y ? 'remove' : 'change',
      id,
      component: ref.component,
      spread: ref.spread,
      before: { instances: now },
      after: { instances: want },
      ...(fields.length > 0 ? { fields } : {}),
    });
  }
  return out;
}

/** Every change deploying `candidate` would make to `deployed` (null: not deployed), in a stable order. */
export function diffApp(deployed: DeployedApp | null, candidate: DeployedApp, ctx: DiffContext): PlanChange[] {
  const apps = new Map((ctx.others ?? []).filter((o) => o.name !== candidate.name).map((o) => [o.name, o]));
  const withApp = (a: DeployedApp): Map<string, DeployedApp> => new Map([...apps, [a.name, a]]);
  const dBefore = deployed ? desiredOf(deployed, withApp(deployed)) : undefined;
  const dAfter = desiredOf(candidate, withApp(candidate));
  const observed = indexObserved(ctx.observed);
  return [
    ...componentChanges(candidate.name, deployed?.manifest, candidate.manifest),
    ...linkChanges(dBefore, dAfter),
    ...configChanges(dBefore, dAfter),
    ...scalerChanges(candidate.name, deployed && dBefore ? { m: deployed.manifest, d: dBefore } : undefined, { m: candidate.manifest, d: dAfter }, observed),
  ];
}

/** One line per command: what it acts on and how (config values are left out). */
export function summarizeCommand(c: Command): PlanCommand {
  switch (c.kind) {
    case 'ScaleComponent':
      return { kind: c.kind, ctl: 'component.scale', host_id: c.host_id, target: c.component_id, detail: c.count === 0 ? `stop (${c.reference})` : `max_instances ${c.count} (${c.reference})` };
    case 'UpdateComponent':
      return { kind: c.kind, ctl: 'component.update', host_id: c.host_id, target: c.component_id, detail: `update to ${c.new_component_ref}` };
    case 'StartProvider':
      return { kind: c.kind, ctl: 'provider.start', host_id: c.host_id, target: c.provider_id, detail: `start ${c.reference}` };
    case 'StopProvider':
      return { kind: c.kind, ctl: 'provider.stop', host_id: c.host_id, target: c.provider_id, detail: 'stop' };
    case 'PutLink':
      return { kind: c.kind, ctl: 'link.put', target: linkLabel(c), detail: `interfaces ${[...c.interfaces].join(',')}` };
    case 'DeleteLink':
      return { kind: c.kind, ctl: 'link.del', target: linkLabel({ ...c, name: c.link_name }), detail: 'delete' };
    case 'PutConfig':
      return { kind: c.kind, ctl: 'config.put', target: c.config_name, detail: `keys ${Object.keys(c.config).sort(byString).join(',')}` };
    case 'DeleteConfig':
      return { kind: c.kind, ctl: 'config.del', target: c.config_name, detail: 'delete' };
  }
}

/**
 * The changes and the commands of deploying `input.candidate` now. As in a reconcile pass, a lattice
 * without live hosts gets no commands, and in-flight entries already done are settled first.
 */
export function planApp(input: AppPlanInput): AppPlan {
  const { app, deployed, candidate, others, ...rest } = input;
  const changes = diffApp(deployed, candidate, { observed: input.observed, others });
  const apps = [...others.filter((o) => o.name !== app), { ...candidate, name: app }];
  let raw: Command[] = [];
  if (input.observed.hosts.some((h) => !h.deleted)) {
    const { live, expired } = settleInflight(input.inflight, input.observed, input.now);
    raw = planLattice({ ...rest, apps, inflight: live, ...(expired.length > 0 ? { expired } : {}) }).commands.filter((c) => c.model_name === app);
  }
  return { changes, commands: raw.map(summarizeCommand), raw };
}
