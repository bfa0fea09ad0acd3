import { POD_ANNOTATION_PREFIX } from '../api/metadata.ts';
import { formatProblem, readYaml } from '../rules/index.ts';
import { parseConfig } from '../validator/config/load.ts';

// The injected init container's job: the routes from the app's ConfigMap plus the settings the injector
// derived from the pod's annotations make the validator's configuration file. The routes text goes
// first, unchanged, so a problem in it is reported at its own line in the ConfigMap; the file is then
// checked with the validator's own loader, so the pod stops at init with a clear message instead of
// a validator crash loop.

const EXPECTED_ROUTES =
  'expected "routes:" with a list of routes (path, methods, permission), as in examples/validator-config.yaml';

export type ComposeResult = { ok: true; text: string } | { ok: false; problems: string[] };

/**
 * `routesText`: either a mapping with one key, `routes:` (the same section as in a validator config
 * file), or the bare list of routes. `settingsYaml`: what the injector wrote (everything but routes).
 * `source` names the routes for messages, e.g. "ConfigMap api-routes, key routes.yaml".
 */
export function composeValidatorConfig(
  settingsYaml: string,
  routesText: string,
  source: string,
): ComposeResult {
  const input = readYaml(routesText, EXPECTED_ROUTES);
  if (!input.ok) return { ok: false, problems: input.problems.map((p) => formatProblem(source, p)) };
  const routes = input.value.value;
  let prefix = '';
  if (Array.isArray(routes)) {
    prefix = 'routes:\n';
  } else if (typeof routes === 'object' && routes !== null) {
    const keys = Object.keys(routes);
    const other = keys.filter((k) => k !== 'routes');
    if (other.length > 0) {
      return {
        ok: false,
        problems: [
          `${source}: only "routes" belongs here, found ${other.map((k) => JSON.stringify(k)).join(', ')}; ` +
            `the rest of the validator configuration comes from the pod's ${POD_ANNOTATION_PREFIX}* annotations`,
        ],
      };
    }
    if (keys.length === 0) return { ok: false, problems: [`${source}: "routes" is missing`] };
  } else {
    return {
      ok: false,
      problems: [`${source}: ${EXPECTED_ROUTES}`],
    };
  }
  const body = routesText.replace(/\s+$/, '');
  const text = `${prefix}${body}\n# --- set by the keywarden injector from the pod's annotations ---\n${settingsYaml}`;
  const routesLines = (prefix ? 1 : 0) + body.split('\n').length;
  const offset = prefix ? 1 : 0;
  const result = parseConfig(text);
  if (result.ok) return { ok: true, text };
  return {
    ok: false,
    problems: result.problems.map((p) =>
      p.line > 0 && p.line <= routesLines
        ? formatProblem(source, { ...p, line: Math.max(1, p.line - offset) })
        : formatProblem('settings from the pod annotations', { ...p, line: 0 }),
    ),
  };
}
