/**
 * Test-only helpers for the pure planner: a tiny simulator of what commands do to the observed lattice
 * (as the hosts + ingest would record it), and a convergence driver. No NATS, no clock.
 */
import assert from 'node:assert/strict';
import { parseManifest, type Manifest } from '@wadm-ts/model';
import { APPSPEC_KEY as APPSPEC, MANAGED_BY_KEY as MANAGED_BY, SCALER_KEY as SCALER, SPREAD_KEY as SPREAD } from '@wadm-ts/protocol';
import { stateKeys} from '@wadm-ts/store';
import { planLattice } from '../src/plan/index.js';
import type { AppliedRecord, Command, DeployedApp, InFlight, ObservedLattice, PlanOutput } from '../src/types.js';
import type { ComponentEntity, ConfigEntity, FailureEntity, HostEntity, LinkEntity, ProviderEntity } from '@wadm-ts/entities';

export { APPSPEC, MANAGED_BY, SCALER, SPREAD };
export const LINK_CONFLICT = 'link already exists with different target, consider deleting the existing link or using a different link name';

export function host(id: string, labels: Record<string, string> = {}): HostEntity {
  return { kind: 'host', id, friendlyName: id, labels, version: '1.9.0', uptimeSeconds: 1, lastSeen: 0, seq: 0 };
}

export function observedWith(hosts: HostEntity[], extra: Partial<ObservedLattice> = {}): ObservedLattice {
  return { hosts, components: [], providers: [], links: [], configs: [], failures: [], ...extra };
}

export function manifest(yaml: string): Manifest {
  const r = parseManifest(yaml);
  if (!r.ok) throw new Error(r.error);
  return r.manifest;
}

export function deployed(yaml: string, version = 'v1'): DeployedApp {
  const m = manifest(yaml);
  return { name: m.metadata.name, version, manifest: m };
}

export function componentState(hostId: string, componentId: string, imageRef: string, maxInstances: number, annotations: Record<string, string>): ComponentEntity {
  return { kind: 'component', hostId, componentId, imageRef, maxInstances, annotations, seq: 0 };
}

export function providerState(hostId: string, providerId: string, imageRef: string, annotations: Record<string, string>, health: ProviderEntity['health'] = 'unknown'): ProviderEntity {
  return { kind: 'provider', hostId, providerId, imageRef, annotations, health, seq: 0 };
}

export function configState(name: string): ConfigEntity {
  return { kind: 'config', name, seq: 0 };
}

/**
 * The effect of commands on the observed lattice, the way a wasmCloud 1.x host and our ingest record it:
 * a re-scale of a running component keeps its annotations and image (§3.4); a scale that needs a config
 * that does not exist fails; starting a provider that already runs does nothing.
 */
export function applyToObserved(o: ObservedLattice, commands: readonly Command[], configValues?: Map<string, Record<string, string>>): ObservedLattice {
  const next: ObservedLattice = {
    hosts: [...o.hosts],
    components: [...o.components],
    providers: [...o.providers],
    links: [...o.links],
    configs: [...o.configs],
    failures: [...o.failures],
  };
  const hasConfig = (n: string): boolean => next.configs.some((c) => c.name === n);
  for (const c of commands) {
    switch (c.kind) {
      case 'ScaleComponent': {
        const i = next.components.findIndex((x) => x.hostId === c.host_id && x.componentId === c.component_id);
        if (c.count === 0) {
          if (i >= 0) next.components.splice(i, 1);
        } else if (!c.config.every(hasConfig)) {
          next.failures.push({ kind: 'failure', what: 'component', subject: c.component_id, hostId: c.host_id, error: 'missing config', at: 0, seq: 0 });
        } else if (i >= 0) {
          next.components[i] = { ...next.components[i]!, maxInstances: c.count };
        } else {
          next.components.push(componentState(c.host_id, c.component_id, c.reference, c.count, { ...c.annotations }));
        }
        break;
      }
      case 'UpdateComponent': {
        // As a host: same max_instances and config, the new image, the request's annotations.
        const i = next.components.findIndex((x) => x.hostId === c.host_id && x.componentId === c.component_id);
        if (i >= 0) next.components[i] = { ...next.components[i]!, imageRef: c.new_component_ref, annotations: { ...c.annotations } };
        break;
      }
      case 'StartProvider':
        assert.ok(c.config.every(hasConfig), `provider ${c.provider_id} started before its config`);
        if (!next.providers.some((x) => x.hostId === c.host_id && x.providerId === c.provider_id)) {
          next.providers.push(providerState(c.host_id, c.provider_id, c.reference, { ...c.annotations }));
        }
        break;
      case 'StopProvider':
        next.providers = next.providers.filter((x) => !(x.hostId === c.host_id && x.providerId === c.provider_id));
        break;
      case 'PutLink': {
        assert.ok([...c.source_config, ...c.target_config].every(hasConfig), `link ${c.source_id} put before its config`);
        const link = {
          source_id: c.source_id,
          target: c.target,
          name: c.name,
          wit_namespace: c.wit_namespace,
          wit_package: c.wit_package,
          interfaces: [...c.interfaces],
          source_config: [...c.source_config],
          target_config: [...c.target_config],
        };
        // As a host (docs/wire/control-interface.md §3.9): a link of the same name to another target on an overlapping
        // interface makes the put fail; the link with the same identity is replaced, else one appended.
        const conflict = next.links.some(
          (x) => sameKey(x, c.source_id, c.wit_namespace, c.wit_package, c.name) && x.link.target !== c.target && x.link.interfaces.some((i) => c.interfaces.includes(i)),
        );
        if (conflict) {
          next.failures.push({ kind: 'failure', what: 'link', subject: stateKeys.link({ lattice: 'default' }, c.source_id, c.wit_namespace, c.wit_package, c.name, c.target), error: LINK_CONFLICT, at: 0, seq: 0 });
          break;
        }
        const i = next.links.findIndex((x) => sameKey(x, c.source_id, c.wit_namespace, c.wit_package, c.name) && x.link.target === c.target);
        if (i >= 0) next.links[i] = { kind: 'link', link, seq: 0 };
        else next.links.push({ kind: 'link', link, seq: 0 } satisfies LinkEntity);
        break;
      }
      case 'DeleteLink': {
        // The first link of that name, whatever its target (the request names none); Vec::swap_remove.
        const i = next.links.findIndex((x) => sameKey(x, c.source_id, c.wit_namespace, c.wit_package, c.link_name));
        if (i >= 0) {
          const last = next.links.pop()!;
          if (i < next.links.length) next.links[i] = last;
        }
        break;
      }
      case 'PutConfig':
        if (!hasConfig(c.config_name)) next.configs.push(configState(c.config_name));
        configValues?.set(c.config_name, { ...c.config });
        break;
      case 'DeleteConfig':
        next.configs = next.configs.filter((x) => x.name !== c.config_name);
        configValues?.delete(c.config_name);
        break;
    }
  }
  return next;
}

