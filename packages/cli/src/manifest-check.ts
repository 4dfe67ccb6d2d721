/** Offline manifest checks for `wadm app validate`: `@wadm-ts/model`'s parse and validation, plus wash's raw-document warnings. */
import { parse as parseYaml } from 'yaml';
import { describeError } from '@wadm-ts/client';
import { parseManifest, validateManifest, type ValidationFailure } from '@wadm-ts/model';

export interface ValidationReport {
  /** Set when the manifest does not parse; then `failures` is empty. */
  parseError?: string;
  name?: string;
  failures: ValidationFailure[];
}

/** Parse + validate, plus the raw-YAML deprecated link key warnings of `wash app validate`. */
export function validateManifestText(text: string): ValidationReport {
  const parsed = parseManifest(text);
  if (!parsed.ok) return { parseError: describeError(parsed.error), failures: [] };
  const failures = [...deprecatedLinkKeyWarnings(text), ...parsed.warnings, ...validateManifest(parsed.manifest)];
  return { name: parsed.manifest.metadata.name, failures };
}

const SOURCE_CONFIG_WARNING = "one of the components' link trait contains a source_config key, please use source:config: rather";
const TARGET_CONFIG_WARNING = "one of the components' link trait contains a target_config key, please use target:config: rather";

/**
 * docs/wire/manifest.md §2.3: `source_config` / `target_config` in a link trait's properties. This reads the raw
 * document on purpose: the normalised manifest of `parseManifest` no longer shows which keys were written.
 */
export function deprecatedLinkKeyWarnings(text: string): ValidationFailure[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return [];
  }
  const failures: ValidationFailure[] = [];
  for (const component of arrayAt(doc, 'spec', 'components')) {
    for (const trait of arrayAt(component, 'traits')) {
      const type = field(trait, 'type');
      if (type !== undefined && type !== 'link') continue;
      const props = field(trait, 'properties');
      if (field(props, 'source_config') !== undefined) failures.push({ level: 'warning', msg: SOURCE_CONFIG_WARNING });
      if (field(props, 'target_config') !== undefined) failures.push({ level: 'warning', msg: TARGET_CONFIG_WARNING });
    }
  }
  return failures;
}

function field(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return (value as Record<string, unknown>)[key];
}

function arrayAt(value: unknown, ...path: string[]): unknown[] {
  const found = path.reduce<unknown>((v, key) => field(v, key), value);
  return Array.isArray(found) ? found : [];
}
