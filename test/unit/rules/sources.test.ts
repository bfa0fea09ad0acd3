import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileSources,
  normalizeSources,
  parseClientAddress,
  parseSource,
} from '../../../src/rules/index.ts';

// node's net.BlockList is the independent reference: it also treats an IPv4 address as its
// IPv4-mapped IPv6 form when comparing across families.

type Family = 'ipv4' | 'ipv6';
interface Addr {
  family: Family;
  bytes: number[];
}

const formatV4 = (b: number[]) => b.join('.');
/** Full, uncompressed IPv6 (sometimes upper case), written here rather than by the code under test. */
function formatV6(b: number[], upper: boolean): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16));
  const s = groups.join(':');
  return upper ? s.toUpperCase() : s;
}
const format = (a: Addr, upper = false) =>
  a.family === 'ipv4' ? formatV4(a.bytes) : formatV6(a.bytes, upper);

const MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const arbBytes = (n: number) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: n, maxLength: n });
const arbAddr: fc.Arbitrary<Addr> = fc.oneof(
  arbBytes(4).map((bytes) => ({ family: 'ipv4' as const, bytes })),
  arbBytes(16).map((bytes) => ({ family: 'ipv6' as const, bytes })),
  // IPv6 ranges around the IPv4-mapped block, where the two families meet.
  arbBytes(4).map((b) => ({ family: 'ipv6' as const, bytes: [...MAPPED, ...b] })),
);

interface Range {
  net: Addr;
  prefix: number;
}
const arbRange: fc.Arbitrary<Range> = arbAddr.chain((net) =>
  fc.integer({ min: 0, max: net.family === 'ipv4' ? 32 : 128 }).map((prefix) => ({ net, prefix })),
);

/** A client sharing a random number of leading bits with `near`, so that hits and misses both occur. */
function arbClientNear(near: Addr): fc.Arbitrary<Addr> {
  const bits = near.bytes.length * 8;
  return fc.tuple(fc.integer({ min: 0, max: bits }), arbBytes(near.bytes.length)).map(([shared, noise]) => ({
    family: near.family,
    bytes: near.bytes.map((b, i) => {
      const keep = Math.min(8, Math.max(0, shared - i * 8));
      const mask = (0xff << (8 - keep)) & 0xff;
      return (b & mask) | ((noise[i] ?? 0) & ~mask & 0xff);
    }),
  }));
}

/** A client in the IPv4-mapped block may equally be written as plain IPv4. */
const arbEitherFamily = (c: Addr): fc.Arbitrary<Addr> =>
  c.family === 'ipv6' && MAPPED.every((b, i) => c.bytes[i] === b)
    ? fc.constantFrom(c, { family: 'ipv4' as const, bytes: c.bytes.slice(12) })
    : fc.constant(c);

/** The client as text: as is, or an IPv4 client in its IPv4-mapped IPv6 spellings. */
const arbClientText = (c: Addr) =>
  c.family === 'ipv6'
    ? fc.constantFrom(formatV6(c.bytes, false), formatV6(c.bytes, true), `[${formatV6(c.bytes, false)}]`)
    : fc.constantFrom(
        formatV4(c.bytes),
        `::ffff:${formatV4(c.bytes)}`,
        formatV6([...MAPPED, ...c.bytes], false),
      );

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function reference(ranges: Range[], client: Addr): boolean {
  const list = new BlockList();
  for (const r of ranges) list.addSubnet(format(r.net), r.prefix, r.net.family);
  return list.check(format(client), client.family);
}

