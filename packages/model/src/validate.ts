/**
 * `validate_manifest` of wadm (docs/wire/manifest.md §2.2): rules R1..R12 in wadm's evaluation order, every
 * failure reported (the put handler rejects with the first error). Messages are wadm's, verbatim.
 */
import { checkRolloutPolicies } from './rollout.js';
import { classifyTrait } from './traits.js';
import type { Manifest, ValidationFailure } from './types.js';
import type { TraitEntry } from './validate-format.js';
import { checkCore, checkName, checkVersion } from './validate-metadata.js';
import { checkKnownInterfaces, checkLinkConfigNames, checkDuplicateLinks, checkLinkTargets } from './validate-links.js';
import { checkComponentSource, checkSecretPolicies, checkTraitShapes } from './validate-components.js';

export function hasErrors(failures: readonly ValidationFailure[]): boolean {
  return failures.some((f) => f.level === 'error');
}

/** The failure the put handler replies with (its `msg`, verbatim), if any. */
export function firstError(failures: readonly ValidationFailure[]): ValidationFailure | undefined {
  return failures.find((f) => f.level === 'error');
}

export function validateManifest(m: Manifest): ValidationFailure[] {
  const traits: TraitEntry[] = m.spec.components.flatMap((component) =>
    (component.traits ?? []).map((trait) => ({ component, trait, shape: classifyTrait(trait) })),
  );
  return [
    ...checkName(m),
    ...checkVersion(m),
    ...checkCore(m, traits),
    ...checkKnownInterfaces(traits),
    ...checkLinkTargets(m, traits),
    ...checkSecretPolicies(m, traits),
    ...checkTraitShapes(traits),
    ...m.spec.components.flatMap(checkComponentSource),
    ...checkDuplicateLinks(traits),
    ...checkLinkConfigNames(traits),
    ...checkRolloutPolicies(m),
  ];
}
