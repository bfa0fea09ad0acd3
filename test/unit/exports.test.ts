import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// Dead exports: every export of a file in src/ is imported by another file in src/ (or by scripts/,
// which ship with it). An export only tests or benchmarks use is dead code unless it is a test seam
// named in TEST_SEAMS with the reason it exists. Only values are checked (functions, constants,
// classes), not types. Run alone with `npm run deadcode`.

const ROOT = resolve(import.meta.dirname, '../..');

/** Files something outside src/ starts: their exports are the way in. */
const ENTRY_POINTS = new Set(['src/cli/main.ts', 'src/injector/compose-main.ts', 'src/console/web/app.tsx']);

const seams = (file: string, names: string[], reason: string) =>
  Object.fromEntries(names.map((n) => [`src/${file}#${n}`, reason]));

/** `file#name` → why a test or benchmark needs it exported though src/ does not. */
const TEST_SEAMS: Record<string, string> = {
  ...seams('api/policy.ts', ['BUILT_IN_POLICY'], 'tests start from the built-in policy and change one field'),
  ...seams('audit/rle.ts', ['definitionLevels'], 'checked against the Parquet spec cell by cell'),
  ...seams('audit/options.ts', ['AUDIT_DEFAULTS'], 'tests assert the documented defaults'),
  ...seams('audit/output.ts', ['renderTable', 'renderCsv'], 'formats tested without a trail on disk'),
  ...seams('audit/reader.ts', ['readAuditFile', 'readAuditRows'], 'tests read back what the writer wrote'),
  ...seams('audit/redact.ts', ['REDACTED_KEY'], 'tests look for the marker in written rows'),
  ...seams('cli/options.ts', ['DURATION_ARG'], 'the flag grammar is tested on its own'),
  ...seams('console/security.ts', ['CONTENT_SECURITY_POLICY'], 'the page test checks the header it sends'),
  ...seams(
    'injector/index.ts',
    [
      'composeValidatorConfig',
      'INJECTOR_DEFAULTS',
      'computeInjection',
      'INIT_NAME',
      'JWT_KEY_FILE',
      'SETTINGS_ENV',
      'SIDECAR_NAME',
      'VOLUMES',
      'validatorSettings',
      'readAnnotations',
      'parseInjectorConfig',
      'INJECT_WEBHOOK_NAME',
    ],
    "the injector's pure steps, which its unit, chart and attack tests drive through its index",
  ),
  ...seams(
    'rules/index.ts',
    [
      'BASE62_ALPHABET',
      'decodeBase62Bytes',
      'decodeBase62Int',
      'decodeBase62Number',
      'encodeBase62Bytes',
      'encodeBase62Int',
      'randomBase62',
      'addOneCalendarYear',
      'CLOCK_SKEW_TOLERANCE_MS',
      'hashesEqual',
      'keyMatchesHash',
      'keyPrefix',
      'permissionGrants',
      'takeToken',
      'fieldName',
    ],
    'a piece of a rule, tested on its own (the rule that uses it is in the same file)',
  ),
  ...seams(
    'rules/index.ts',
    ['CUSTOMER_PATTERN', 'DURATION_PATTERN', 'KEY_PATTERN'],
    'tests hold the CRD schema, the docs and found keys to the same pattern',
  ),
  ...seams('validator/routes.ts', ['matchRoute'], 'route matching tested without a gate'),
  ...seams(
    'validator/stored-key.ts',
    ['compileRecord'],
    'the constant-time test compiles records without Secrets',
  ),
  ...seams('webhook/handler.ts', ['handleReview'], 'reviewers tested through the envelope without a server'),
  ...seams('webhook/server.ts', ['createWebhookApp'], 'the body-limit test drives the app without TLS'),
  ...seams('cli/commands/audit.ts', ['parseTimeArg'], "the query's time grammar tested on its own"),
  ...seams(
    'cli/commands/dev.ts',
    ['CTRL_C_LINE', 'DEV_SUCCESS_LINE', 'ENDPOINTS_HEADING'],
    'the dev-script tests wait for the lines it prints',
  ),
  ...seams(
    'cli/dev/demo.ts',
    ['forwardAuthValidatorManifests', 'nginxManifests', 'CHART_DIR', 'IMAGES'],
    'the e2e suite deploys the same demo',
  ),
  ...seams('kube/admission/json-patch.ts', ['escapePointer'], 'RFC 6901 escaping tested on its own'),
  ...seams(
    'kube/admission/review.ts',
    ['parseAdmissionReview'],
    'reviewer tests parse a review as the server does',
  ),
  ...seams(
    'localcluster/node/network.ts',
    ['NETNS_PREFIX'],
    'the e2e test checks no namespace is left behind',
  ),
  ...seams('validator/config/warnings.ts', ['patternCovers'], 'route overlap tested on its own'),
  ...seams(
    'validator/http/forward.ts',
    ['UPSTREAM_IDLE_MS'],
    'the soak bench paces its idle connections by it',
  ),
  ...seams('validator/identity/headers.ts', ['cgiName'], 'header spellings tested on their own'),
  ...seams(
    'validator/http/forward.ts',
    ['upstreamTarget'],
    'the upstream target is fuzzed against the WHATWG URL reading the proxy library made',
  ),
};

/**
 * Dead, in files other branches of issue 15 are reworking: left for them (remove each entry when its
 * branch lands; these are not checked for staleness).
 */
const PENDING: Record<string, string> = {};

type ExportKey = string; // `src/path.ts#name`

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

function program(configPath: string, roots: string[]): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, configPath),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error(`cannot read ${configPath}`);
  return ts.createProgram(
    roots.map((f) => join(ROOT, f)),
    config.options,
  );
}

