/**
 * The one header filter between a client and an upstream on the full path,
 * used both ways: hop-by-hop fields never cross the proxy, nor any field the
 * sender lists in Connection, except those no Connection option can remove.
 * The rules themselves are worker/http-fields.ts's, which the fast lane's
 * relay follows too.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { isHopByHop, readConnection, removableByConnection, type ConnectionOptions } from '../../worker/http-fields.ts';

export type HeaderMap = Record<string, string | string[]>;

/** A copy of `headers` without hop-by-hop fields. Names must be lower case (Node and undici give them so). */
export function endToEndHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders | Record<string, string | string[] | undefined>): HeaderMap {
  const listed = connectionListed(headers.connection);
  const out: HeaderMap = {};
  for (const name in headers) {
    if (isHopByHop(name) || name.charCodeAt(0) === 58 /* ':' */) continue;
    if (listed !== null && listed.has(name) && removableByConnection(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value as string | string[];
  }
  return out;
}

/** The fields a Connection header (one value or several) lists; null when none. */
function connectionListed(value: unknown): Set<string> | null {
  if (value === undefined || value === null) return null;
  const options: ConnectionOptions = { close: false, keepAlive: false, listed: null };
  readConnection(Array.isArray(value) ? value.join(',') : String(value), options);
  return options.listed;
}
