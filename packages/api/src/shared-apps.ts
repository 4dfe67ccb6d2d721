/**
 * Shared applications as the API sees them (docs/wire/api.md §2.8): which apps are shared, which
 * components reference one that is not deployed, which deployed apps depend on one. Pure facts about
 * the lattice's records that the decisions (`decisions.ts`) build on.
 */
import { SHARED_ANNOTATION, type Manifest } from '@wadm-ts/model';
import { deployedManifest, latestVersion, type StoredApp } from '@wadm-ts/store';

export function isShared(app: StoredApp): boolean {
  return latestVersion(app)?.manifest.metadata.annotations[SHARED_ANNOTATION] === 'true';
}

/**
 * Components of `m` that reference a shared application (`application:` and no image) with no match
 * among the deployed shared apps: same app name, a component of that name and the same type.
 */
export function missingSharedComponents(m: Manifest, others: readonly StoredApp[]): string[] {
  const providers = others.filter((a) => a.deployedVersion !== null && isShared(a));
  const missing: string[] = [];
  for (const c of m.spec.components) {
    const ref = c.properties.application;
    if (!ref || c.properties.image !== undefined) continue;
    const app = providers.find((a) => a.name === ref.name);
    const found = app && latestVersion(app)?.manifest.spec.components.some((sc) => sc.name === ref.component && sc.type === c.type);
    if (!found) missing.push(c.name);
  }
  return missing;
}

/**
 * Whether checking `m` needs the lattice's other apps: only explicit ids (deploy-time id clash) and
 * shared references do. Everything else is decided from the app's own record, so put and deploy of
 * ordinary apps cost the same however many apps the lattice holds.
 */
export function needsLatticeView(m: Manifest): boolean {
  return m.spec.components.some((c) => c.properties.id !== undefined || (c.properties.application !== undefined && c.properties.image === undefined));
}

/** Rust's `{:?}` of a string list: `["a", "b"]`. */
export function debugList(items: readonly string[]): string {
  return `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
}

/** Deployed apps (other than `name`) whose deployed manifest references shared app `name`. */
export function sharedDependents(name: string, apps: readonly StoredApp[]): string[] {
  return apps
    .filter((a) => a.name !== name)
    .filter((a) => deployedManifest(a)?.manifest.spec.components.some((c) => c.properties.application?.name === name && c.properties.image === undefined))
    .map((a) => a.name);
}

