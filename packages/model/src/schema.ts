/** The shipped JSON Schema (draft-07) of the manifest parse layer: `packages/model/schema/oam.schema.json`. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the schema file (resolved from dist/src/ to the package's schema/ folder). */
export const MANIFEST_SCHEMA_PATH: string = fileURLToPath(new URL('../../schema/oam.schema.json', import.meta.url));

/** The parsed schema object. */
export const manifestSchema: Readonly<Record<string, unknown>> = JSON.parse(readFileSync(MANIFEST_SCHEMA_PATH, 'utf8')) as Record<
  string,
  unknown
>;