function sameKey(l: LinkEntity, source: string, ns: string, pkg: string, name: string): boolean {
  return l.link.source_id === source && l.link.wit_namespace === ns && l.link.wit_package === pkg && l.link.name === name;
}

/** A lattice driven to convergence by the planner, one plan-apply round at a time. */
export class Sim {
  observed: ObservedLattice;
  applied: AppliedRecord[] = [];
  apps: DeployedApp[] = [];
  readonly configValues = new Map<string, Record<string, string>>();
  readonly history: PlanOutput[] = [];
  now = 1_000_000;
  /** 0 here: what these scenarios observe is never behind the hosts (the runtime uses a grace; see AppliedRecord.unseen). */
  unseenGraceMs = 0;

  constructor(hosts: HostEntity[]) {
    this.observed = observedWith(hosts);
  }

  plan(inflight: InFlight[] = []): PlanOutput {
    return planLattice({ lattice: 'default', now: this.now, apps: this.apps, applied: this.applied, observed: this.observed, inflight, unseenGraceMs: this.unseenGraceMs });
  }

  /** One round: plan, apply the commands, remember the applied records. */
  step(): PlanOutput {
    const p = this.plan();
    this.history.push(p);
    this.observed = applyToObserved(this.observed, p.commands, this.configValues);
    this.applied = p.applied;
    this.now += 1000;
    return p;
  }

  /** Rounds until a plan has no commands; returns that final plan and the number of rounds with commands. */
  converge(maxRounds = 8): { final: PlanOutput; rounds: number } {
    for (let rounds = 0; rounds <= maxRounds; rounds++) {
      const p = this.step();
      if (p.commands.length === 0) {
        // Level-triggered: planning again changes nothing.
        assert.deepEqual(this.plan(), p);
        return { final: p, rounds };
      }
    }
    throw new Error(`no convergence within ${maxRounds} rounds: ${JSON.stringify(this.history.at(-1)?.commands)}`);
  }

  deploy(yaml: string, version = 'v1'): DeployedApp {
    const a = deployed(yaml, version);
    this.apps = [...this.apps.filter((x) => x.name !== a.name), a];
    return a;
  }

  undeploy(name: string): void {
    this.apps = this.apps.filter((x) => x.name !== name);
  }

  /** Σ max_instances of components with this image (and app, if given) — docs/wire/scenarios.md `check_components`. */
  componentSum(image: string, app?: string): number {
    return this.observed.components
      .filter((c) => c.imageRef === image && (app === undefined || c.annotations[APPSPEC] === app))
      .reduce((n, c) => n + c.maxInstances, 0);
  }

  /** wadm-managed providers with this image — docs/wire/scenarios.md `check_providers`. */
  providerCount(image: string): number {
    return this.observed.providers.filter((p) => p.imageRef === image && p.annotations[MANAGED_BY] === 'wadm').length;
  }

  link(source: string, target: string): LinkEntity['link'] | undefined {
    return this.observed.links.find((l) => l.link.source_id === source && l.link.target === target)?.link;
  }

  failure(f: Omit<FailureEntity, 'kind' | 'seq'>): void {
    this.observed = { ...this.observed, failures: [...this.observed.failures, { kind: 'failure', seq: 0, ...f }] };
  }
}

/** Nothing is left in the lattice: no component, provider, link or config (e.g. after an undeploy). */
export function assertNothingObserved(o: ObservedLattice): void {
  assert.deepEqual(o.components, []);
  assert.deepEqual(o.providers, []);
  assert.deepEqual(o.links, []);
  assert.deepEqual(o.configs, []);
}

export function kinds(cmds: readonly Command[]): string[] {
  return cmds.map((c) => c.kind);
}
