// A key never reaches the audit trail: the validator records key ids, never keys. This is the second
// line of defence for text that comes from outside (a key pasted into a URL path, a note): anything
// shaped like a keywarden key is replaced before it is written.
//
// Unlike the scanners' KEY_PATTERN (rules/key.ts), this match has no word boundaries and ignores case
// (a key glued to other text, `token=kwsk_…xyz`, is still a key), and it also looks through
// percent-encoding, up to three levels deep (`kwsk%5Fprod%5F…` is a key once a server decodes it).
// Matches found in a decoded view are mapped back to the original text, so only the key is replaced.

export const REDACTED_KEY = '[redacted-key]';

/** Key-shaped text; a longer run after the secret is taken whole (it may hold the checksum). */
const KEY_RE = /kw[ps]k_(?:prod|stg|dev)_[0-9a-z]{12}_[0-9a-z]{39,}/gi;
/** The shortest key string (`kwpk_dev_` + id + `_` + secret and checksum). */
const MIN_KEY_LENGTH = 'kwpk_dev_'.length + 12 + 1 + 39;
/** Percent-encoding levels looked through (`%255F` is `_` after two decodes). */
const MAX_DECODE_DEPTH = 3;

/** A text as characters, each with the offset in the original where it starts. */
interface View {
  chars: string;
  /** starts[i] is where chars[i] begins in the original; starts[chars.length] is its length. Absent: the original itself. */
  starts?: number[];
}

const startOf = (view: View, i: number): number => (view.starts ? (view.starts[i] as number) : i);

const HEX = /^[0-9a-f]{2}$/i;

function decodeOnce(view: View): View {
  let chars = '';
  const starts: number[] = [];
  const src = view.chars;
  for (let i = 0; i < src.length; ) {
    const pair = src.slice(i + 1, i + 3);
    starts.push(startOf(view, i));
    if (src[i] === '%' && HEX.test(pair)) {
      chars += String.fromCharCode(Number.parseInt(pair, 16));
      i += 3;
    } else {
      chars += src[i];
      i += 1;
    }
  }
  starts.push(startOf(view, src.length));
  return { chars, starts };
}

/** Every key-shaped span of the text, as [start, end) in the original, with the decoded match. */
function keySpans(text: string): { start: number; end: number; key: string }[] {
  if (text.length < MIN_KEY_LENGTH) return [];
  const spans: { start: number; end: number; key: string }[] = [];
  let view: View = { chars: text };
  for (let depth = 0; ; depth++) {
    for (const m of view.chars.matchAll(KEY_RE)) {
      const start = startOf(view, m.index);
      const end = startOf(view, m.index + m[0].length);
      spans.push({ start, end, key: m[0] });
    }
    if (depth === MAX_DECODE_DEPTH || !view.chars.includes('%')) break;
    const next = decodeOnce(view);
    if (next.chars === view.chars) break;
    view = next;
  }
  return spans;
}

/** The text with every key-shaped substring replaced; the same string when there was none. */
export function redactKeys(text: string): string {
  if (text.length < MIN_KEY_LENGTH) return text;
  const spans = keySpans(text).sort((a, b) => a.start - b.start || b.end - a.end);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const { start, end } of spans) {
    if (end <= at) continue; // inside a span already replaced
    out += `${text.slice(at, Math.max(at, start))}${REDACTED_KEY}`;
    at = end;
  }
  return out + text.slice(at);
}

/** Every key-shaped substring of the text, decoded (for scans of written files). */
export function findKeys(text: string): string[] {
  return keySpans(text).map((s) => s.key);
}
