import { isDeepStrictEqual } from 'node:util';
import type { JsonPatchOp } from './review.ts';

// Building RFC 6902 patches against the object the API server sent: `add` creates missing parents,
// unchanged values produce no op, so an already-defaulted object gets an empty patch.

/** RFC 6901: `~` → `~0`, `/` → `~1` (label keys such as keywarden.dev/type contain a slash). */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointer(path: readonly string[]): string {
  return path.map((s) => `/${escapePointer(s)}`).join('');
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Records ops that set values in `doc`, and applies them to `doc` too so later ops see the change. */
export class PatchBuilder {
  readonly ops: JsonPatchOp[] = [];
  readonly #doc: Json;

  constructor(doc: Json) {
    this.#doc = doc;
  }

  set(path: readonly string[], value: unknown): void {
    if (path.length === 0) throw new Error('cannot set the document root');
    let node: Json = this.#doc;
    for (let i = 0; i < path.length - 1; i++) {
      const key = path[i] as string;
      const next = node[key];
      if (!isObject(next)) {
        // Missing (or not an object): add the whole remaining branch in one op.
        const branch = nest(path.slice(i + 1), value);
        this.ops.push({
          op: next === undefined ? 'add' : 'replace',
          path: pointer(path.slice(0, i + 1)),
          value: branch,
        });
        node[key] = structuredClone(branch);
        return;
      }
      node = next;
    }
    const last = path[path.length - 1] as string;
    if (last in node && isDeepStrictEqual(node[last], value)) return;
    this.ops.push({ op: last in node ? 'replace' : 'add', path: pointer(path), value });
    node[last] = structuredClone(value);
  }

  /** Removes the value at `path` when it is there. */
  remove(path: readonly string[]): void {
    let node: unknown = this.#doc;
    for (const key of path.slice(0, -1)) node = isObject(node) ? node[key] : undefined;
    const last = path[path.length - 1] as string;
    if (!isObject(node) || !(last in node)) return;
    this.ops.push({ op: 'remove', path: pointer(path) });
    delete node[last];
  }
}

function nest(path: readonly string[], value: unknown): unknown {
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
}
