// Regenerates src/api/types.generated.ts from the CRD YAML (the source of truth).
//   node scripts/gen-types.ts          write the file
//   node scripts/gen-types.ts --check  exit 1 if the file is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { GENERATED_TYPES_PATH, generateTypes } from '../src/api/generate.ts';

const wanted = await generateTypes();
if (process.argv.includes('--check')) {
  const current = readFileSync(GENERATED_TYPES_PATH, 'utf8');
  if (current !== wanted) {
    console.error('src/api/types.generated.ts is out of date with crds/: run `npm run gen`.');
    process.exit(1);
  }
  console.log('src/api/types.generated.ts matches crds/.');
} else {
  writeFileSync(GENERATED_TYPES_PATH, wanted);
  console.log(`wrote ${GENERATED_TYPES_PATH}`);
}
