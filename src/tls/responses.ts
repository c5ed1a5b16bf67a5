/**
 * The response objects of the https listeners, for HTTP/1.1 and HTTP/2. Three
 * things differ from node:http's:
 *
 * - Strict-Transport-Security. A TLS site's step (site-middleware.ts) marks the response
 *   (`[kHsts]`) and the header joins whatever the handler passes to
 *   writeHead. Setting it with setHeader before a writeHead with a header list
 *   (the fetch fast path) sends node:http down its slow merge path, which cost
 *   ~5% of a hello world's requests per second over TLS.
 * - HTTP/2 forbids connection-specific header fields (RFC 9113 §8.2.2); Node
 *   drops `Connection` with a warning but throws on `Transfer-Encoding`,
 *   `Keep-Alive`, `Upgrade` … — so an app that sets one works over HTTP/1.1 and
 *   answers 500 over HTTP/2. Over HTTP/2 they are dropped, as a proxy between
 *   the two would.
 * - A flat header list given to the HTTP/2 writeHead is set field by field.
 *   Node's compatibility writeHead removes each listed name, then appends it
 *   (which validates it and calls setHeader, which validates it again): three
 *   passes over every field of every response, where one does when no name
 *   repeats in the list.
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import { emitWithCloseHook, initResponseHooks, KirinServerResponse, kOnClose, kSendWhole, kWatchBytes, kWatchCtx, kWatchStart, kWatchUrl, type WholeSender } from '../worker/outgoing.ts';
import type { NodeResponse } from '../worker/context.ts';
import { forgetResponse, watchResponse } from './send-timeout.ts';
import { isConnectionSpecific } from '../worker/http-fields.ts';
import { HSTS, kHsts, type HstsResponse } from './hsts.ts';

const kOwnHsts = Symbol('kirin.ownHsts');
const kHeadersSet = Symbol('kirin.headersSet');

type HeadersArgument = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;

/** HTTP/1.1 over TLS. */
export class TlsResponse extends KirinServerResponse implements HstsResponse {
  declare [kHsts]: string | null;

  // Spelled out: the implicit derived constructor spreads its arguments on every response.
  constructor(req: ConstructorParameters<typeof KirinServerResponse>[0], options?: object) {
    super(req, options);
    // Present from birth: the site middleware sets it on every response of an HSTS site, and a field added later changes the object's shape.
    this[kHsts] = null;
  }

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
export class Http2Response extends Http2ServerResponse implements HstsResponse, WholeSender {
  declare [kHsts]: string | null;
  /** The handler set Strict-Transport-Security itself (its value wins). */
  declare [kOwnHsts]: boolean;
  /** setHeader, appendHeader or a trailer was set: the response is not the handler's alone. */
  declare [kHeadersSet]: boolean;
  declare [kOnClose]: ((res: NodeResponse) => void) | undefined;
  declare [kWatchCtx]: unknown;
  declare [kWatchStart]: number;
  declare [kWatchBytes]: number;
  declare [kWatchUrl]: string;

  // Spelled out: the implicit derived constructor spreads its arguments on every response.
  constructor(stream: ServerHttp2Stream) {
    super(stream);
    // Present from birth, as on HTTP/1.1 (worker/outgoing.ts): the site middleware and the request path's
    // metrics set these on most responses, and each field added later would change the object's shape.
    this[kHsts] = null;
    this[kOwnHsts] = false;
    this[kHeadersSet] = false;
    initResponseHooks(this);
    // Its own emit, as initResponseHooks sets one: the close also takes it off the send-timeout watch.
    (this as unknown as { emit: typeof emitAndForget }).emit = emitAndForget;
    watchResponse(this);
  }

  override setHeader(name: string, value: number | string | readonly string[]): void {
    this[kHeadersSet] = true;
    if (isConnectionSpecific(name, value)) return;
    if (isHsts(name)) this[kOwnHsts] = true;
    super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | string[]): void {
    this[kHeadersSet] = true;
    if (isConnectionSpecific(name, value)) return;
    if (isHsts(name)) this[kOwnHsts] = true;
    super.appendHeader(name, value);
  }

