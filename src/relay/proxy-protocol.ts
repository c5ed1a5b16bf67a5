/**
 * The PROXY protocol, version 2 (HAProxy's binary header,
 * https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt): the relay
 * writes one in front of each connection it forwards; a home listener with
 * `proxyProtocol: true` reads it.
 *
 * Written here rather than taken from npm: the two packages there
 * (proxy-protocol-js, @balena/proxy-protocol-parser) parse a whole buffer,
 * not a stream that arrives in pieces; the first ignores the length field (so
 * TLVs and the client's first bytes run together) and throws objects that are
 * not Errors, the second pulls in an old ip-address. The format is a fixed
 * 16-byte prefix and fixed-size address blocks: a few clear lines, tested
 * against HAProxy as sender and receiver (test/relay/proxy-protocol.test.ts).
 */
import { canonicalIp, formatIp, parseIp, type ParsedIp } from '../net/ip.ts';

/** `\r\n\r\n\0\r\nQUIT\n`: no HTTP request or TLS record starts this way. */
export const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const PREFIX_LENGTH = 16;
const VERSION_2 = 0x20;
const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
const FAMILY_UNSPEC = 0x0;
const FAMILY_INET = 0x1;
const FAMILY_INET6 = 0x2;
const TRANSPORT_STREAM = 0x1;
/** Addresses take at most 216 bytes (two unix paths); TLVs from HAProxy (ALPN, authority, unique id, SSL) fit well within this. */
export const MAX_HEADER_LENGTH = 4096;

export interface Endpoint {
  address: string;
  port: number;
}

export type ProxyHeader =
  /** More bytes are needed. */
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /** `length` bytes make the header; `source` is the client, or null for LOCAL (the sender's own connection, e.g. a health check) and unspecified families. */
  | { kind: 'header'; length: number; source: Endpoint | null };

/** Reads a v2 header from the start of `data`. */
export function parseProxyHeader(data: Buffer): ProxyHeader {
  const known = Math.min(data.length, SIGNATURE.length);
  if (data.subarray(0, known).compare(SIGNATURE, 0, known) !== 0) {
    if (data.subarray(0, 6).toString('latin1') === 'PROXY ') return { kind: 'invalid', reason: 'a PROXY protocol v1 (text) header; Kirin reads v2 (HAProxy: send-proxy-v2)' };
    return { kind: 'invalid', reason: 'no PROXY protocol v2 header' };
  }
  if (data.length < PREFIX_LENGTH) return { kind: 'incomplete' };
  const versionCommand = data[12]!;
  const familyTransport = data[13]!;
  const length = PREFIX_LENGTH + data.readUInt16BE(14);
  if ((versionCommand & 0xf0) !== VERSION_2) return { kind: 'invalid', reason: `PROXY protocol version ${versionCommand >> 4}, not 2` };
  const command = versionCommand & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return { kind: 'invalid', reason: `unknown PROXY command ${command}` };
  if (length > MAX_HEADER_LENGTH) return { kind: 'invalid', reason: `a PROXY header of ${length} bytes (at most ${MAX_HEADER_LENGTH})` };
  if (data.length < length) return { kind: 'incomplete' };
  const family = familyTransport >> 4;
  if (command === COMMAND_LOCAL || family === FAMILY_UNSPEC) return { kind: 'header', length, source: null };
  const size = family === FAMILY_INET ? 4 : family === FAMILY_INET6 ? 16 : 0;
  // AF_UNIX and unknown families carry no address we can use: the socket's own stands.
  if (size === 0) return { kind: 'header', length, source: null };
  if (length < PREFIX_LENGTH + 2 * size + 4) return { kind: 'invalid', reason: 'a PROXY header too short for its addresses' };
  const bytes = Uint8Array.prototype.slice.call(data, PREFIX_LENGTH, PREFIX_LENGTH + size);
  const text = formatIp({ family: size === 4 ? 4 : 6, bytes });
  // An IPv4-mapped IPv6 source is the IPv4 client it maps, as the socket would show it.
  const address = canonicalIp(text) ?? text;
  const port = data.readUInt16BE(PREFIX_LENGTH + 2 * size);
  return { kind: 'header', length, source: { address, port } };
}

/** A PROXY (not LOCAL) header over TCP from `source` (the client) to `destination` (the address it connected to). */
export function encodeProxyHeader(source: Endpoint, destination: Endpoint): Buffer {
  let from = parseIp(source.address);
  let to = parseIp(destination.address);
  if (!from || !to) throw new TypeError(`not IP addresses: ${source.address}, ${destination.address}`);
  // Both ends of one connection share a family, unless one side shows an IPv4-mapped IPv6 address.
  if (from.family !== to.family) {
    from = asIpv6(from);
    to = asIpv6(to);
  }
  const size = from.family === 4 ? 4 : 16;
  const header = Buffer.alloc(PREFIX_LENGTH + 2 * size + 4);
  SIGNATURE.copy(header, 0);
  header[12] = VERSION_2 | COMMAND_PROXY;
  header[13] = ((size === 4 ? FAMILY_INET : FAMILY_INET6) << 4) | TRANSPORT_STREAM;
  header.writeUInt16BE(2 * size + 4, 14);
  header.set(from.bytes, PREFIX_LENGTH);
  header.set(to.bytes, PREFIX_LENGTH + size);
  header.writeUInt16BE(source.port, PREFIX_LENGTH + 2 * size);
  header.writeUInt16BE(destination.port, PREFIX_LENGTH + 2 * size + 2);
  return header;
}

/**
 * A LOCAL header: "this connection is the sender's own" (no client). The
 * relay's health probes send it, so the home end counts them as neither
 * refused nor relayed.
 */
export function encodeLocalHeader(): Buffer {
  const header = Buffer.alloc(PREFIX_LENGTH);
  SIGNATURE.copy(header, 0);
  header[12] = VERSION_2 | COMMAND_LOCAL;
  header[13] = (FAMILY_UNSPEC << 4) | 0;
  return header;
}

function asIpv6(ip: ParsedIp): ParsedIp {
  if (ip.family === 6) return ip;
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(ip.bytes, 12);
  return { family: 6, bytes };
}
