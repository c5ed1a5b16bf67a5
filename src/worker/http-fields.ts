/**
 * The HTTP field rules both lanes follow — node:http's full path and the fast
 * lane's raw bytes (fast-lane.ts, simple-request.ts, proxy/relay.ts) — in one
 * place, so the two cannot drift apart:
 *
 * - which fields describe a connection rather than the message (hop-by-hop,
 *   RFC 9110 §7.6.1), and which of them HTTP/2 forbids (RFC 9113 §8.2.2);
 * - how a Connection field is read (close, keep-alive, and the fields it
 *   makes hop-by-hop for this message);
 * - which fields no Connection option can remove;
 * - Kirin's X-Forwarded-* view of a request, as a header object and as field lines.
 */
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Fields that only mean something on one connection. HTTP/2 forbids them
 * (RFC 9113 §8.2.2; `TE: trailers` is the one exception, see isConnectionSpecific).
 */
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings'] as const;

/**
 * What never crosses Kirin between a client and an upstream, either way: the
 * connection-specific fields, and
 * - Trailer: announces trailers of this hop's framing;
 * - Proxy-Authorization / Proxy-Authenticate: credentials for a proxy (RFC 2616
 *   lists them as hop-by-hop; Go's ReverseProxy drops them too). Kirin is not a
 *   forward proxy, so a client's proxy password must not reach an app;
 * - Expect: Node already answered `100-continue` to the client.
 */
export const HOP_BY_HOP_FIELDS: ReadonlySet<string> = new Set([...CONNECTION_SPECIFIC, 'trailer', 'proxy-authorization', 'proxy-authenticate', 'expect']);

/**
 * Fields a Connection option cannot make hop-by-hop: what Kirin vouches for
 * (X-Forwarded-For/Proto/Host) and the message's framing (Host,
 * Content-Length). `Connection: X-Forwarded-For` is a known trick to make an
 * app see the proxy instead of the client.
 */
const PROTECTED_FIELDS: ReadonlySet<string> = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'host', 'content-length']);

/** True when a field (lower-case name) is hop-by-hop by itself, whatever Connection lists. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP_FIELDS.has(name);
}

/** True when a Connection option naming `name` (lower case) removes that field. */
export function removableByConnection(name: string): boolean {
  return !PROTECTED_FIELDS.has(name);
}

/** What one or more Connection fields say. */
export interface ConnectionOptions {
  close: boolean;
  keepAlive: boolean;
  /** The other fields it names, lower case (hop-by-hop for this message); null when none. */
  listed: Set<string> | null;
}

/** Reads a Connection field's value into `into` (several fields add up). */
export function readConnection(value: string, into: ConnectionOptions): void {
  // The common values name no field.
  if (value.length <= 10) {
    const lower = value.toLowerCase();
    if (lower === 'keep-alive') return void (into.keepAlive = true);
    if (lower === 'close') return void (into.close = true);
    if (lower === 'upgrade') return;
  }
  for (const token of value.toLowerCase().split(',')) {
    const option = token.trim();
    if (option === 'close') into.close = true;
    else if (option === 'keep-alive') into.keepAlive = true;
    // Upgrade is hop-by-hop already.
    else if (option !== '' && option !== 'upgrade') (into.listed ??= new Set()).add(option);
  }
}

/** True for the fields RFC 9113 §8.2.2 forbids in HTTP/2 (`TE` other than `trailers` included). Any case. */
export function isConnectionSpecific(name: string, value?: unknown): boolean {
  // Only names of these lengths can be one: most fields are passed over without a lower-cased copy.
  if (!CONNECTION_SPECIFIC_LENGTHS.has(name.length)) return false;
  const lower = name.toLowerCase();
  if (lower === 'te') return String(value).trim().toLowerCase() !== 'trailers';
  return (CONNECTION_SPECIFIC as readonly string[]).includes(lower);
}

const CONNECTION_SPECIFIC_LENGTHS = new Set(CONNECTION_SPECIFIC.map((name) => name.length));

/** Replaces whatever the client sent with Kirin's own X-Forwarded-* view of the request (the full path's header object). */
export function setForwardedHeaders(headers: IncomingHttpHeaders, client: string, scheme: string, host: string): void {
  headers['x-forwarded-for'] = client;
  headers['x-forwarded-proto'] = scheme;
  headers['x-forwarded-host'] = host;
  if (headers.forwarded !== undefined) delete headers.forwarded;
}

/** The same view as field lines, for a head the fast lane forwards as bytes (the client's own were left out of it). */
export function forwardedFieldLines(client: string, scheme: string, host: string): string {
  return `x-forwarded-for: ${client}\r\nx-forwarded-proto: ${scheme}\r\nx-forwarded-host: ${host}\r\n`;
}