  // Trailers need the compatibility response's own ending (it asks the stream for them): no whole sending then.
  // Node's own, left out of @types/node.
  setTrailer(name: string, value: string): void {
    this[kHeadersSet] = true;
    (Http2ServerResponse.prototype as unknown as { setTrailer(name: string, value: string): void }).setTrailer.call(this, name, value);
  }

  override addTrailers(headers: OutgoingHttpHeaders): void {
    this[kHeadersSet] = true;
    super.addTrailers(headers);
  }

  /**
   * The fetch path's commonest answer (a string body, Kirin's own frozen head
   * of content-type and content-length) straight to the stream: one
   * `respond()` with a header object made once per head, then `end(body)`.
   * Node's compatibility response would validate and lower-case every field
   * into its own map, copy the map for `respond()` (which checks each field
   * again), and ask for trailers on every response — a 'wantTrailers' event
   * and an empty trailing frame. Only while nothing else has touched the
   * response: no header set, no hook on writeHead, write or end (on-headers.ts,
   * compression), no trailers, a status with a body and not a HEAD request, the
   * stream fresh. Afterwards the response reads as ended, with its status, like
   * one that went Node's way — but its fields are not in the response's map
   * (getHeader() finds none; `res.stream.sentHeaders` has them).
   */
  [kSendWhole](status: number, head: readonly string[], body: string): boolean {
    const stream = this.stream;
    if (this[kHeadersSet] || this.writeHead !== protoWriteHead || this.write !== protoWrite || this.end !== protoEnd) return false;
    if (stream.headersSent || stream.destroyed || stream.closed || this.writableEnded || !this.sendDate) return false;
    // respond() ends the stream by itself for these: there is no body to send after it.
    if ((stream as ServerHttp2Stream & { headRequest?: boolean }).headRequest === true || status < 200 || status === 204 || status === 205 || status === 304) return false;
    this.statusCode = status;
    stream.respond(responseFields(status, head, this[kHsts]), RESPOND_OPTIONS);
    stream.end(body);
    // The compatibility response's own end: it marks itself ending (writableEnded, finished); the stream is ended already.
    super.end();
    return true;
  }

  override writeHead(statusCode: number, reason?: unknown, headers?: unknown): this {
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    const stream = this.stream;
    // Not when Node's writeHead would do nothing (the stream is gone) or throw (the head is out): it decides those.
    if (isFlatList(headers) && !stream.headersSent && !stream.destroyed && !stream.closed && !repeatsName(headers)) {
      this.#setEach(headers);
      // No header argument: Node's writeHead then only sends the head.
      const write = super.writeHead as (status: number, reason?: string) => this;
      return reason === undefined ? write.call(this, statusCode) : write.call(this, statusCode, reason as string);
    }
    if (headers !== undefined && headers !== null) headers = withoutConnectionSpecific(headers as OutgoingHttpHeaders | OutgoingHttpHeader[]);
    const hsts = this[kHsts];
    // Node's compatibility writeHead merges a header list into the headers set so far anyway: no need to copy the list.
    if (hsts !== null && !this[kOwnHsts] && !listsHsts(headers as HeadersArgument)) super.setHeader(HSTS, hsts);
    const write = super.writeHead as (status: number, ...rest: unknown[]) => this;
    return reason === undefined ? write.call(this, statusCode, headers) : write.call(this, statusCode, reason, headers);
  }

  /**
   * A flat list without repeated names, as setHeader calls: what Node's writeHead
   * ends with for such a list (each listed field replaces one set before), in
   * one pass. Connection-specific fields are dropped; Strict-Transport-Security
   * joins unless the handler set or listed its own.
   */
  #setEach(headers: readonly OutgoingHttpHeader[]): void {
    let ownHsts = this[kOwnHsts];
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      const value = headers[i + 1]!;
      if (isConnectionSpecific(name, value)) continue;
      if (isHsts(name)) ownHsts = true;
      super.setHeader(name, value);
    }
    const hsts = this[kHsts];
    if (hsts !== null && !ownHsts) super.setHeader(HSTS, hsts);
  }
}

const protoWriteHead = Http2Response.prototype.writeHead;
const protoWrite = Http2Response.prototype.write;
const protoEnd = Http2Response.prototype.end;
/** No trailers asked for (Node's compatibility response always asks); the Date field as it adds it. */
const RESPOND_OPTIONS = Object.freeze({ endStream: false, sendDate: true });