/** Every export of every importer file's imports: `import {a}`, `export {a} from`, `import()`. */
function collectUses(p: ts.Program, importers: string[], uses: Map<ExportKey, Set<string>>): void {
  const checker = p.getTypeChecker();
  const use = (target: ts.SourceFile | undefined, name: string, by: string) => {
    if (!target) return;
    const file = relative(ROOT, target.fileName);
    if (!file.startsWith('src/') || file === by) return;
    const key = `${file}#${name}`;
    if (!uses.has(key)) uses.set(key, new Set());
    uses.get(key)?.add(by);
  };
  const useAll = (target: ts.SourceFile | undefined, by: string) => {
    const symbol = target && checker.getSymbolAtLocation(target);
    if (symbol) for (const e of checker.getExportsOfModule(symbol)) use(target, e.name, by);
  };
  const resolveModule = (from: ts.SourceFile, specifier: string) => {
    const r = ts.resolveModuleName(specifier, from.fileName, p.getCompilerOptions(), ts.sys);
    return r.resolvedModule ? p.getSourceFile(r.resolvedModule.resolvedFileName) : undefined;
  };
  for (const file of importers) {
    const sf = p.getSourceFile(join(ROOT, file));
    if (!sf) throw new Error(`${file} is not in the program`);
    const visit = (node: ts.Node) => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
        const target = resolveModule(sf, (node.moduleSpecifier as ts.StringLiteral).text);
        if (ts.isImportDeclaration(node)) {
          const clause = node.importClause;
          if (clause?.name) use(target, 'default', file);
          const bindings = clause?.namedBindings;
          if (bindings && ts.isNamespaceImport(bindings)) useAll(target, file);
          if (bindings && ts.isNamedImports(bindings))
            for (const s of bindings.elements) use(target, (s.propertyName ?? s.name).text, file);
        } else if (!node.exportClause || ts.isNamespaceExport(node.exportClause)) {
          useAll(target, file);
        } else {
          for (const s of node.exportClause.elements) use(target, (s.propertyName ?? s.name).text, file);
        }
      }
      if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0] &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        const target = resolveModule(sf, node.arguments[0].text);
        const names = destructuredNames(node);
        if (names) for (const n of names) use(target, n, file);
        else useAll(target, file);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}

/** `const { a, b } = await import('x')` → [a, b]; anything else: undefined (all are used). */
function destructuredNames(call: ts.CallExpression): string[] | undefined {
  const awaited = call.parent;
  const declaration = awaited && ts.isAwaitExpression(awaited) ? awaited.parent : undefined;
  if (!declaration || !ts.isVariableDeclaration(declaration) || !ts.isObjectBindingPattern(declaration.name))
    return undefined;
  return declaration.name.elements.map((e) => ((e.propertyName ?? e.name) as ts.Identifier).text);
}

/** The value exports (functions, constants, classes) of `files`; types are left to the compiler. */
function exportsOf(p: ts.Program, files: string[]): ExportKey[] {
  const checker = p.getTypeChecker();
  const keys: ExportKey[] = [];
  for (const file of files) {
    const sf = p.getSourceFile(join(ROOT, file));
    const symbol = sf && checker.getSymbolAtLocation(sf);
    if (!symbol) continue;
    for (const e of checker.getExportsOfModule(symbol)) {
      const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      if (target.flags & ts.SymbolFlags.Value) keys.push(`${file}#${e.name}`);
    }
  }
  return keys;
}

/** Exports of src/ no other file of src/ or scripts/ imports, with who else (tests, bench) does. */
function deadExports(): { key: ExportKey; testUses: string[] }[] {
  const web = sourceFiles('src/console/web');
  const server = sourceFiles('src').filter(
    (f) => !f.startsWith('src/console/web/') && !f.endsWith('.generated.ts'),
  );
  const outside = [...sourceFiles('test'), ...sourceFiles('bench')];
  const serverProgram = program('tsconfig.json', [...server, ...sourceFiles('scripts'), ...outside]);
  const webProgram = program('src/console/web/tsconfig.json', web);
  const prodUses = new Map<ExportKey, Set<string>>();
  collectUses(serverProgram, [...server, ...sourceFiles('scripts')], prodUses);
  collectUses(webProgram, web, prodUses);
  const testUses = new Map<ExportKey, Set<string>>();
  collectUses(serverProgram, outside, testUses);
  const all = [...exportsOf(serverProgram, server), ...exportsOf(webProgram, web)];
  return all
    .filter((key) => !ENTRY_POINTS.has(key.split('#')[0] as string) && !prodUses.has(key))
    .map((key) => ({ key, testUses: [...(testUses.get(key) ?? [])].sort() }));
}

describe('exports of src/', () => {
  let found: ReturnType<typeof deadExports> | undefined;
  const dead = () => {
    found ??= deadExports();
    return found;
  };

  it('are each imported by another file of src/ (or are a named test seam)', () => {
    const unexplained = dead().filter((d) => !(d.key in TEST_SEAMS) && !(d.key in PENDING));
    const described = unexplained.map((d) =>
      d.testUses.length > 0 ? `${d.key} (only ${d.testUses.join(', ')})` : d.key,
    );
    expect(described).toEqual([]);
  }, 120_000);

  it('lists no test seam that src/ uses or nothing uses', () => {
    const byKey = new Map(dead().map((d) => [d.key, d]));
    const stale = Object.keys(TEST_SEAMS).filter((k) => !byKey.get(k)?.testUses.length);
    expect(stale).toEqual([]);
  }, 120_000);
});
