/**
 * Test data shared by the planner tests: image references, a lattice of hosts, pieces of OAM manifests
 * (YAML text, concatenated: `appHeader(name) + component(...) + capability(...)`) and the input of a
 * single plan outside the simulator.
 */
import type { DeployedApp, PlanInput } from '../src/types.js';
import { host, observedWith } from './plan-sim.js';
import type { HostEntity } from '@wadm-ts/entities';

export const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
export const HTTP = 'ghcr.io/wasmcloud/http-server:0.23.0';

/** Two hosts on each US coast and one on the moon (label `region`), as in the wadm e2e tests. */
export const fiveHosts = (): HostEntity[] => [
  host('e1', { region: 'us-brooks-east' }),
  host('e2', { region: 'us-brooks-east' }),
  host('w1', { region: 'us-taylor-west' }),
  host('w2', { region: 'us-taylor-west' }),
  host('m1', { region: 'moon' }),
];

/** A manifest up to `components:`, with `annotations` (a YAML flow mapping); the component items follow. */
export const appHeader = (name: string, annotations = '{}'): string => `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: ${name}, annotations: ${annotations} }
spec:
  components:`;

const workload =
  (type: 'component' | 'capability') =>
  (name: string, image: string, instances: number, props = '', traits = ''): string => `
    - name: ${name}
      type: ${type}
      properties: { image: ${image}${props} }
      traits:
        - type: spreadscaler
          properties: { instances: ${instances} }${traits}`;

/**
 * A component item with a spreadscaler of `instances`; `props` continues its properties
 * (e.g. `, id: x`), `traits` adds trait items (e.g. `httpLink(...)`).
 */
export const component = workload('component');
/** The same as `component`, for a provider. */
export const capability = workload('capability');

/**
 * A link trait to `target` on wasi:http/incoming-handler, with a link `name` if given and, if `config`
 * is given, a source config of that name holding `address`.
 */
export function httpLink(target: string, opts: { name?: string; config?: string; address?: string } = {}): string {
  const name = opts.name === undefined ? '' : `\n            name: ${opts.name}`;
  const source =
    opts.config === undefined
      ? ''
      : `
            source:
              config:
                - name: ${opts.config}
                  properties: { address: '${opts.address}' }`;
  return `
        - type: link
          properties:${name}
            target: { name: ${target} }
            namespace: wasi
            package: http
            interfaces: [incoming-handler]${source}`;
}

/** The input of one plan of `apps` on lattice `l` at time 0, one host `h1`, nothing applied or in flight; `over` replaces fields. */
export function planInput(apps: DeployedApp[], over: Partial<PlanInput> = {}): PlanInput {
  return { lattice: 'l', now: 0, apps, applied: [], observed: observedWith([host('h1')]), inflight: [], ...over };
}
