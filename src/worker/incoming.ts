/**
 * The HTTP/1.1 request object of Kirin's servers. It shows the app Kirin's
 * X-Forwarded-* view of the client (src/worker/client.ts) — computed the first
 * time anyone reads `req.headers`, not before. Most of a hello-world's time
 * would otherwise go to building a header object nobody reads.
 */
import { IncomingMessage } from '../util/node-http.ts';
import type { Socket } from 'node:net';
import { setForwardedHeaders } from './http-fields.ts';
import type { RequestContext } from './context.ts';

/** The request's context until its forwarding headers are applied (on the first read of `headers`). */
export const kForward: unique symbol = Symbol('kirin.forward');
/** On the prototype of a request class whose `headers` getter applies them lazily. */
const kLazyForwarding = Symbol('kirin.lazyForwarding');
/** node:http's own way to drop an unread body (not in its typings). */
const nodeDump = (IncomingMessage.prototype as unknown as { _dump(this: IncomingMessage): void })._dump;
const kBodyLimit = Symbol('kirin.bodyLimit');
const kBodyBytes = Symbol('kirin.bodyBytes');
const kOverLimit = Symbol('kirin.overLimit');
const kBodyFate = Symbol('kirin.bodyFate');
const READ = 0;
const DISCARDING = 1;
const CLOSING = 2;

/**
 * How long a connection whose unread body passed the limit stays half-closed
 * before it is reset: the client's time to read the answer, which the reset
 * (unread bytes make the kernel send one) could otherwise take from it.
 * nginx's lingering_timeout.
 */
const LINGER_MS = 5000;

export class KirinIncomingMessage extends IncomingMessage {
  declare [kForward]: RequestContext | undefined;
  declare [kBodyLimit]: number | undefined;
  declare [kBodyBytes]: number;
  declare [kOverLimit]: (() => void) | undefined;
  /** What becomes of a body nobody reads: READ until the answer is out, then DISCARDING (`_dump`), then CLOSING past the limit. */
  declare [kBodyFate]: typeof READ | typeof DISCARDING | typeof CLOSING;

  // Spelled out: the implicit derived constructor spreads its arguments on every request.
  constructor(socket: Socket) {
    super(socket);
    // Present from birth: one shape for every request.
    this[kForward] = undefined;
    this[kBodyLimit] = undefined;
    this[kBodyBytes] = 0;
    this[kOverLimit] = undefined;
    this[kBodyFate] = READ;
  }

  /**
   * Node's parser pushes each body chunk here. A body without a declared length
   * (chunked) is counted as it arrives, whoever reads it — a Node listener app
   * included — and stopped with 413 once it passes the route's limit.
   */
  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    // What node:http parsed before the connection stopped being read: dropped.
    if (this[kBodyFate] === CLOSING) return false;
    const limit = this[kBodyLimit];
    if (limit !== undefined && chunk !== null) {
      this[kBodyBytes] += (chunk as Buffer).length;
      if (this[kBodyBytes] > limit) {
        this[kBodyLimit] = undefined;
        if (this[kBodyFate] === DISCARDING) {
          this[kBodyFate] = CLOSING;
          closeAfterAnswer(this.socket);
          return false;
        }
        this[kOverLimit]?.();
        this.destroy(Object.assign(new Error(`request body larger than ${limit} bytes`), { status: 413 }));
        return false;
      }
    }
    return super.push(chunk, encoding);
  }

  /**
   * node:http calls this once the response is done and nobody read the body
   * (a 403, 401, 405, a `respond` route): it would then throw the rest away
   * unread and uncounted, however long it runs. A body of unknown length is
   * still counted as it is thrown away, and past the route's limit the
   * connection is closed — nginx's discard with "client intended to send too
   * large chunked body". A body that ends within the limit leaves the
   * connection open for the next request, as it does in nginx.
   */
  _dump(): void {
    if (this[kBodyLimit] === undefined || this.complete) return nodeDump.call(this);
    // The answer went out already: past the limit there is nothing to answer, only the connection to close.
    this[kBodyFate] = DISCARDING;
    this.removeAllListeners('data');
    // Not marked dumped, so node:http keeps pushing the chunks here, where they are counted and dropped.
    this.resume();
  }

  /** A flowing request resumes its socket each time it wants more (node:http's `_read`): not once the connection is closing. */
  override _read(size: number): void {
    if (this[kBodyFate] !== CLOSING) super._read(size);
  }
}

