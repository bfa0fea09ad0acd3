import { fileURLToPath } from 'node:url';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { CRD_FILES, crdSchema } from './crd-schema.ts';

export const GENERATED_TYPES_PATH = fileURLToPath(new URL('./types.generated.ts', import.meta.url));

// Kubernetes' structural schema is JSON Schema plus x-kubernetes-* keywords; the generator only needs
// to know that objects are closed (Kubernetes prunes unknown fields).
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) continue;
    out[key] = key === 'properties' ? mapValues(value as Record<string, unknown>) : toJsonSchema(value);
  }
  if (out.type === 'object' && out.properties) out.additionalProperties = false;
  return out;
}

function mapValues(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, toJsonSchema(v)]));
}

export async function generateTypes(): Promise<string> {
  const parts: string[] = [
    '// Generated from crds/ by `npm run gen` (scripts/gen-types.ts). Do not edit by hand.\n',
  ];
  for (const kind of Object.keys(CRD_FILES) as (keyof typeof CRD_FILES)[]) {
    const schema = toJsonSchema(crdSchema(kind)) as JSONSchema;
    // metadata is typed by the Kubernetes client, not by the CRD.
    if (schema.properties) delete schema.properties.metadata;
    const ts = await compile(schema, kind, {
      bannerComment: '',
      additionalProperties: false,
      style: { singleQuote: true, printWidth: 110 },
      strictIndexSignatures: true,
    });
    parts.push(ts);
  }
  return parts.join('\n');
}
