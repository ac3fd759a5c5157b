import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import proxyAddr from 'proxy-addr';

/** Decides whether a peer address is a trusted proxy (the compiled --trust-proxy list). */
export type TrustProxy = (address: string, hop: number) => boolean;

/** Compiles a list of addresses and CIDR ranges; throws on an entry that is neither. */
export function compileTrust(list: readonly string[]): TrustProxy {
  return proxyAddr.compile([...list]);
}

/**
 * The key every per-address limit counts under: an IPv4 address, or the /64 of an IPv6 address (one
 * subscriber usually holds a whole /64, so single IPv6 addresses would cost an attacker nothing).
 */
export function addressKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  if (ip.kind() === 'ipv4') return ip.toString();
  return `${ip.toNormalizedString().split(':').slice(0, 4).join(':')}::/64`;
}

/**
 * The client's address for a request: the TCP peer, unless that peer is a trusted proxy, in which
 * case the nearest untrusted address of X-Forwarded-For (what the proxy saw). A forwarded entry that
 * is not an address falls back to the peer, so a broken proxy cannot invent keys.
 */
export function clientAddressOf(request: IncomingMessage, trust: TrustProxy): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  const forwarded = proxyAddr(request, trust);
  return addressKey(ipaddr.isValid(forwarded) ? forwarded : peer);
}
