// AdmissionReview v1: reading a request the API server sent and writing the answer it expects.
// Everything here is defensive: the body is untrusted JSON of any shape.

const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
const ADMISSION_KIND = 'AdmissionReview';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** Who sent the request, as the API server authenticated them (impersonation already applied). */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  userInfo?: UserInfo;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReviewAnswer {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

/** A request we can answer, or why not: with the uid when one was found, so the denial can name it. */
export type ParseResult =
  | { ok: true; request: AdmissionRequest }
  | { ok: false; message: string; uid?: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';

function parseGvk(v: unknown): GroupVersionKind | undefined {
  if (!isObject(v) || !isString(v.version) || !isString(v.kind)) return undefined;
  return { group: isString(v.group) ? v.group : '', version: v.version, kind: v.kind };
}

/** Parses raw body text (never throws). */
export function parseAdmissionReviewText(text: string): ParseResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `the body is not valid JSON: ${(err as Error).message}` };
  }
  return parseAdmissionReview(body);
}

/** Checks the shape of an AdmissionReview v1 (never throws). */
export function parseAdmissionReview(body: unknown): ParseResult {
  if (!isObject(body)) return { ok: false, message: 'expected an AdmissionReview object' };
  if (body.kind !== ADMISSION_KIND || body.apiVersion !== ADMISSION_API_VERSION) {
    return {
      ok: false,
      message: `expected apiVersion ${ADMISSION_API_VERSION} and kind ${ADMISSION_KIND}, got apiVersion ${show(body.apiVersion)} and kind ${show(body.kind)}`,
    };
  }
  const r = body.request;
  if (!isObject(r)) return { ok: false, message: 'the AdmissionReview has no request' };
  if (!isString(r.uid) || r.uid === '') return { ok: false, message: 'request.uid is missing' };
  const uid = r.uid;
  const fail = (message: string): ParseResult => ({ ok: false, message, uid });
  const kind = parseGvk(r.kind);
  if (!kind) return fail('request.kind is missing or malformed');
  const res = r.resource;
  if (!isObject(res) || !isString(res.version) || !isString(res.resource)) {
    return fail('request.resource is missing or malformed');
  }
  if (!isString(r.operation) || !OPERATIONS.includes(r.operation)) {
    return fail(`request.operation ${show(r.operation)} is not one of ${OPERATIONS.join(', ')}`);
  }
  const operation = r.operation as Operation;
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isObject(r.object)) {
    return fail(`request.object is missing: ${operation} needs the object`);
  }
  if (operation === 'UPDATE' && !isObject(r.oldObject))
    return fail('request.oldObject is missing: UPDATE needs it');
  return {
    ok: true,
    request: {
      uid,
      kind,
      resource: { group: isString(res.group) ? res.group : '', version: res.version, resource: res.resource },
      subResource: isString(r.subResource) && r.subResource !== '' ? r.subResource : undefined,
      name: isString(r.name) ? r.name : undefined,
      namespace: isString(r.namespace) ? r.namespace : undefined,
      operation,
      object: r.object ?? undefined,
      oldObject: r.oldObject ?? undefined,
      dryRun: r.dryRun === true,
      userInfo: parseUserInfo(r.userInfo),
    },
  };
}

/** request.userInfo when it has a username; anything malformed is dropped, never guessed at. */
function parseUserInfo(v: unknown): UserInfo | undefined {
  if (!isObject(v) || !isString(v.username) || v.username === '') return undefined;
  const groups = Array.isArray(v.groups) ? v.groups.filter(isString) : [];
  const extra: Record<string, string[]> = {};
  if (isObject(v.extra)) {
    for (const [k, vals] of Object.entries(v.extra)) {
      if (Array.isArray(vals)) extra[k] = vals.filter(isString);
    }
  }
  return { username: v.username, ...(isString(v.uid) && v.uid ? { uid: v.uid } : {}), groups, extra };
}

function show(v: unknown): string {
  if (v === undefined) return '(none)';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function answer(response: AdmissionResponse): AdmissionReviewAnswer {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

export function allow(uid: string, warnings: string[] = []): AdmissionReviewAnswer {
  return answer({ uid, allowed: true, ...(warnings.length > 0 ? { warnings } : {}) });
}

/** Denial: the API server shows `message` to the user (kubectl prints it after "denied the request:"). */
export function deny(
  uid: string,
  message: string,
  code = 403,
  warnings: string[] = [],
): AdmissionReviewAnswer {
  const reason = code === 400 ? 'BadRequest' : code >= 500 ? 'InternalError' : 'Forbidden';
  return answer({
    uid,
    allowed: false,
    status: { code, message, reason },
    ...(warnings.length > 0 ? { warnings } : {}),
  });
}

export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

export function allowWithPatch(
  uid: string,
  ops: JsonPatchOp[],
  warnings: string[] = [],
): AdmissionReviewAnswer {
  if (ops.length === 0) return allow(uid, warnings);
  return answer({
    uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
    ...(warnings.length > 0 ? { warnings } : {}),
  });
}
