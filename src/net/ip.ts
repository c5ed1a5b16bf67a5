/**
 * IP addresses and CIDR ranges: one parser and one matcher for allow/deny lists,
 * trusted proxies and `kirin check`.
 *
 * Addresses are canonicalized before matching so that the odd spellings attackers
 * use to slip past allow-lists (`::ffff:127.0.0.1`, `127.1`, `0x7f.1`, `017700000001`)
 * compare equal to the plain form.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  /** 4 or 16 bytes. */
  bytes: Uint8Array;
}

/**
 * Parses an IPv4 address in any of the forms inet_aton accepts (decimal, octal,
 * hex, 1 to 4 parts), or an IPv6 address (IPv4-mapped ones become IPv4).
 */
export function parseIp(text: string): ParsedIp | null {
  if (text.length === 0 || text.length > 64) return null;
  let value = text;
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  const zone = value.indexOf('%');
  if (zone !== -1) value = value.slice(0, zone);
  if (value.includes(':')) return parseIpv6(value);
  return parseIpv4Loose(value);
}

function parseIpv4Loose(text: string): ParsedIp | null {
  if (isIPv4(text)) {
    const bytes = new Uint8Array(4);
    const parts = text.split('.');
    for (let i = 0; i < 4; i++) bytes[i] = Number(parts[i]);
    return { family: 4, bytes };
  }
  const parts = text.split('.');
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseInetNumber(part);
    if (n === null) return null;
    numbers.push(n);
  }
  // inet_aton: the last part fills the remaining bytes.
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255)) return null;
  const remaining = 4 - numbers.length;
  if (last >= 2 ** (8 * remaining)) return null;
  const bytes = new Uint8Array(4);
  numbers.forEach((n, i) => (bytes[i] = n));
  for (let i = 3, rest = last; i >= numbers.length; i--, rest = Math.floor(rest / 256)) bytes[i] = rest % 256;
  return { family: 4, bytes };
}

function parseInetNumber(part: string): number | null {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(part)) n = parseInt(part.slice(2), 16);
  else if (/^0[0-7]+$/.test(part)) n = parseInt(part.slice(1), 8);
  else if (/^(0|[1-9][0-9]*)$/.test(part)) n = Number(part);
  else return null;
  return Number.isSafeInteger(n) && n <= 0xffffffff ? n : null;
}

function parseIpv6(text: string): ParsedIp | null {
  if (!isIPv6(text)) return null;
  let head = text;
  const bytes = new Uint8Array(16);
  // An embedded dotted IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4).
  let tail: number[] = [];
  const lastColon = head.lastIndexOf(':');
  if (head.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4Loose(head.slice(lastColon + 1));
    if (!v4) return null;
    tail = [(v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!];
    head = head.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.split('::') as [string, string | undefined];
  const leftGroups = left ? left.split(':') : [];
  const rightGroups = right !== undefined && right !== '' ? right.split(':') : [];
  const groups: number[] = [];
  for (const g of leftGroups) groups.push(parseInt(g, 16));
  if (right !== undefined) for (let i = leftGroups.length + rightGroups.length; i < 8; i++) groups.push(0);
  for (const g of rightGroups) groups.push(parseInt(g, 16));
  if (groups.length !== 8) return null;
  if (tail.length) {
    groups[6] = tail[0]!;
    groups[7] = tail[1]!;
  }
  for (let i = 0; i < 8; i++) {
    bytes[i * 2] = groups[i]! >> 8;
    bytes[i * 2 + 1] = groups[i]! & 0xff;
  }
  // ::ffff:a.b.c.d is IPv4 on a dual-stack socket: treat it as the IPv4 address.
  if (isV4Mapped(bytes)) return { family: 4, bytes: bytes.slice(12) };
  return { family: 6, bytes };
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  // RFC 5952: compress the longest run of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The canonical text of an address ('127.0.0.1' for '::ffff:127.0.0.1'), or null if it is not one. */
export function canonicalIp(text: string): string | null {
  // The socket gives canonical text almost always: skip the parse for plain IPv4.
  if (isIPv4(text)) return text;
  const parsed = parseIp(text);
  return parsed ? formatIp(parsed) : null;
}

export interface CidrRange {
  family: IpFamily;
  bytes: Uint8Array;
  prefix: number;
  text: string;
}

/** Parses `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). */
export function parseCidr(text: string): CidrRange | null {
  const slash = text.indexOf('/');
  const ip = parseIp(slash === -1 ? text.trim() : text.slice(0, slash).trim());
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const raw = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(raw)) return null;
    prefix = Number(raw);
    // A mapped address with a v6 prefix (::ffff:10.0.0.0/104) keeps its meaning in v4 terms.
    if (ip.family === 4 && text.includes(':')) prefix -= 96;
    if (prefix < 0 || prefix > max) return null;
  }
  const bytes = ip.bytes.slice();
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family: ip.family, bytes, prefix, text: `${formatIp({ family: ip.family, bytes })}/${prefix}` };
}

function inRange(ip: ParsedIp, range: CidrRange): boolean {
  if (ip.family !== range.family) return false;
  const full = range.prefix >> 3;
  for (let i = 0; i < full; i++) if (ip.bytes[i] !== range.bytes[i]) return false;
  const rest = range.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip.bytes[full]! & mask) === range.bytes[full];
}

/**
 * A compiled list of addresses and ranges. Matching caches results per address,
 * since the same few clients make most requests.
 */
export class IpMatcher {
  readonly ranges: readonly CidrRange[];
  readonly #cache = new Map<string, boolean>();
  readonly matchesEverything: boolean;

  constructor(ranges: readonly CidrRange[]) {
    this.ranges = ranges;
    this.matchesEverything = ranges.some((r) => r.prefix === 0);
  }

  /** Compiles a list; returns the entries that are not addresses or ranges in `invalid`. */
  static compile(list: readonly string[]): { matcher: IpMatcher; invalid: string[] } {
    const ranges: CidrRange[] = [];
    const invalid: string[] = [];
    for (const entry of list) {
      const range = parseCidr(entry);
      if (range) ranges.push(range);
      else invalid.push(entry);
    }
    return { matcher: new IpMatcher(ranges), invalid };
  }

  matches(address: string): boolean {
    if (this.ranges.length === 0) return false;
    let hit = this.#cache.get(address);
    if (hit !== undefined) return hit;
    const ip = parseIp(address);
    hit = ip !== null && this.ranges.some((r) => inRange(ip, r));
    if (this.#cache.size > 4096) this.#cache.clear();
    this.#cache.set(address, hit);
    return hit;
  }
}

export function isLoopback(address: string): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  if (ip.family === 4) return ip.bytes[0] === 127;
  return ip.bytes.every((b, i) => (i === 15 ? b === 1 : b === 0));
}

