/**
 * The response objects of the https listeners, for HTTP/1.1 and HTTP/2. Two
 * things differ from node:http's:
 *
 * - Strict-Transport-Security. The site middleware marks the response
 *   (`[kHsts]`) and the header joins whatever the handler passes to
 *   writeHead. Setting it with setHeader before a writeHead with a header list
 *   (the fetch fast path) sends node:http down its slow merge path, which cost
 *   ~5% of a hello world's requests per second over TLS.
 * - HTTP/2 forbids connection-specific header fields (RFC 9113 §8.2.2); Node
 *   drops `Connection` with a warning but throws on `Transfer-Encoding`,
 *   `Keep-Alive`, `Upgrade` … — so an app that sets one works over HTTP/1.1 and
 *   answers 500 over HTTP/2. Over HTTP/2 they are dropped, as a proxy between
 *   the two would.
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { KirinServerResponse } from '../worker/outgoing.ts';
import { Http2ServerResponse } from 'node:http2';

export const HSTS = 'strict-transport-security';
/** The Strict-Transport-Security value this response gets, set by the site middleware. */
export const kHsts = Symbol('kirin.hsts');
const kOwnHsts = Symbol('kirin.ownHsts');

export interface HstsResponse {
  [kHsts]: string | null;
}

type HeadersArgument = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;

/** HTTP/1.1 over TLS. */
export class TlsResponse extends KirinServerResponse implements HstsResponse {
  /** null on the prototype (below): no per-response field to set up for the responses that never get it. */
  declare [kHsts]: string | null;

  override writeHead(statusCode: number, reason?: unknown, headers?: unknown): this {
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    const hsts = this[kHsts];
    if (hsts !== null) headers = withHsts(this, headers as HeadersArgument, hsts);
    return (super.writeHead as (status: number, reason?: unknown, headers?: unknown) => this)(statusCode, reason, headers);
  }
}

/** HTTP/2 (Node's compatibility response). */
export class Http2Response extends Http2ServerResponse implements HstsResponse {
  declare [kHsts]: string | null;
  /** The handler set Strict-Transport-Security itself (its value wins). */
  declare [kOwnHsts]: boolean;

  override setHeader(name: string, value: number | string | readonly string[]): void {
    if (isConnectionSpecific(name, value)) return;
    if (isHsts(name)) this[kOwnHsts] = true;
    super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | string[]): void {
    if (isConnectionSpecific(name, value)) return;
    if (isHsts(name)) this[kOwnHsts] = true;
    super.appendHeader(name, value);
  }

  override writeHead(statusCode: number, reason?: unknown, headers?: unknown): this {
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    if (headers !== undefined && headers !== null) headers = withoutConnectionSpecific(headers as OutgoingHttpHeaders | OutgoingHttpHeader[]);
    const hsts = this[kHsts];
    // Node's compatibility writeHead merges a header list into the headers set so far anyway: no need to copy the list.
    if (hsts !== null && !this[kOwnHsts] && !listsHsts(headers as HeadersArgument)) super.setHeader(HSTS, hsts);
    const write = super.writeHead as (status: number, ...rest: unknown[]) => this;
    return reason === undefined ? write.call(this, statusCode, headers) : write.call(this, statusCode, reason, headers);
  }
}

/** The headers with Strict-Transport-Security added, unless the handler set its own. Never changes the caller's list. */
function withHsts(res: { hasHeader(name: string): boolean; setHeader(name: string, value: string): unknown }, headers: HeadersArgument, hsts: string): HeadersArgument {
  if (res.hasHeader(HSTS) || listsHsts(headers)) return headers;
  if (headers === undefined || headers === null) {
    res.setHeader(HSTS, hsts);
    return headers;
  }
  if (Array.isArray(headers)) {
    // A copy (slice, not concat: V8's concat is several times slower for this).
    const copy = headers.slice();
    if (headers.length > 0 && Array.isArray(headers[0])) (copy as unknown as [string, string][]).push([HSTS, hsts]);
    else copy.push(HSTS, hsts);
    return copy;
  }
  return { ...headers, [HSTS]: hsts };
}

/** True when a writeHead header argument (flat list, pairs or object) has Strict-Transport-Security. */
function listsHsts(headers: HeadersArgument): boolean {
  if (headers === undefined || headers === null) return false;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return (headers as unknown as [string, unknown][]).some(([name]) => isHsts(name));
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (typeof name === 'string' ? isHsts(name) : isHsts(String(name))) return true;
    }
    return false;
  }
  for (const name in headers) if (isHsts(name)) return true;
  return false;
}

function isHsts(name: string): boolean {
  return name.length === 25 && name.toLowerCase() === HSTS;
}

/** True for the fields RFC 9113 §8.2.2 forbids (`TE` other than `trailers` included). */
export function isConnectionSpecific(name: string, value?: unknown): boolean {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === 'te' && String(value).trim().toLowerCase() !== 'trailers';
    case 7:
      return name.toLowerCase() === 'upgrade';
    case 10: {
      const lower = name.toLowerCase();
      return lower === 'connection' || lower === 'keep-alive';
    }
    case 14:
      return name.toLowerCase() === 'http2-settings';
    case 16:
      return name.toLowerCase() === 'proxy-connection';
    case 17:
      return name.toLowerCase() === 'transfer-encoding';
    default:
      return false;
  }
}

function withoutConnectionSpecific(headers: OutgoingHttpHeaders | OutgoingHttpHeader[]): OutgoingHttpHeaders | OutgoingHttpHeader[] {
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      const pairs = headers as unknown as [string, OutgoingHttpHeader][];
      return pairs.some(([n, v]) => isConnectionSpecific(n, v)) ? (pairs.filter(([n, v]) => !isConnectionSpecific(n, v)) as unknown as OutgoingHttpHeader[]) : headers;
    }
    // Flat [name, value, …]: copy only when there is something to drop (the fetch fast path never allocates here).
    let clean: OutgoingHttpHeader[] | null = null;
    for (let i = 0; i < headers.length; i += 2) {
      if (isConnectionSpecific(String(headers[i]), headers[i + 1])) clean ??= headers.slice(0, i);
      else if (clean !== null) clean.push(headers[i]!, headers[i + 1]!);
    }
    return clean ?? headers;
  }
  let copy: OutgoingHttpHeaders | null = null;
  for (const name in headers) {
    if (isConnectionSpecific(name, headers[name])) {
      copy ??= { ...headers };
      delete copy[name];
    }
  }
  return copy ?? headers;
}

// Defaults on the prototypes: most responses never set them.
(TlsResponse.prototype as HstsResponse)[kHsts] = null;
(Http2Response.prototype as HstsResponse)[kHsts] = null;
(Http2Response.prototype as unknown as Record<symbol, boolean>)[kOwnHsts] = false;
