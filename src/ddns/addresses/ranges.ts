/**
 * Which addresses the internet can reach: the ones DNS may point at. Built on
 * the project's one CIDR matcher (src/net/ip.ts).
 */
import { IpMatcher, parseIp } from '../../net/ip.ts';

/** IANA special-purpose IPv4 ranges (RFC 6890): none of them is a reachable public address. */
const SPECIAL_IPV4 = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
];
const GLOBAL_UNICAST_V6 = IpMatcher.compile(['2000::/3']).matcher;
/** Documentation (RFC 3849) and Teredo (an address that changes with the NAT in front of it). */
const SPECIAL_V6 = IpMatcher.compile(['2001:db8::/32', '2001::/32']).matcher;
const SPECIAL_V4 = IpMatcher.compile(SPECIAL_IPV4).matcher;
/** RFC 6598's shared address space: what a carrier-grade NAT hands its customers. */
const SHARED_V4 = IpMatcher.compile(['100.64.0.0/10']).matcher;

export function isPublicAddress(address: string): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  if (ip.family === 4) return !SPECIAL_V4.matches(address);
  return GLOBAL_UNICAST_V6.matches(address) && !SPECIAL_V6.matches(address);
}

export function isSharedAddress(address: string): boolean {
  return SHARED_V4.matches(address);
}
