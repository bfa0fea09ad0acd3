import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { POD_ANNOTATIONS } from '../api/metadata.ts';
import { composeValidatorConfig } from './compose.ts';
import { SETTINGS_ENV } from './inject.ts';

// Entry point of the injected init container `keywarden-config`:
//   node /app/src/injector/compose-main.ts --routes FILE --routes-source TEXT --out FILE
// with the injector's settings in $KEYWARDEN_VALIDATOR_SETTINGS. Exit 0 with the file written, or 1
// with every problem on stderr (kubectl logs POD -c keywarden-config shows them).

function fail(lines: string[]): never {
  process.stderr.write(
    `keywarden: cannot write the validator configuration:\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
  );
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    routes: { type: 'string' },
    'routes-source': { type: 'string' },
    out: { type: 'string' },
  },
});
if (!values.routes || !values.out)
  fail(['usage: compose-main.ts --routes FILE [--routes-source TEXT] --out FILE']);
const settings = process.env[SETTINGS_ENV];
if (!settings)
  fail([`$${SETTINGS_ENV} is empty: this container is meant to be added by the keywarden injector`]);
const source = values['routes-source'] ?? values.routes;
let routes: string;
try {
  routes = readFileSync(values.routes, 'utf8');
} catch {
  let keys = '';
  try {
    keys = readdirSync(dirname(values.routes))
      .filter((f) => !f.startsWith('..'))
      .join(', ');
  } catch {}
  fail([
    `${source}: not found in the mounted ConfigMap${keys ? ` (its keys: ${keys})` : ''}; set ${POD_ANNOTATIONS.routesKey} or add the key`,
  ]);
}
const result = composeValidatorConfig(settings, routes, source);
if (!result.ok) fail(result.problems);
writeFileSync(values.out, result.text, { mode: 0o444 });
process.stdout.write(`keywarden: wrote ${values.out}\n`);
