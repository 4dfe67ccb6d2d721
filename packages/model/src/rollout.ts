/**
 * The rollout policy (new in wadm-ts; the Rust wadm accepts any policy and ignores this one, so manifests stay
 * portable): how a version that changes a component's or provider's image replaces the running instances.
 *
 * ```yaml
 * spec:
 *   policies:
 *     - name: rollout        # any name
 *       type: rollout
 *       properties:
 *         maxUnavailable: 1  # instances of a spread that may be down at once (default 1; never all of them)
 *         healthyDeadline: 120  # seconds a new version has to become `deployed` (default 300)
 *         autoRevert: true   # deploy the previous version again when it does not (default false)
 * ```
 *
 * Policy properties are a string map on the wire (YAML scalars arrive as their text), so the values are parsed
 * here and every bad one is a validation error naming the policy and the property.
 */
import type { Manifest, ValidationFailure } from './types.js';

export const ROLLOUT_POLICY_TYPE = 'rollout';
export const DEFAULT_MAX_UNAVAILABLE = 1;
export const DEFAULT_HEALTHY_DEADLINE_S = 300;

export interface RolloutPolicy {
  /** Instances of one spread that may be unavailable at once during a replacement (0: start new before stopping old). */
  maxUnavailable: number;
  /** Time a newly deployed version has to reach `deployed`, in ms. */
  healthyDeadlineMs: number;
  /** Deploy the previously deployed version again when the new one misses its deadline. */
  autoRevert: boolean;
  /** Name of the policy the values came from (absent: the defaults). */
  policy?: string;
}

const KNOWN = ['maxUnavailable', 'healthyDeadline', 'autoRevert'] as const;

function parseNonNegativeInt(v: string): number | undefined {
  return /^\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : undefined;
}

function parsePositiveSeconds(v: string): number | undefined {
  const t = v.trim().replace(/s$/, '');
  if (!/^\d+(\.\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return n > 0 && n <= 86_400 * 7 ? n : undefined;
}

function parseBool(v: string): boolean | undefined {
  const t = v.trim().toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

/** Validation of `type: rollout` policies (errors for bad values and for more than one rollout policy). */
export function checkRolloutPolicies(m: Manifest): ValidationFailure[] {
  const rollouts = (m.spec.policies ?? []).filter((p) => p.type === ROLLOUT_POLICY_TYPE);
  const out: ValidationFailure[] = [];
  if (rollouts.length > 1) {
    out.push({ level: 'error', msg: `only one rollout policy is allowed, found ${rollouts.length}: ${rollouts.map((p) => `'${p.name}'`).join(', ')}` });
  }
  for (const p of rollouts) {
    const props = p.properties;
    const mu = props['maxUnavailable'];
    if (mu !== undefined && parseNonNegativeInt(mu) === undefined) {
      out.push({ level: 'error', msg: `rollout policy '${p.name}': maxUnavailable must be a non-negative integer, got '${mu}'` });
    }
    const hd = props['healthyDeadline'];
    if (hd !== undefined && parsePositiveSeconds(hd) === undefined) {
      out.push({ level: 'error', msg: `rollout policy '${p.name}': healthyDeadline must be a number of seconds above 0 (at most 604800), got '${hd}'` });
    }
    const ar = props['autoRevert'];
    if (ar !== undefined && parseBool(ar) === undefined) {
      out.push({ level: 'error', msg: `rollout policy '${p.name}': autoRevert must be true or false, got '${ar}'` });
    }
    for (const k of Object.keys(props)) {
      if (!(KNOWN as readonly string[]).includes(k)) {
        out.push({ level: 'warning', msg: `rollout policy '${p.name}': unknown property '${k}' is ignored (known: ${KNOWN.join(', ')})` });
      }
    }
  }
  return out;
}

/** The rollout policy of a manifest, defaults filled in (a manifest that failed validation never gets here). */
export function rolloutPolicyOf(m: Manifest): RolloutPolicy {
  const p = (m.spec.policies ?? []).find((x) => x.type === ROLLOUT_POLICY_TYPE);
  const props = p?.properties ?? {};
  const mu = props['maxUnavailable'] !== undefined ? parseNonNegativeInt(props['maxUnavailable']) : undefined;
  const hd = props['healthyDeadline'] !== undefined ? parsePositiveSeconds(props['healthyDeadline']) : undefined;
  const ar = props['autoRevert'] !== undefined ? parseBool(props['autoRevert']) : undefined;
  const policy: RolloutPolicy = {
    maxUnavailable: mu ?? DEFAULT_MAX_UNAVAILABLE,
    healthyDeadlineMs: Math.round((hd ?? DEFAULT_HEALTHY_DEADLINE_S) * 1000),
    autoRevert: ar ?? false,
  };
  if (p) policy.policy = p.name;
  return policy;
}

/**
 * How many instances of a spread of `instances` must keep running during a replacement:
 * `instances - maxUnavailable`, and never below 1 while `instances >= 1`.
 */
export function minAvailable(instances: number, maxUnavailable: number): number {
  if (instances <= 0) return 0;
  return Math.max(1, instances - maxUnavailable);
}
