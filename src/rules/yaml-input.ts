import { isMap, isNode, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { type FieldPath, failed, fieldName, ok, type Problem, type Result } from './problems.ts';

// A YAML file read so that every problem can name its line: syntax errors come from the parser, and a
// checker places its own problems at the node of a field path (or the nearest parent that exists).

export interface YamlInput {
  /** The document as plain data (mappings are plain objects; `__proto__` is an own key, never a prototype). */
  value: unknown;
  /** A problem at the node of `path`; `key`: at the mapping key rather than its value. */
  at(path: FieldPath, message: string, key?: boolean): Problem;
  /** The parser's warnings (e.g. an unknown tag): problems too, reported with the checker's. */
  warnings: Problem[];
}

/** Aliases resolved at most this often: a "billion laughs" document is refused, not expanded. */
const MAX_ALIAS_COUNT = 100;

export function readYaml(text: string, emptyMessage: string): Result<YamlInput> {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    // A collection used as a key is stringified; the schema then names it, no process warning needed.
    logLevel: 'error',
  });
  const place = (offset: number | undefined) =>
    offset === undefined
      ? { line: 0, column: 0 }
      : (({ line, col }) => ({ line, column: col }))(lines.linePos(offset));

  /** The offset of the node at `path`, or of the nearest existing parent. */
  const offsetOf = (path: FieldPath, key: boolean): number | undefined => {
    if (key && path.length > 0) {
      const map = doc.getIn(path.slice(0, -1), true);
      const last = path[path.length - 1];
      // Keys are compared as the plain data names them: `1` as "1", a collection key as its YAML text.
      const pair = isMap(map)
        ? map.items.find(
            (p) => isNode(p.key) && String(isScalar(p.key) ? p.key.value : p.key) === String(last),
          )
        : undefined;
      if (pair && isNode(pair.key)) return pair.key.range?.[0];
    }
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node)) return (node as Node).range?.[0];
    }
    return undefined;
  };
  const at = (path: FieldPath, message: string, key = false): Problem => ({
    field: fieldName(path),
    message,
    ...place(offsetOf(path, key)),
  });

  const problems: Problem[] = [...doc.errors, ...doc.warnings].map((e) => ({
    field: e.code === 'DUPLICATE_KEY' ? duplicateKeyField(text, e.pos[0]) : '',
    message: e.message.split('\n')[0] ?? e.message,
    ...place(e.pos[0]),
  }));
  if (doc.errors.length > 0) return failed(problems);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // An unresolved alias or an alias bomb: a problem to report, never a crash.
    const why = (err as Error).message.split('\n')[0] || 'unreadable YAML';
    return failed([{ field: '', message: `the YAML document cannot be read: ${why}`, line: 0, column: 0 }]);
  }
  if (value === null || value === undefined)
    return failed([{ field: '', message: emptyMessage, line: 0, column: 0 }]);
  return ok({ value, at, warnings: problems });
}

/** The repeated key itself (the parser names only its position). */
function duplicateKeyField(text: string, offset: number): string {
  const m = /^\s*(["']?)([^"':\n]{1,200})\1\s*:/.exec(text.slice(offset, offset + 256));
  return m?.[2]?.trim() ?? '';
}
