import { readFileSync } from 'node:fs';
import { failed, type Ok, type Problem, problem, readYaml, sortProblems } from '../../rules/index.ts';
import { schemaProblems } from './schema-problems.ts';
import { buildConfig, checkSections, type RawConfig, type Report, sectionWarnings } from './sections.ts';
import type { ValidatorConfig } from './types.ts';

export { DEFAULT_SIGNING_KEY_FIELD } from './sections.ts';

// Reads the YAML file so every problem can name its line and field: syntax errors come from the parser,
// shape errors from the JSON schema (schema-problems.ts), and the rest (CIDRs, durations, permissions,
// path patterns, URLs) from the section checkers (sections.ts). All problems are reported at once, in
// file order.

/** `warnings`: valid, but re-opens a hole (see warnings.ts); `--check` lists them and exits 1. */
export type ConfigResult =
  | (Ok<ValidatorConfig> & { warnings: Problem[] })
  | { ok: false; problems: Problem[] };

export function loadConfigFile(file: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return failed([problem('', `cannot read the file: ${(err as Error).message}`)]);
  }
  return parseConfig(text);
}

export function parseConfig(text: string): ConfigResult {
  const input = readYaml(text, 'the file is empty; at least `environment` is required');
  if (!input.ok) return input;
  const { value, at } = input.value;
  const problems = [...input.value.warnings, ...schemaProblems(value, at)];
  const warnings: Problem[] = [];
  const report: Report = {
    problem: (path, message) => problems.push(at(path, message)),
    add: (...found) => problems.push(...found),
    warn: (path, message) => warnings.push(at(path, message)),
    place: at,
  };
  // A document that is not a mapping was reported by the schema; the checkers then see no sections.
  const c = (typeof value === 'object' && !Array.isArray(value) ? value : {}) as RawConfig;
  const sections = checkSections(c, report);
  if (problems.length > 0) return failed(sortProblems(problems));
  sectionWarnings(c, sections, report);
  return { ok: true, value: buildConfig(c, sections), warnings: sortProblems(warnings) };
}
