import { Ajv, type ErrorObject } from 'ajv';
import type { FieldPath, Place, Problem } from '../../rules/index.ts';
import { CONFIG_SCHEMA } from './schema.ts';

// Shape problems (unknown fields, wrong types, missing fields) from the JSON schema, each turned into
// a field path and a sentence a person can act on.

const validate = new Ajv({ allErrors: true, strict: true, verbose: true }).compile(CONFIG_SCHEMA);

export function schemaProblems(raw: unknown, place: Place): Problem[] {
  if (validate(raw)) return [];
  return (validate.errors ?? []).map((e) => {
    const { path, message, key } = describeSchemaError(e, pointerToPath(e.instancePath));
    return place(path, message, key);
  });
}

function pointerToPath(pointer: string): FieldPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function describeSchemaError(
  e: ErrorObject,
  path: FieldPath,
): { path: FieldPath; message: string; key: boolean } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys(
        ((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object,
      );
      return {
        path: [...path, String(p.additionalProperty)],
        message: `unknown field${known.length ? `; known fields here: ${known.join(', ')}` : ''}`,
        key: true,
      };
    }
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'is required', key: false };
    case 'enum':
      return { path, message: `must be one of: ${(p.allowedValues as unknown[]).join(', ')}`, key: false };
    case 'type':
      return { path, message: `must be ${article(String(p.type))}`, key: false };
    case 'minProperties':
    case 'maxProperties':
      return { path, message: 'must set exactly one of: secret, file', key: false };
    default:
      return { path, message: e.message ?? 'is invalid', key: false };
  }
}

const article = (type: string) =>
  type === 'integer' || type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`;
