import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient } from '../../../src/controller/reconcile.ts';
import { KubeError } from '../../../src/kube/rest.ts';

// FakeKube: a STAND-IN for the API server, not the real one (the integration tests use that). It keeps
// objects by path, checks the uid and resourceVersion preconditions the controller relies on, applies
// the JSON Patch, merge patch and status apply shapes the controller sends, and records every call so
// a test can count them.

type Obj = {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
}

const clone = <T>(v: T): T => structuredClone(v);
const notFound = (path: string) => new KubeError(404, 'NotFound', `${path} not found`, undefined);
const conflict = (path: string) => new KubeError(409, 'Conflict', `${path}: precondition failed`, undefined);

export class FakeKube implements KubeClient {
  readonly objects = new Map<string, Obj>();
  readonly calls: Call[] = [];
  #rv = 1000;

  get writes(): Call[] {
    return this.calls.filter((c) => c.method !== 'GET');
  }

  /** Stores an object as if created (uid and resourceVersion assigned unless given); no call recorded. */
  seed<T>(path: string, obj: T): T {
    const stored = clone(obj) as unknown as Obj;
    stored.metadata.uid ??= randomUUID();
    stored.metadata.resourceVersion = String(++this.#rv);
    this.objects.set(path, stored);
    return clone(stored) as unknown as T;
  }

  peek<T>(path: string): T | undefined {
    const o = this.objects.get(path);
    return o === undefined ? undefined : (clone(o) as unknown as T);
  }

  async get<T>(path: string): Promise<T> {
    this.calls.push({ method: 'GET', path });
    const o = this.objects.get(path);
    if (!o) throw notFound(path);
    return clone(o) as unknown as T;
  }

  async create<T>(path: string, body: unknown): Promise<T> {
    this.calls.push({ method: 'POST', path });
    const obj = clone(body) as Obj;
    const full = `${path}/${encodeURIComponent(obj.metadata.name)}`;
    if (this.objects.has(full))
      throw new KubeError(409, 'AlreadyExists', `${full} already exists`, undefined);
    delete obj.metadata.resourceVersion;
    return this.seed(full, obj) as unknown as T;
  }

  async replace<T>(path: string, body: unknown): Promise<T> {
    this.calls.push({ method: 'PUT', path });
    const existing = this.objects.get(path);
    if (!existing) throw notFound(path);
    const obj = clone(body) as Obj;
    const m = obj.metadata;
    if (m.resourceVersion && m.resourceVersion !== existing.metadata.resourceVersion) throw conflict(path);
    if (m.uid && m.uid !== existing.metadata.uid) throw conflict(path);
    m.uid = existing.metadata.uid;
    m.resourceVersion = String(++this.#rv);
    this.objects.set(path, obj);
    return clone(obj) as unknown as T;
  }

  async patch<T>(path: string, body: unknown, patchType: string): Promise<T> {
    this.calls.push({ method: 'PATCH', path });
    const target = path.endsWith('/status') ? path.slice(0, -'/status'.length) : path;
    const existing = this.objects.get(target);
    if (!existing) throw notFound(path);
    const next = clone(existing);
    const b = body as Obj;
    if (patchType === 'json') applyJsonPatch(next, body as JsonOp[], path);
    else {
      const rv = b.metadata?.resourceVersion;
      if (rv && rv !== existing.metadata.resourceVersion) throw conflict(path);
      if (patchType === 'apply') next.status = clone(b.status);
      else mergePatch(next, { ...b, metadata: { ...b.metadata, resourceVersion: undefined } });
    }
    next.metadata.resourceVersion = String(++this.#rv);
    this.objects.set(target, next);
    return clone(next) as unknown as T;
  }

  async delete<T>(path: string, body?: unknown): Promise<T> {
    this.calls.push({ method: 'DELETE', path });
    const existing = this.objects.get(path);
    if (!existing) throw notFound(path);
    const pre = (body as { preconditions?: { uid?: string; resourceVersion?: string } } | undefined)
      ?.preconditions;
    if (pre?.uid && pre.uid !== existing.metadata.uid) throw conflict(path);
    if (pre?.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion)
      throw conflict(path);
    this.objects.delete(path);
    return undefined as T;
  }
}

type JsonOp = { op: 'add' | 'remove' | 'test'; path: string; value?: unknown };

function applyJsonPatch(doc: Obj, ops: JsonOp[], where: string): void {
  for (const op of ops) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop() as string;
    let parent: unknown = doc;
    for (const p of parts) parent = (parent as Record<string, unknown>)[p];
    if (parent === undefined || parent === null)
      throw new KubeError(422, 'Invalid', `${where}: no parent for ${op.path}`, undefined);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, clone(op.value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else if (!isDeepStrictEqual(parent[i], op.value))
        throw new KubeError(422, 'Invalid', `${where}: test failed at ${op.path}`, undefined);
    } else {
      const o = parent as Record<string, unknown>;
      if (op.op === 'add') o[last] = clone(op.value);
      else if (op.op === 'remove') delete o[last];
      else if (!isDeepStrictEqual(o[last], op.value))
        throw new KubeError(422, 'Invalid', `${where}: test failed at ${op.path}`, undefined);
    }
  }
}

function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete target[k];
    else if (
      typeof v === 'object' &&
      !Array.isArray(v) &&
      typeof target[k] === 'object' &&
      target[k] !== null
    )
      mergePatch(target[k] as Record<string, unknown>, v as Record<string, unknown>);
    else target[k] = clone(v);
  }
}
