import type { ApiKeyCondition } from '../api/index.ts';

/**
 * Sets a condition as apimachinery's meta.SetStatusCondition does: lastTransitionTime moves only when
 * the status changes; reason, message and observedGeneration are always refreshed.
 */
export function setCondition(
  existing: ApiKeyCondition[] | undefined,
  next: Omit<ApiKeyCondition, 'lastTransitionTime'>,
  now: Date,
): ApiKeyCondition[] {
  const list = (existing ?? []).map((c) => ({ ...c }));
  const i = list.findIndex((c) => c.type === next.type);
  const old = i >= 0 ? list[i] : undefined;
  const lastTransitionTime =
    old && old.status === next.status ? old.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z');
  const merged: ApiKeyCondition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = merged;
  else list.push(merged);
  return list;
}
