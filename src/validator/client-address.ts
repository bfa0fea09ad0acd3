import { compileSources, parseClientAddress, type SourceMatcher } from '../rules/index.ts';

// Who is the client? The TCP peer, unless the peer is one of our configured proxies: then
// X-Forwarded-For is read from the right, skipping trusted proxies, and the first hop that is not
// trusted is the client (each proxy appends the address it saw, so only the hops our own proxies
// added can be believed; anything further left was written by the client and may be forged).

export class ClientAddressResolver {
  readonly #trusted: SourceMatcher | undefined;

  constructor(trustedProxies: readonly string[]) {
    // compileSources of an empty list allows everything; no proxies configured means trust no one.
    this.#trusted = trustedProxies.length > 0 ? compileSources(trustedProxies) : undefined;
  }

  isTrusted(address: string | undefined): boolean {
    return address !== undefined && this.#trusted?.allows(address) === true;
  }

  /**
   * The client's address, normalised (IPv4-mapped IPv6 becomes IPv4), or undefined when the chain holds
   * something that is not an address: an unknown client never matches an allowlist (fail closed).
   */
  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
    const p = peer === undefined ? undefined : normalisePeer(peer);
    if (p === undefined || !this.isTrusted(p) || forwardedFor === undefined) return p;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = p;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalise(stripPort(hops[i]?.trim() ?? ''));
      if (hop === undefined) return undefined;
      client = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    // Every hop was one of our proxies: the leftmost is as close to the client as we can see.
    return client;
  }

  /** The X-Forwarded-For to pass upstream: the trusted chain plus the peer, or just the peer. */
  forwardedFor(peer: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
    const p = peer === undefined ? undefined : normalisePeer(peer);
    if (p === undefined) return undefined;
    if (!this.isTrusted(p) || forwardedFor === undefined) return p;
    const prior = Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor;
    return prior.trim() === '' ? p : `${prior}, ${p}`;
  }
}

// TCP peers (from the kernel, not the client's bytes) repeat: the ingress, the node, loopback. Each is
// parsed once; the memo is emptied when it grows large.
const peers = new Map<string, string | undefined>();
function normalisePeer(peer: string): string | undefined {
  if (peers.has(peer)) return peers.get(peer);
  if (peers.size >= 4096) peers.clear();
  const p = normalise(peer);
  peers.set(peer, p);
  return p;
}

function normalise(address: string): string | undefined {
  const r = parseClientAddress(address);
  return r.ok ? r.address : undefined;
}

/** `203.0.113.7:4711` and `[2001:db8::1]:443` appear in some proxies' headers; a bare IPv6 has no port. */
function stripPort(hop: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (v6) return v6[1] ?? hop;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4 ? (v4[1] ?? hop) : hop;
}
