// The page's calls to its own server: same origin, the session cookie travels by itself, every write
// carries the CSRF token. Nothing is ever written to browser storage.

export interface Refusal {
  status: number;
  reason: string;
  message: string;
  field?: string;
}

export class RefusedError extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.message);
    this.refusal = refusal;
  }
}

let csrfToken = '';
export const setCsrfToken = (t: string) => {
  csrfToken = t;
};

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const data = (await res.json().catch(() => ({}))) as T & Partial<Refusal>;
  if (!res.ok) {
    throw new RefusedError({
      status: res.status,
      reason: data.reason ?? String(res.status),
      message: data.message ?? res.statusText,
      ...(data.field ? { field: data.field } : {}),
    });
  }
  return data;
}

export const keyPath = (ns: string, name: string) =>
  `/api/keys/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
