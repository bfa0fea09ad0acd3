import { KEY_PATTERN } from '../rules/index.ts';

// A key never reaches the audit trail: the validator records key ids, never keys. This is the second
// line of defence for text that comes from outside (a key pasted into a URL path, a note): anything
// shaped like a keywarden key is replaced before it is written.

export const REDACTED_KEY = '[redacted-key]';

const KEY_RE = new RegExp(KEY_PATTERN, 'g');
/** The shortest key string (`kwpk_dev_` + id + `_` + secret and checksum). */
const MIN_KEY_LENGTH = 'kwpk_dev_'.length + 12 + 1 + 39;

/** The text with every key-shaped substring replaced; the same string when there was none. */
export function redactKeys(text: string): string {
  if (text.length < MIN_KEY_LENGTH || !text.includes('k_')) return text;
  KEY_RE.lastIndex = 0;
  return KEY_RE.test(text) ? text.replace(KEY_RE, REDACTED_KEY) : text;
}

/** Every key-shaped substring of the text (for scans of written files). */
export function findKeys(text: string): string[] {
  if (text.length < MIN_KEY_LENGTH) return [];
  return text.match(KEY_RE) ?? [];
}
