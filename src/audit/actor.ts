// Who changed an object, as far as the API server says: the field manager of the most recent write
// that touched the given part of the object (`kubectl-client-side-apply`, `argocd-controller`,
// `kubectl-edit`, ...). It names the tool, not the person; the person is in the API server's own audit
// log. Our own controller's writes (status, finalizers) are skipped so they do not mask the user's.

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  time?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * The manager of the latest Apply/Update that owns something under `field` (default `f:spec`), ignoring
 * status writes and the managers in `ignore`; undefined when the object says nothing useful.
 */
export function actorFromManagedFields(
  managedFields: readonly ManagedFieldsEntry[] | undefined,
  opts: { field?: string; ignore?: readonly string[] } = {},
): string | undefined {
  const field = opts.field ?? 'f:spec';
  const ignore = new Set(opts.ignore ?? []);
  let best: { manager: string; time: number } | undefined;
  for (const e of managedFields ?? []) {
    if (!e.manager || ignore.has(e.manager) || e.subresource === 'status') continue;
    if (e.operation !== 'Apply' && e.operation !== 'Update') continue;
    if (!e.fieldsV1 || !(field in e.fieldsV1)) continue;
    const time = e.time ? Date.parse(e.time) : 0;
    if (!best || time >= best.time) best = { manager: e.manager, time: Number.isFinite(time) ? time : 0 };
  }
  return best?.manager;
}
