import ipaddr from 'ipaddr.js';
import { describeValue } from './redact.ts';

// Allowed sources: IPv4/IPv6 addresses and CIDRs. Matching happens in one 128-bit space where an IPv4
// address is its IPv4-mapped IPv6 form (::ffff:a.b.c.d), as on a dual-stack socket and in node's
// net.BlockList. So `::ffff:10.0.0.1` and `10.0.0.1` are the same client, and an IPv6 range that covers
// ::ffff:0:0/96 (such as ::/0) covers IPv4 clients too.

export type IpKind = 'ipv4' | 'ipv6';

export interface ParsedSource {
  kind: IpKind;
  /** Canonical network address: dotted decimal, or RFC 5952 compressed IPv6. */
  network: string;
  prefix: number;
  /** `network/prefix`, the normalised form. */
  cidr: string;
}

export type SourceResult = { ok: true; source: ParsedSource } | { ok: false; message: string };
export type ClientAddressResult =
  | { ok: true; kind: IpKind; address: string }
  | { ok: false; message: string };
export type NormalizeSourcesResult = { ok: true; sources: string[] } | { ok: false; errors: string[] };

export interface SourceMatcher {
  /** True when the list is empty (any source), or the client address is inside an entry. */
  allows(ip: string): boolean;
  /** The normalised entries. */
  readonly sources: readonly string[];
}

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
// Strict dotted decimal: ipaddr.js also reads `010.1`, `0x0a.0.0.1` and the like, which other
// parsers read differently; refusing them removes the ambiguity.
const IPV4_RE = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const IPV4_TAIL_RE = new RegExp(`:${OCTET}(?:\\.${OCTET}){3}$`);
const EXAMPLES = 'e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32';

