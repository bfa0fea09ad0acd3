import { HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch } from 'undici';

// A thin REST layer over the API server. client-node's typed APIs differ per group and need a
// content-type middleware for every patch style; one small function with the kubeconfig's auth covers
// CRDs, Secrets, Leases and Events alike.

export type PatchType = 'merge' | 'json' | 'apply' | 'strategic';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
  strategic: 'application/strategic-merge-patch+json',
};

export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(status: number, reason: string, message: string, body: unknown) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
    this.body = body;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeError && err.status === 409;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeError && err.status === 409 && err.reason === 'AlreadyExists';

export interface RequestOptions {
  body?: unknown;
  patchType?: PatchType;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
}

export class KubeRest {
  readonly kc: KubeConfig;
  readonly server: string;
  /**
   * One connection pool for every call. client-node makes a new dispatcher per request, so each call
   * paid a TLS handshake (the controller bench's profile: most of its CPU); headers (tokens) still
   * come from the kubeconfig on every call.
   */
  #dispatcher: ReturnType<RequestContext['getDispatcher']>;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    this.kc = kc;
    this.server = cluster.server.replace(/\/$/, '');
  }

  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    opts: RequestOptions = {},
  ): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    await this.kc.applySecurityAuthentication(ctx);
    this.#dispatcher ??= ctx.getDispatcher();
    const headers: Record<string, string> = { ...ctx.getHeaders(), accept: 'application/json' };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = opts.patchType ? PATCH_CONTENT_TYPES[opts.patchType] : 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(url, {
      method,
      headers,
      body,
      dispatcher: this.#dispatcher,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error
    }
    if (res.status >= 400) {
      const status = parsed as { reason?: string; message?: string } | undefined;
      throw new KubeError(
        res.status,
        status?.reason ?? String(res.status),
        `${method} ${path}: ${status?.message ?? text.slice(0, 300)}`,
        parsed,
      );
    }
    return parsed as T;
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }
  create<T>(path: string, body: unknown, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('POST', path, { body, query });
  }
  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }
  patch<T>(path: string, body: unknown, patchType: PatchType, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('PATCH', path, { body, patchType, query });
  }
  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, { body });
  }
}

/** REST paths: `/api/v1/...` for the core group, `/apis/g/v/...` otherwise. */
export function resourcePath(
  r: { group: string; version: string; plural: string },
  namespace?: string,
  name?: string,
  sub?: string,
): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  return [
    base,
    namespace ? `namespaces/${encodeURIComponent(namespace)}` : '',
    r.plural,
    name ? encodeURIComponent(name) : '',
    sub ?? '',
  ]
    .filter(Boolean)
    .join('/');
}
