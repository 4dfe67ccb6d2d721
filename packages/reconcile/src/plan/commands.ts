/** Command constructors. Components and providers share one `WorkloadOps` interface. */
import { APPSPEC_KEY } from '@wadm-ts/protocol';
import type { LinkDef } from '@wadm-ts/protocol';
import type { Command } from '../types.js';
import type { Workload, WorkloadSpec } from './desired.js';
import { managedAnnotations, scalerAnnotations } from './ids.js';
import type { Instance } from './observed.js';

export interface WorkloadOps {
  /** Run the scaler's instance for `spread` on `host` with `count` (components: absolute max_instances). */
  place(spec: WorkloadSpec, host: string, spread: string, count: number): Command;
  /** Remove a running instance (whoever's scaler it was: the command names the instance's app). */
  remove(i: Instance, fallbackApp: string): Command;
  /** Per-host count is meaningful (components); providers always run one. */
  counted: boolean;
  noun: string;
}

const removalApp = (i: Instance, fallback: string): string => i.annotations[APPSPEC_KEY] ?? fallback;

const componentOps: WorkloadOps = {
  place: (spec, host, spread, count) => ({
    kind: 'ScaleComponent',
    component_id: spec.name,
    host_id: host,
    count,
    reference: spec.image,
    model_name: spec.app,
    annotations: scalerAnnotations(spec.app, spec.id, spread),
    config: spec.configs.map((r) => r.name),
  }),
  remove: (i, fallback) => {
    const app = removalApp(i, fallback);
    return {
      kind: 'ScaleComponent',
      component_id: i.id,
      host_id: i.hostId,
      count: 0,
      reference: i.imageRef,
      model_name: app,
      annotations: managedAnnotations(app),
      config: [],
    };
  },
  counted: true,
  noun: 'component',
};

const providerOps: WorkloadOps = {
  place: (spec, host, spread) => ({
    kind: 'StartProvider',
    provider_id: spec.name,
    host_id: host,
    reference: spec.image,
    model_name: spec.app,
    annotations: scalerAnnotations(spec.app, spec.id, spread),
    config: spec.configs.map((r) => r.name),
  }),
  remove: (i, fallback) => ({ kind: 'StopProvider', provider_id: i.id, host_id: i.hostId, model_name: removalApp(i, fallback) }),
  counted: false,
  noun: 'provider',
};

/** Update a running component to the scaler's image in place, handing it the scaler's annotations for `spread`. */
export function updateComponent(spec: WorkloadSpec, i: Instance, spread: string): Command {
  return {
    kind: 'UpdateComponent',
    component_id: i.id,
    host_id: i.hostId,
    new_component_ref: spec.image,
    model_name: spec.app,
    annotations: scalerAnnotations(spec.app, spec.id, spread),
  };
}

export function opsFor(w: Workload): WorkloadOps {
  return w === 'component' ? componentOps : providerOps;
}

/** The link a PutLink command writes (the wire `Link` of link.put). */
export function linkOf(c: Extract<Command, { kind: 'PutLink' }>): LinkDef {
  return {
    source_id: c.source_id,
    target: c.target,
    name: c.name,
    wit_namespace: c.wit_namespace,
    wit_package: c.wit_package,
    interfaces: c.interfaces,
    source_config: c.source_config,
    target_config: c.target_config,
  };
}

/** A copy of a link definition (its lists copied too), in the wire `Link`'s field order. */
export function copyLink(l: LinkDef): LinkDef {
  return {
    source_id: l.source_id,
    target: l.target,
    name: l.name,
    wit_namespace: l.wit_namespace,
    wit_package: l.wit_package,
    interfaces: [...l.interfaces],
    source_config: [...l.source_config],
    target_config: [...l.target_config],
  };
}

export function putLink(app: string, l: LinkDef): Command {
  return { kind: 'PutLink', ...copyLink(l), model_name: app };
}

/** Delete the link `l` names (its target only says which link is meant: `link.del` sends none). */
export function deleteLink(app: string, l: { source_id: string; wit_namespace: string; wit_package: string; name: string; target: string }): Command {
  return { kind: 'DeleteLink', source_id: l.source_id, link_name: l.name, wit_namespace: l.wit_namespace, wit_package: l.wit_package, model_name: app, target: l.target };
}

export function putConfig(app: string, name: string, values: Record<string, string>): Command {
  return { kind: 'PutConfig', config_name: name, config: { ...values }, model_name: app };
}

export function deleteConfig(app: string, name: string): Command {
  return { kind: 'DeleteConfig', config_name: name, model_name: app };
}