/** Stops reading and half-closes `socket` after what it was sent; resets it if the client has not closed it within LINGER_MS. */
function closeAfterAnswer(socket: Socket): void {
  // node:http's server stops reading the connection's handle when its socket pauses.
  socket.pause();
  socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Counts a body of unknown length against `limit`; `onOverLimit` answers 413 (none: the connection is just closed). */
export function limitChunkedBody(req: KirinIncomingMessage, limit: number, onOverLimit: (() => void) | undefined): void {
  // The counting methods as the request's own properties: they outlive a prototype the app swaps in (Express does).
  req.push = KirinIncomingMessage.prototype.push;
  req._dump = KirinIncomingMessage.prototype._dump;
  req._read = KirinIncomingMessage.prototype._read;
  req[kBodyLimit] = limit;
  req[kBodyBytes] = 0;
  req[kOverLimit] = onOverLimit;
}

type Forwardable = { [kForward]: RequestContext | undefined };

/**
 * Replaces a prototype's `headers` getter with one that applies Kirin's forwarding headers on first read.
 * Its instances must set `this[kForward] = undefined` in their constructor (one shape for all).
 */
export function makeForwardingLazy(target: object, base: PropertyDescriptor | undefined): void {
  if (base?.get === undefined) return;
  const get = base.get;
  const set = base.set;
  Object.defineProperty(target, 'headers', {
    configurable: true,
    get(this: Forwardable) {
      const headers = get.call(this);
      const ctx = this[kForward];
      if (ctx !== undefined) {
        // Cleared first: resolving the client reads the original headers through this getter.
        this[kForward] = undefined;
        setForwardedHeaders(headers, ctx.clientIp, ctx.scheme, ctx.authority);
      }
      return headers;
    },
    set: set === undefined ? undefined : function (this: Forwardable, value: unknown) {
      set.call(this, value);
    },
  });
  Object.defineProperty(target, kLazyForwarding, { value: true });
}

makeForwardingLazy(KirinIncomingMessage.prototype, Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'headers'));

/** Makes the request carry Kirin's forwarding headers: lazily where the request class allows, at once otherwise. */
export function applyForwarding(ctx: RequestContext): void {
  const req = ctx.req as unknown;
  // KirinIncomingMessage here, KirinHttp2ServerRequest (tls/http2-request.ts) for HTTP/2, when Node's getter allowed it.
  if ((req as { [kLazyForwarding]?: true })[kLazyForwarding] === true) (req as Forwardable)[kForward] = ctx;
  else setForwardedHeaders(ctx.req.headers, ctx.clientIp, ctx.scheme, ctx.authority);
}

/**
 * Applies Kirin's forwarding headers now, if they wait for the first read of
 * `req.headers`: for apps that replace the request's prototype (Express sets
 * it to its `app.request`, built on node:http's IncomingMessage) and so would
 * read the headers past Kirin's getter, as the client sent them.
 */
export function forwardNow(req: IncomingMessage): void {
  if ((req as unknown as Forwardable)[kForward] !== undefined) void req.headers;
}

export interface RequestHead {
  host: string | undefined;
  /** More than one Host field: the request is ambiguous (RFC 9112 §3.2: answer 400). */
  hostRepeated: boolean;
  contentLength: string | undefined;
  /** A Transfer-Encoding field is present: a body of unknown length follows. */
  chunked: boolean;
}

/** Host and Content-Length straight from the raw header list, without building `req.headers`. */
export function scanHead(rawHeaders: readonly string[], out: RequestHead): void {
  out.host = undefined;
  out.hostRepeated = false;
  out.contentLength = undefined;
  out.chunked = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4) {
      if (name === 'Host' || name.toLowerCase() === 'host') {
        if (out.host !== undefined) out.hostRepeated = true;
        out.host = rawHeaders[i + 1];
      }
    } else if (name.length === 14 && (name === 'Content-Length' || name.toLowerCase() === 'content-length')) {
      out.contentLength = rawHeaders[i + 1];
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      out.chunked = true;
    }
  }
}

/** One header's value from the raw list (first occurrence), by lower-case name; no `req.headers` needed. */
export function rawHeader(rawHeaders: readonly string[], lowerName: string): string | undefined {
  const length = lowerName.length;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === length && name.toLowerCase() === lowerName) return rawHeaders[i + 1];
  }
  return undefined;
}