/**
 * The header object `respond()` gets for a head (and status, and HSTS value):
 * made once and reused while they repeat, as they do response after response
 * (respond() copies it, never changes it). A frozen head cannot have changed since.
 */
let fieldsHead: readonly string[] | null = null;
let fieldsStatus = 0;
let fieldsHsts: string | null = null;
let fields: Readonly<Record<string, string | number>> = {};

function responseFields(status: number, head: readonly string[], hsts: string | null): Readonly<Record<string, string | number>> {
  if (head === fieldsHead && status === fieldsStatus && hsts === fieldsHsts) return fields;
  const made: Record<string, string | number> = { ':status': status };
  for (let i = 0; i < head.length; i += 2) made[head[i]!] = head[i + 1]!;
  if (hsts !== null) made[HSTS] = hsts;
  if (!Object.isFrozen(head)) return made;
  fieldsHead = head;
  fieldsStatus = status;
  fieldsHsts = hsts;
  fields = Object.freeze(made);
  return fields;
}

/** Longer lists go Node's way: the check for repeated names below is quadratic. */
const MAX_SET_EACH = 32;

/**
 * A flat [name, value, …] list of names as they will be stored (strings, no
 * surrounding whitespace for Node to trim), short enough to check for repeats.
 * Anything else (pairs, odd lengths, odd names) goes Node's way, errors included.
 */
function isFlatList(headers: unknown): headers is readonly OutgoingHttpHeader[] {
  if (!Array.isArray(headers) || headers.length % 2 !== 0 || headers.length > MAX_SET_EACH) return false;
  for (let i = 0; i < headers.length; i += 2) {
    const name: unknown = headers[i];
    if (typeof name !== 'string' || name.length === 0 || name.charCodeAt(0) <= 32 || name.charCodeAt(name.length - 1) <= 32) return false;
  }
  return true;
}

/** True when a flat list names a field twice (set-cookie …): Node's writeHead keeps every value, so it goes that way. */
function repeatsName(headers: readonly OutgoingHttpHeader[]): boolean {
  for (let i = 2; i < headers.length; i += 2) {
    const name = headers[i] as string;
    for (let j = 0; j < i; j += 2) {
      const other = headers[j] as string;
      if (name.length === other.length && (name === other || name.toLowerCase() === other.toLowerCase())) return true;
    }
  }
  return false;
}

/**
 * The last frozen header list given HSTS, and the list with it. Kirin's own
 * lists are frozen (the head of the fetch path's `new Response(text)`,
 * handlers/app/write-response.ts) and come back response after response: their
 * copy with HSTS is made once. A frozen list cannot have changed since.
 */
let frozenList: readonly OutgoingHttpHeader[] | null = null;
let frozenHsts = '';
let frozenWithHsts: readonly OutgoingHttpHeader[] = [];

/** The headers with Strict-Transport-Security added, unless the handler set its own. Never changes the caller's list. */
function withHsts(res: { hasHeader(name: string): boolean; setHeader(name: string, value: string): unknown }, headers: HeadersArgument, hsts: string): HeadersArgument {
  if (res.hasHeader(HSTS)) return headers;
  if (headers === frozenList && hsts === frozenHsts) return frozenWithHsts as OutgoingHttpHeader[];
  if (listsHsts(headers)) return headers;
  if (headers === undefined || headers === null) {
    res.setHeader(HSTS, hsts);
    return headers;
  }
  if (Array.isArray(headers)) {
    // A copy (slice, not concat: V8's concat is several times slower for this).
    const copy = headers.slice();
    if (headers.length > 0 && Array.isArray(headers[0])) (copy as unknown as [string, string][]).push([HSTS, hsts]);
    else copy.push(HSTS, hsts);
    if (Object.isFrozen(headers)) {
      frozenList = headers;
      frozenHsts = hsts;
      frozenWithHsts = Object.freeze(copy);
    }
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

/** Http2Response's emit: the close hook as on HTTP/1.1, and the stream leaves the send-timeout watch. */
function emitAndForget(this: Http2Response, event: string | symbol): boolean {
  if (event === 'close') forgetResponse(this);
  // `arguments` as it is, as emitWithCloseHook does: no array per event.
  return emitWithCloseHook.apply(this as never, arguments as never);
}
