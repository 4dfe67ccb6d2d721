/**
 * Config and secret references (docs/wire/behaviour.md §4 naming, §5.7): a config with `properties` is
 * wadm-managed (`{manifest}-{name}`), one without is external and must exist; a secret becomes the
 * wadm-managed config `SECRET_{manifest}-{name}` describing where to fetch it.
 */
import {
  managedConfigName,
  secretConfigName,
  type ConfigProperty,
  type Policy,
  type SecretProperty,
} from '@wadm-ts/model';
import { configDigest } from '@wadm-ts/protocol';

export const SECRET_TYPE = 'secret.wasmcloud.dev/v1alpha1';
export const SECRET_POLICY_PROPERTIES_TYPE = 'properties.secret.wasmcloud.dev/v1alpha1';

export interface ConfigRef {
  /** The config name as hosts know it. */
  name: string;
  /** Values wadm writes (managed configs and secrets); absent for an external config. */
  values?: Record<string, string>;
  /** Why the reference cannot be satisfied (e.g. a secret whose policy is missing). */
  error?: string;
}

/** The config map of a secret reference (wasmcloud-secrets-types `SecretConfig` as a string map). */
export function secretConfigValues(secret: SecretProperty, policy: Policy): Record<string, string> | string {
  const { backend, ...rest } = policy.properties;
  if (backend === undefined) return 'policy did not have a backend property';
  const properties: Record<string, string> = {};
  for (const k of Object.keys(rest).sort()) properties[k] = rest[k]!;
  const out: Record<string, string> = {
    name: secret.name,
    type: SECRET_TYPE,
    backend,
    key: secret.properties.key,
    policy: JSON.stringify({ type: SECRET_POLICY_PROPERTIES_TYPE, properties }),
  };
  if (secret.properties.field !== undefined) out['field'] = secret.properties.field;
  if (secret.properties.version !== undefined) out['version'] = secret.properties.version;
  return out;
}

/** Config names in wadm's order: configs, then secrets. */
export function configRefs(
  app: string,
  configs: readonly ConfigProperty[] | undefined,
  secrets: readonly SecretProperty[] | undefined,
  policies: readonly Policy[] | undefined,
): ConfigRef[] {
  const out: ConfigRef[] = [];
  for (const c of configs ?? []) {
    out.push(c.properties ? { name: managedConfigName(app, c.name), values: { ...c.properties } } : { name: c.name });
  }
  for (const s of secrets ?? []) {
    const name = secretConfigName(app, s.name);
    const policy = (policies ?? []).find((p) => p.name === s.properties.policy);
    if (!policy) {
      out.push({ name, error: `Secret ${s.name} refers to policy ${s.properties.policy}, which does not exist` });
      continue;
    }
    const v = secretConfigValues(s, policy);
    out.push(typeof v === 'string' ? { name, error: `Secret ${s.name}: ${v}` } : { name, values: v });
  }
  return out;
}

/** Hash of a config's values (what `AppliedRecord.configs` remembers). */
export function configHash(values: Record<string, string>): string {
  // The digest lattice state keeps for a queried config (drift is a difference between the two).
  return configDigest(values);
}

export interface ConfigGate {
  /** Every referenced config exists: commands that need them may be issued. */
  ready: boolean;
  failures: string[];
  waiting: string[];
}

/**
 * Whether the configs a scaler references allow its commands now. `observed`: config names present in
 * the lattice; `beingPut`: managed configs this plan writes (or has in flight).
 */
export function configGate(refs: readonly ConfigRef[], observed: ReadonlySet<string>, beingPut: ReadonlySet<string>): ConfigGate {
  const failures: string[] = [];
  const waiting: string[] = [];
  let ready = true;
  for (const r of refs) {
    if (r.error !== undefined) {
      failures.push(r.error);
      ready = false;
    } else if (!observed.has(r.name)) {
      ready = false;
      if (r.values === undefined) failures.push(`Specified configuration ${r.name} does not exist`);
      else waiting.push(`Waiting for configuration ${r.name}`);
    } else if (r.values !== undefined && beingPut.has(r.name)) {
      waiting.push('Configuration out of sync');
    }
  }
  return { ready, failures, waiting: [...new Set(waiting)] };
}
