/**
 * The OAM manifest as wadm-ts holds it after parsing: plain JSON data in the *normalised* form
 * (`actor` -> `component`, `replicas` -> `instances`, legacy link `target: "x"` / `source_config` /
 * `target_config` -> structured `target` / `source`). Trait bodies stay plain JSON; use
 * `classifyTrait` (traits.ts) to see them as link / scaler / custom.
 */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  spec: Specification;
}

export interface Metadata {
  name: string;
  annotations: Record<string, string>;
  labels?: Record<string, string>;
}

export interface Specification {
  components: Component[];
  policies?: Policy[];
}

export interface Policy {
  name: string;
  type: string;
  properties: Record<string, string>;
}

export type ComponentType = 'component' | 'capability';

export interface Component {
  name: string;
  type: ComponentType;
  properties: ComponentProperties;
  /** Absent and `[]` are distinct on the wire (an explicit `[]` is kept). */
  traits?: Trait[];
}

export interface SharedApplicationRef {
  name: string;
  component: string;
}

export interface ComponentProperties {
  image?: string;
  application?: SharedApplicationRef;
  id?: string;
  config?: ConfigProperty[];
  secrets?: SecretProperty[];
}

export interface ConfigProperty {
  name: string;
  properties?: Record<string, string>;
}

export interface SecretSourceProperty {
  policy: string;
  key: string;
  field?: string;
  version?: string;
}

export interface SecretProperty {
  name: string;
  properties: SecretSourceProperty;
}

/** JSON value, as found in custom trait bodies. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface Trait {
  type: string;
  /** Normalised link or scaler body, or the custom body exactly as parsed. */
  properties: JsonValue;
}

export interface Spread {
  name: string;
  requirements: Record<string, string>;
  weight?: number;
}

export interface ScalerProperties {
  instances: number;
  spread?: Spread[];
}

export interface LinkTarget {
  name: string;
  config?: ConfigProperty[];
  secrets?: SecretProperty[];
}

export interface LinkSource {
  config?: ConfigProperty[];
  secrets?: SecretProperty[];
}

export interface LinkProperties {
  namespace: string;
  package: string;
  interfaces: string[];
  target: LinkTarget;
  source?: LinkSource;
  name?: string;
}

/** How a trait body decodes, in wadm's order: link shape, then scaler shape, then custom. */
export type TraitShape =
  | { shape: 'link'; link: LinkProperties }
  | { shape: 'scaler'; scaler: ScalerProperties }
  | { shape: 'custom'; body: JsonValue };

export type FailureLevel = 'error' | 'warning';

export interface ValidationFailure {
  level: FailureLevel;
  msg: string;
}

export const SHARED_ANNOTATION = 'experimental.wasmcloud.dev/shared';
export const VERSION_ANNOTATION = 'version';
export const DESCRIPTION_ANNOTATION = 'description';
export const SECRET_POLICY_TYPE = 'policy.secret.wasmcloud.dev/v1alpha1';
export const LATEST_VERSION = 'latest';
