/**
 * The one header filter between a client and an upstream, used both ways.
 *
 * Hop-by-hop headers describe one connection, not the message (RFC 9110 §7.6.1),
 * so they never cross the proxy: Connection, Keep-Alive, Proxy-Connection, TE,
 * Trailer, Transfer-Encoding, Upgrade, and every header the sender lists in
 * Connection. Also dropped:
 * - Proxy-Authorization / Proxy-Authenticate: credentials for a proxy (RFC 2616
 *   lists them as hop-by-hop; Go's ReverseProxy drops them too). Kirin is not a
 *   forward proxy, so a client's proxy password must not reach an app.
 * - Expect: Node already answered `100-continue` to the client.
 * - HTTP2-Settings and HTTP/2 pseudo-headers (':path' …), which only mean
 *   something on the client's own connection.
 *
 * A client cannot use Connection to strip what Kirin itself vouches for
 * (X-Forwarded-For/Proto/Host, set by the pipeline's applyForwarding) or the
 * message framing (Host, Content-Length): `Connection: X-Forwarded-For` is a
 * known trick to make an app see the proxy instead of the client.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
  'http2-settings',
]);

const PROTECTED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'host', 'content-length']);

export type HeaderMap = Record<string, string | string[]>;

/** A copy of `headers` without hop-by-hop fields. Names must be lower case (Node and undici give them so). */
export function endToEndHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders | Record<string, string | string[] | undefined>): HeaderMap {
  const listed = connectionOptions(headers.connection);
  const out: HeaderMap = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name.charCodeAt(0) === 58 /* ':' */) continue;
    if (listed !== null && listed.has(name) && !PROTECTED.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value as string | string[];
  }
  return out;
}

/** True when a header name is hop-by-hop by itself (whatever Connection lists). */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/** The header names a Connection header lists, beyond the usual 'keep-alive'/'close'; null when none. */
function connectionOptions(value: unknown): Set<string> | null {
  if (value === undefined || value === null) return null;
  const text = Array.isArray(value) ? value.join(',') : String(value);
  // The common cases carry no header names.
  if (text.length <= 10) {
    const lower = text.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return null;
  }
  let names: Set<string> | null = null;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive' || name === 'upgrade') continue;
    (names ??= new Set()).add(name);
  }
  return names;
}
