/**
 * The component rules of `validate_manifest` (docs/wire/manifest.md §2.2): R8 secrets reference secret
 * policies, R9 built-in trait types have their shape, R10 image xor application.
 */
import { isScalerType, LINK_TRAIT, linkToJson } from './traits.js';
import { SECRET_POLICY_TYPE, type Component, type Manifest, type SecretProperty, type ValidationFailure } from './types.js';
import { error, sortedJson, type TraitEntry } from './validate-format.js';

// R8: secrets reference secret policies

/** Component secrets, then `target.secrets` and `source.secrets` of its link-shaped traits (any type). */
function secretsOf(c: Component, traits: readonly TraitEntry[]): SecretProperty[] {
  const out = [...(c.properties.secrets ?? [])];
  for (const t of traits) {
    if (t.component !== c || t.shape.shape !== 'link') continue;
    out.push(...(t.shape.link.target.secrets ?? []), ...(t.shape.link.source?.secrets ?? []));
  }
  return out;
}

export function checkSecretPolicies(m: Manifest, traits: readonly TraitEntry[]): ValidationFailure[] {
  // Duplicate policy names: the last one wins.
  const policies = new Map((m.spec.policies ?? []).map((p) => [p.name, p]));
  return m.spec.components.flatMap((c) =>
    secretsOf(c, traits).flatMap((s): ValidationFailure[] => {
      const policyName = s.properties.policy;
      const policy = policies.get(policyName);
      const prefix = `secret '${s.name}' is mapped to`;
      if (!policy) return [error(`${prefix} unknown policy '${policyName}'`)];
      if (policy.type !== SECRET_POLICY_TYPE) {
        return [error(`${prefix} policy '${policyName}' which is not a secret policy. Expected type '${SECRET_POLICY_TYPE}'`)];
      }
      if (!Object.hasOwn(policy.properties, 'backend')) {
        return [error(`${prefix} policy '${policyName}' which does not include a 'backend' property`)];
      }
      return [];
    }),
  );
}

// R9: built-in trait types must have their shape

export function checkTraitShapes(traits: readonly TraitEntry[]): ValidationFailure[] {
  return traits.flatMap(({ trait, shape }) => {
    if (trait.type === LINK_TRAIT && shape.shape === 'custom') {
      return [error(`Link trait deserialized as custom trait, ensure fields are correct: ${sortedJson(shape.body)}`)];
    }
    // wadm flags only custom bodies; a link-shaped body on a scaler trait is just as wrong, so it is flagged too.
    if (isScalerType(trait.type) && shape.shape !== 'scaler') {
      const body = shape.shape === 'link' ? linkToJson(shape.link) : shape.body;
      return [error(`Scaler trait deserialized as custom trait, ensure fields are correct: ${sortedJson(body)}`)];
    }
    return [];
  });
}

// R10: image xor application; shared references carry nothing else (one failure per component)

export function checkComponentSource(c: Component): ValidationFailure[] {
  const { image, application, config, secrets } = c.properties;
  if (image !== undefined && application !== undefined) return [error(`Component cannot have both 'image' and 'application' properties`)];
  if (image === undefined && application === undefined) return [error(`Component must have either 'image' or 'application' property`)];
  if (application === undefined) return [];
  const shared = `Shared component '${application.name}' cannot`;
  if ((config ?? []).length > 0) return [error(`${shared} specify additional 'config'`)];
  if ((secrets ?? []).length > 0) return [error(`${shared} specify additional 'secrets'`)];
  if ((c.traits ?? []).some((t) => isScalerType(t.type))) return [error(`${shared} include a scaler trait`)];
  return [];
}