describe('compileSources agrees with net.BlockList', () => {
  it('on one random range and clients near it, IPv4 and IPv6, mapped forms included', () => {
    const arbCase = arbRange.chain((range) =>
      fc
        .oneof(arbClientNear(range.net), arbAddr)
        .chain(arbEitherFamily)
        .chain((client) => arbClientText(client).map((text) => ({ range, client, text }))),
    );
    const outcomes = { hit: 0, miss: 0 };
    fc.assert(
      fc.property(arbCase, fc.boolean(), ({ range, client, text }, upper) => {
        const source = `${format(range.net, upper)}/${range.prefix}`;
        const expected = reference([range], client);
        outcomes[expected ? 'hit' : 'miss']++;
        expect(compileSources([source]).allows(text)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    // Both outcomes are well represented, so agreement means something.
    expect(Math.min(outcomes.hit, outcomes.miss)).toBeGreaterThan(400);
  });

  it('on lists of several ranges, before and after normalisation', () => {
    const arbCase = fc.array(arbRange, { minLength: 1, maxLength: 4 }).chain((ranges) =>
      fc
        .oneof(...ranges.map((r) => arbClientNear(r.net)), arbAddr)
        .chain(arbEitherFamily)
        .chain((client) => arbClientText(client).map((text) => ({ ranges, client, text }))),
    );
    fc.assert(
      fc.property(arbCase, ({ ranges, client, text }) => {
        const list = ranges.map((r) =>
          r.prefix === (r.net.family === 'ipv4' ? 32 : 128) ? format(r.net) : `${format(r.net)}/${r.prefix}`,
        );
        const expected = reference(ranges, client);
        expect(compileSources(list).allows(text)).toBe(expected);
        const normalised = normalizeSources(list);
        if (!normalised.ok) throw new Error(normalised.errors.join('; '));
        expect(compileSources(normalised.sources).allows(text)).toBe(expected);
        expect(normalizeSources(normalised.sources)).toEqual(normalised);
      }),
      { numRuns: 600 },
    );
  });
});

describe('compileSources', () => {
  it('allows any source for an empty list', () => {
    expect(compileSources([]).allows('203.0.113.7')).toBe(true);
    expect(compileSources([]).allows('2001:db8::1')).toBe(true);
  });

  it('refuses a client address it cannot parse', () => {
    const m = compileSources(['0.0.0.0/0', '::/0']);
    for (const bad of [
      '',
      'localhost',
      '10.0.0',
      '010.0.0.1',
      '10.0.0.1:8080',
      '::1.2.3.4',
      '[10.0.0.1',
      'unknown',
    ]) {
      expect(m.allows(bad)).toBe(false);
    }
  });

  it('treats IPv4-mapped IPv6 as the IPv4 address, on both sides', () => {
    const v4 = compileSources(['10.0.0.0/8']);
    expect(v4.allows('::ffff:10.1.2.3')).toBe(true);
    expect(v4.allows('[::ffff:a01:203]')).toBe(true);
    expect(v4.allows('::ffff:11.0.0.1')).toBe(false);
    const mapped = compileSources(['::ffff:10.0.0.0/104']);
    expect(mapped.sources).toEqual(['10.0.0.0/8']);
    expect(mapped.allows('10.255.0.1')).toBe(true);
    expect(mapped.allows('11.0.0.1')).toBe(false);
    // Not mapped: ::a01:203 is a different (IPv4-compatible) address.
    expect(v4.allows('::a01:203')).toBe(false);
  });

  it('throws on an invalid entry rather than dropping it (an empty list would allow everyone)', () => {
    expect(() => compileSources(['nonsense'])).toThrow(/allowed source \[0\] "nonsense"/);
  });
});

describe('parseSource and normalizeSources', () => {
  it('normalises addresses and CIDRs', () => {
    const cases: [string, string][] = [
      ['203.0.113.7', '203.0.113.7/32'],
      ['10.1.2.3/8', '10.0.0.0/8'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['192.168.1.255/23', '192.168.0.0/23'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1/128'],
      ['2001:db8::1/32', '2001:db8::/32'],
      ['2001:0db8:0000:0000:0001:0000:0000:0000/64', '2001:db8::/64'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1/128'],
      ['::', '::/128'],
      ['::/0', '::/0'],
      ['fe80::1:2/10', 'fe80::/10'],
      ['::ffff:10.0.0.1', '10.0.0.1/32'],
      ['::ffff:10.1.0.0/104', '10.0.0.0/8'],
      ['::ffff:0:0/96', '0.0.0.0/0'],
      ['::ffff:0:0/80', '::/80'],
      ['0:0:0:0:0:0:1.2.3.4', '::102:304/128'],
    ];
    for (const [input, cidr] of cases) {
      expect(parseSource(input)).toMatchObject({ ok: true, source: { cidr } });
    }
    expect(parseSource('2001:db8::/32')).toEqual({
      ok: true,
      source: { kind: 'ipv6', network: '2001:db8::', prefix: 32, cidr: '2001:db8::/32' },
    });
  });

  it('removes duplicates after normalising and keeps the order', () => {
    expect(
      normalizeSources([
        '10.0.0.1',
        '2001:db8::/32',
        '10.0.0.1/32',
        '::ffff:10.0.0.1',
        '10.9.9.9/8',
        '10.0.0.0/8',
      ]),
    ).toEqual({ ok: true, sources: ['10.0.0.1/32', '2001:db8::/32', '10.0.0.0/8'] });
  });

  it('refuses anything else, naming the field index and the value', () => {
    const bad = [
      '10.0.0.256',
      '010.0.0.1',
      '10.0.0',
      '0x0a.0.0.1',
      '10.0.0.0/33',
      '10.0.0.0/08',
      '10.0.0.0/',
      '/8',
      '2001:db8::/129',
      'fe80::1%eth0',
      '::1.2.3.4',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      'foo',
      '',
      ' 10.0.0.1',
    ];
    const r = normalizeSources(['10.0.0.0/8', ...bad]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(bad.length);
    bad.forEach((s, i) => {
      expect(r.errors[i]).toMatch(
        new RegExp(`^spec\\.allowedSources\\[${i + 1}\\] ${escapeRegExp(JSON.stringify(s))} `),
      );
    });
    expect(r.errors[4]).toMatch(/prefix length: expected a whole number from 0 to 32/);
    expect(r.errors[9]).toMatch(/zone/);
  });
});

describe('parseClientAddress', () => {
  it('accepts what sockets and proxies report', () => {
    expect(parseClientAddress('203.0.113.7')).toEqual({ ok: true, kind: 'ipv4', address: '203.0.113.7' });
    expect(parseClientAddress('[::1]')).toEqual({ ok: true, kind: 'ipv6', address: '::1' });
    expect(parseClientAddress(' 2001:DB8::1 ')).toEqual({ ok: true, kind: 'ipv6', address: '2001:db8::1' });
    expect(parseClientAddress('::ffff:10.0.0.1')).toEqual({ ok: true, kind: 'ipv4', address: '10.0.0.1' });
    expect(parseClientAddress('fe80::1%eth0')).toEqual({ ok: true, kind: 'ipv6', address: 'fe80::1' });
    expect(parseClientAddress('not-an-ip')).toEqual({
      ok: false,
      message: '"not-an-ip" is not an IP address',
    });
    expect(parseClientAddress('10.0.0.1/32').ok).toBe(false);
  });
});
