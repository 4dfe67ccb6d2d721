/** The structural check of a loaded manifest against the JSON Schema (ajv), with errors worded for people. */
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { isObject } from './decode.js';
import { manifestSchema } from './schema.js';
import { type Path, SourceMap } from './load.js';


let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true }).compile(
    manifestSchema as AnySchemaObject,
  );
  return validator;
}

/** `spec.components[1].properties`, `metadata.annotations["app.oam.io/name"]` */
export function formatPath(path: Path): string {
  return path
    .map((seg, i) => {
      if (typeof seg === 'number') return `[${seg}]`;
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) return i === 0 ? seg : `.${seg}`;
      return `[${JSON.stringify(seg)}]`;
    })
    .join('');
}

/** JSON pointer → path with numeric segments for array indices. */
function pointerToPath(pointer: string, data: unknown): Path {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      path.push(seg);
      cur = isObject(cur) ? cur[seg] : undefined;
    }
  }
  return path;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a sequence';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``;
  return `${typeof v} \`${String(v)}\``;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  object: 'a map',
  array: 'a sequence',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
};

function describeType(t: unknown): string {
  const types = (Array.isArray(t) ? t : [t]).filter((x) => x !== 'null').map((x) => EXPECTED[String(x)] ?? String(x));
  return types.join(' or ');
}

const tick = (s: unknown): string => `\`${String(s)}\``;

/** Field names a map accepts (deprecated ones, such as seed-era `contract`, are not advertised). */
function acceptedFields(schema: unknown): string[] {
  const props = isObject(schema) && isObject(schema['properties']) ? schema['properties'] : {};
  return Object.entries(props)
    .filter(([, s]) => !(isObject(s) && s['deprecated'] === true))
    .map(([k]) => k);
}

function structuralError(e: ErrorObject, data: unknown, src: SourceMap): string | undefined {
  const path = pointerToPath(e.instancePath, data);
  const params = e.params as Record<string, unknown>;
  let msg: string;
  let where = src.at(path);
  switch (e.keyword) {
    case 'required':
      msg = `missing field ${tick(params['missingProperty'])}`;
      break;
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      msg = `unknown field ${tick(key)}, expected one of ${acceptedFields(e.parentSchema).map(tick).join(', ')}`;
      where = src.at(path, key);
      break;
    }
    case 'type':
      msg = `invalid type: ${describeValue(e.data)}, expected ${describeType(params['type'])}`;
      break;
    case 'enum':
      if (typeof e.data !== 'string') return undefined; // already reported as a type error
      msg = `unknown variant ${tick(e.data)}, expected one of ${(params['allowedValues'] as unknown[]).map(tick).join(', ')}`;
      break;
    default:
      msg = e.message ?? e.keyword;
  }
  const at = formatPath(path);
  return `${at ? `${at}: ` : ''}${msg}${where}`;
}

export function structuralErrors(value: unknown, src: SourceMap): string[] {
  const validate = schemaValidator();
  if (validate(value)) return [];
  const msgs = (validate.errors ?? []).map((e) => structuralError(e, value, src)).filter((m): m is string => m !== undefined);
  return [...new Set(msgs)];
}

