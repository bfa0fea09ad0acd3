import type { ApiKey } from './index.ts';

// The search of `keywarden list -q` and the console's search box: one function, so both find the same keys.

/** Whether the text appears (case-insensitive) in the key id, hint, description, allowed sources or name. */
export function matchesSearch(ak: ApiKey & { metadata: { name: string } }, term: string): boolean {
  const t = term.toLowerCase();
  return [
    ak.status?.keyId,
    ak.status?.keyHint,
    ak.spec.description,
    ...(ak.spec.allowedSources ?? []),
    ak.metadata.name,
  ]
    .filter((v): v is string => typeof v === 'string')
    .some((v) => v.toLowerCase().includes(t));
}
