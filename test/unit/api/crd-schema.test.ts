import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crdSchema } from '../../../src/api/crd-schema.ts';
import { GENERATED_TYPES_PATH, generateTypes } from '../../../src/api/generate.ts';
import { CUSTOMER_PATTERN, PERMISSION_PATTERN } from '../../../src/rules/index.ts';

type Schema = {
  properties?: Record<string, Schema>;
  items?: Schema;
  'x-kubernetes-validations'?: { rule: string }[];
};

function at(schema: Schema, path: string[]): Schema {
  return path.reduce<Schema>((node, key) => {
    const next = key === '[]' ? node.items : node.properties?.[key];
    if (!next) throw new Error(`no ${path.join('.')} in the CRD schema`);
    return next;
  }, schema);
}

function celPattern(node: Schema): string {
  const rule = node['x-kubernetes-validations']?.[0]?.rule ?? '';
  const match = /self\.matches\('(.*?)'\)/.exec(rule);
  if (!match?.[1]) throw new Error(`no matches() rule in ${rule}`);
  return match[1].replace(/\\\\/g, '\\'); // CEL string literal escapes
}

describe('one source of truth for the schema', () => {
  it('the TypeScript types are exactly what crds/ generates', async () => {
    const committed = readFileSync(GENERATED_TYPES_PATH, 'utf8');
    expect(committed, 'src/api/types.generated.ts is stale: run `npm run gen`').toBe(await generateTypes());
  });

  it("the CRD's permission rule is the shared rule's pattern, in both CRDs", () => {
    const apiKey = crdSchema('ApiKey') as Schema;
    const policy = crdSchema('ApiKeyPolicy') as Schema;
    expect(celPattern(at(apiKey, ['spec', 'permissions', '[]']))).toBe(PERMISSION_PATTERN);
    expect(celPattern(at(policy, ['spec', 'permissions', '[]', 'name']))).toBe(PERMISSION_PATTERN);
  });

  it("the CRD's customer rule is the shared rule's pattern (the validator checks hash records with it)", () => {
    const apiKey = crdSchema('ApiKey') as Schema;
    expect(celPattern(at(apiKey, ['spec', 'customers', '[]']))).toBe(CUSTOMER_PATTERN);
  });

  it('every field of both CRDs has a description, so kubectl explain helps', () => {
    const missing: string[] = [];
    // Every property needs one; list items are explained by their list's description.
    const walk = (node: Schema & { description?: string }, path: string) => {
      if (path !== '' && path !== '.metadata' && !path.endsWith('[]') && !node.description)
        missing.push(path);
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${key}`);
      if (node.items) walk(node.items, `${path}[]`);
    };
    walk(crdSchema('ApiKey') as Schema, '');
    walk(crdSchema('ApiKeyPolicy') as Schema, '');
    expect(missing).toEqual([]);
  });
});
