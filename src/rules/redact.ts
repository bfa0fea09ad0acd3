// Quoting user input in error messages without ever echoing something that could be a key.
// Rule messages end up in kubectl output, Kubernetes events and logs; a key pasted into the wrong
// field must not be copied there.

const MAX_SHOWN_LENGTH = 48;

/**
 * The value as a JSON string when it is safe to show, otherwise a placeholder naming only its length.
 * Hidden: anything longer than 48 characters, anything carrying a keywarden prefix, and anything with a
 * run of 10+ letters and digits that has an upper-case letter (random-looking, like part of a key). Valid
 * durations, addresses, timestamps and permissions of up to 48 characters never look like that.
 */
export function describeValue(value: unknown): string {
  if (typeof value !== 'string') return `(a value of type ${value === null ? 'null' : typeof value})`;
  if (looksSecret(value)) return `(a ${value.length}-character value, not shown)`;
  return JSON.stringify(value);
}

function looksSecret(value: string): boolean {
  if (value.length > MAX_SHOWN_LENGTH) return true;
  if (/kw[ps]k/i.test(value)) return true;
  return (value.match(/[0-9A-Za-z]{10,}/g) ?? []).some((run) => /[A-Z]/.test(run));
}
