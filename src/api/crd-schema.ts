import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// The CRD YAML under crds/ is the one source of truth for the API; TypeScript types are generated
// from it (scripts/gen-types.ts) and a unit test fails when the two drift.
const CRD_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
export const CRD_FILES = {
  ApiKey: 'apikeys.keywarden.dev.yaml',
  ApiKeyPolicy: 'apikeypolicies.keywarden.dev.yaml',
} as const;

export interface CrdDocument {
  spec: {
    group: string;
    names: { kind: string; plural: string };
    versions: { name: string; schema: { openAPIV3Schema: Record<string, unknown> } }[];
  };
}

function readCrd(kind: keyof typeof CRD_FILES): CrdDocument {
  return parse(readFileSync(CRD_DIR + CRD_FILES[kind], 'utf8')) as CrdDocument;
}

export function crdSchema(kind: keyof typeof CRD_FILES): Record<string, unknown> {
  const version = readCrd(kind).spec.versions.find((v) => v.name === 'v1alpha1');
  if (!version) throw new Error(`crds/${CRD_FILES[kind]} has no v1alpha1 version`);
  return version.schema.openAPIV3Schema;
}
