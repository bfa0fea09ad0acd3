// One shape for "what a person wrote is wrong", shared by every checker of input people write (the
// validator configuration, injector annotations and settings, audit settings, hash records): a Result
// that either holds the checked value or lists every problem at once, each naming its field and,
// where the input is a file, its line.

export interface Problem {
  /** Dotted path of the field (`routes[2].permission`), or the annotation name; empty: the whole input. */
  field: string;
  message: string;
  /** 1-based; 0 when the problem has no place in a file (annotations, an empty file). */
  line: number;
  column: number;
}

export type Ok<T> = { ok: true; value: T };
export type Failed = { ok: false; problems: Problem[] };
export type Result<T> = Ok<T> | Failed;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const failed = (problems: Problem[]): Failed => ({ ok: false, problems });

/** A problem with no position (annotations, JSON records, values already parsed). */
export function problem(field: string, message: string): Problem {
  return { field, message, line: 0, column: 0 };
}

/** Field path parts → `routes[2].permission`. */
export type FieldPath = readonly (string | number)[];

export function fieldName(path: FieldPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Turns a field path and a message into a Problem: with its line when the input is a file. */
export type Place = (path: FieldPath, message: string, key?: boolean) => Problem;

/** For input with no lines (already-parsed objects, annotations). */
export const unplaced: Place = (path, message) => problem(fieldName(path), message);

/** `file:line:col: field: message`; the place is left out when the problem has none. */
export function formatProblem(where: string, p: Problem): string {
  const place = p.line > 0 ? `${where}:${p.line}:${p.column}` : where;
  const head = place ? `${place}: ` : '';
  return `${head}${p.field ? `${p.field}: ` : ''}${p.message}`;
}

/** Every problem on one line (`field: message; ...`), for a log line or an Event. */
export function problemsLine(problems: readonly Problem[]): string {
  return problems.map((p) => formatProblem('', p)).join('; ');
}

/** Problems in file order (unplaced ones first, in the order found). */
export function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Own enumerable property: `__proto__`, `constructor` and the like never come from a prototype. */
export function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