interface Address {
  kind: IpKind;
  /** 16 bytes; IPv4 as ::ffff:a.b.c.d. */
  bytes: Uint8Array;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** An address without brackets, zone or prefix; undefined when not strictly valid. */
function parseAddress(text: string): Address | undefined {
  if (IPV4_RE.test(text)) {
    return { kind: 'ipv4', bytes: new Uint8Array([...MAPPED_PREFIX, ...ipaddr.IPv4.parse(text).octets]) };
  }
  if (!text.includes(':') || text.includes('%') || text.length > 45) return undefined;
  if (text.includes('.')) {
    // ipaddr.js reads the deprecated `::a.b.c.d` as IPv4-mapped, where RFC 4291 (and inet_pton) make it
    // ::0a0b:0c0d; refuse it rather than guess. The dotted tail must be strict decimal.
    if (!IPV4_TAIL_RE.test(text) || /^::(?:[0-9]+\.){3}[0-9]+$/.test(text)) return undefined;
  }
  if (!ipaddr.IPv6.isValid(text)) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  const bytes = new Uint8Array(v6.toByteArray());
  return { kind: v6.isIPv4MappedAddress() ? 'ipv4' : 'ipv6', bytes };
}

function formatAddress(bytes: Uint8Array, kind: IpKind): string {
  if (kind === 'ipv4') return [...bytes.subarray(12)].join('.');
  return new ipaddr.IPv6([...bytes]).toRFC5952String();
}

/** Bytes with every bit past `prefix` (in 128-bit terms) cleared. */
function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.min(8, Math.max(0, prefix - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

interface Range {
  bytes: Uint8Array;
  /** In 128-bit terms (IPv4 /8 is 104). */
  prefix: number;
}

function parseRange(s: unknown): { range: Range; source: ParsedSource } | string {
  const bad = (why: string) => `${describeValue(s)} ${why}`;
  if (typeof s !== 'string') return bad(`is not an IP address or CIDR (${EXAMPLES})`);
  const slash = s.indexOf('/');
  const text = slash === -1 ? s : s.slice(0, slash);
  const addr = parseAddress(text);
  if (addr === undefined) {
    const why = text.includes('%') ? ' (zone indexes such as %eth0 are not allowed)' : '';
    return bad(`is not an IPv4 or IPv6 address or CIDR${why} (${EXAMPLES})`);
  }
  // A literal IPv6 entry is IPv6 even when mapped: its prefix counts from the start of 128 bits.
  const literalBits = text.includes(':') ? 128 : 32;
  let prefix = literalBits;
  if (slash !== -1) {
    const p = s.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > literalBits) {
      return bad(`has an invalid prefix length: expected a whole number from 0 to ${literalBits}`);
    }
    prefix = Number(p);
  }
  const prefix128 = literalBits === 32 ? prefix + 96 : prefix;
  const bytes = maskBytes(addr.bytes, prefix128);
  // An IPv6 entry inside ::ffff:0:0/96 is an IPv4 range and is written as one.
  const kind: IpKind = addr.kind === 'ipv4' && prefix128 >= 96 ? 'ipv4' : 'ipv6';
  const shownPrefix = kind === 'ipv4' ? prefix128 - 96 : prefix128;
  const network = formatAddress(bytes, kind);
  return {
    range: { bytes, prefix: prefix128 },
    source: { kind, network, prefix: shownPrefix, cidr: `${network}/${shownPrefix}` },
  };
}

/** Parses an IPv4/IPv6 address or CIDR; the result carries the normalised form. */
export function parseSource(s: unknown): SourceResult {
  const r = parseRange(s);
  return typeof r === 'string' ? { ok: false, message: r } : { ok: true, source: r.source };
}

/**
 * Normalised list: bare addresses become /32 or /128, host bits are cleared (`10.1.2.3/8` → `10.0.0.0/8`),
 * IPv6 is compressed (RFC 5952), IPv4-mapped entries become IPv4, duplicates go, order stays.
 */
export function normalizeSources(
  list: readonly unknown[],
  field = 'spec.allowedSources',
): NormalizeSourcesResult {
  const sources: string[] = [];
  const errors: string[] = [];
  list.forEach((s, i) => {
    const r = parseSource(s);
    if (!r.ok) errors.push(`${field}[${i}] ${r.message}`);
    else if (!sources.includes(r.source.cidr)) sources.push(r.source.cidr);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, sources };
}

function clientAddress(s: unknown): Address | undefined {
  if (typeof s !== 'string') return undefined;
  let text = s.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  // A socket may report a link-local peer with its zone (fe80::1%eth0); the zone does not change the address.
  const zone = text.indexOf('%');
  if (zone !== -1 && text.includes(':')) text = text.slice(0, zone);
  return parseAddress(text);
}

/** A client address as a socket or proxy header reports it; `[::1]` is accepted. IPv4-mapped → IPv4. */
export function parseClientAddress(s: unknown): ClientAddressResult {
  const addr = clientAddress(s);
  if (addr === undefined) return { ok: false, message: `${describeValue(s)} is not an IP address` };
  return { ok: true, kind: addr.kind, address: formatAddress(addr.bytes, addr.kind) };
}

/**
 * Compiles an allowed-sources list (throws a TypeError naming the bad entry: silently skipping it could
 * turn a list into an empty one, which allows every source). An unparsable client address is refused.
 */
export function compileSources(list: readonly string[]): SourceMatcher {
  const ranges: Range[] = [];
  const sources: string[] = [];
  list.forEach((s, i) => {
    const r = parseRange(s);
    if (typeof r === 'string') throw new TypeError(`allowed source [${i}] ${r}`);
    if (!sources.includes(r.source.cidr)) {
      sources.push(r.source.cidr);
      ranges.push(r.range);
    }
  });
  return {
    sources,
    allows(ip: string): boolean {
      if (ranges.length === 0) return true;
      const addr = clientAddress(ip);
      if (addr === undefined) return false;
      return ranges.some((r) => inRange(addr.bytes, r));
    },
  };
}

function inRange(bytes: Uint8Array, range: Range): boolean {
  const full = range.prefix >> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== range.bytes[i]) return false;
  const rest = range.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[full] ?? 0) & mask) === range.bytes[full];
}
